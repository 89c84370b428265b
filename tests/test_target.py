"""Targets: which URL wins, which variable holds an environment's key, whose sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wfsync.config import Environment, Settings, load_settings
from wfsync.errors import ConfigError
from wfsync.target import DEFAULT_API_URL, open_target, resolve_api_url, sandbox_db, shown_url

KEY = "wfk-7d1e-staging-only"  # distinctive: asserted absent from every message


def target(flag: str | None = None, **kwargs: object) -> tuple[str, str, str, str | None]:
    with open_target(flag, **kwargs) as opened:  # type: ignore[arg-type]
        return opened.url, opened.name, opened.key, opened.environment


@pytest.mark.parametrize(
    ("flag", "configured", "variable", "expected"),
    [
        (None, None, None, DEFAULT_API_URL),
        (None, None, "https://env.example.com/", "https://env.example.com"),
        (None, "https://settings.example.com", None, "https://settings.example.com"),
        (
            None,
            "https://settings.example.com",
            "https://SETTINGS.example.com/",
            "https://settings.example.com",
        ),
        (None, "https://settings.example.com", "", "https://settings.example.com"),  # CI: unset is ""
        (
            "https://flag.example.com",
            "https://settings.example.com",
            "https://env.example.com",
            "https://flag.example.com",
        ),
        ("https://flag.example.com", None, None, "https://flag.example.com"),
    ],
)
def test_url_precedence(
    flag: str | None, configured: str | None, variable: str | None, expected: str
) -> None:
    env = {"WFSYNC_API_URL": variable} if variable is not None else {}
    assert resolve_api_url(flag, configured=configured, env=env) == expected


def test_settings_and_the_variable_disagreeing_without_a_flag_is_an_error_naming_both() -> None:
    env = {"WFSYNC_API_URL": "https://api.indigenius.ai", "STAGING_KEY": KEY}
    staging = Environment("staging", api_url="https://staging.example.com", api_key_env="STAGING_KEY")
    settings = Settings(source="conf/wfsync.yaml", environments=(staging,))
    with pytest.raises(ConfigError) as caught:
        target(environment=staging, settings=settings, env=env)
    assert str(caught.value) == (
        "two API URLs: conf/wfsync.yaml (environment 'staging') says https://staging.example.com but "
        "WFSYNC_API_URL is https://api.indigenius.ai; pass --api-url to choose, or unset WFSYNC_API_URL"
    )
    flagged = target("https://api.indigenius.ai", environment=staging, settings=settings, env=env)
    assert flagged[0] == "https://api.indigenius.ai", "the flag wins"
    # The call shape the CLI used before environments: the same rule.
    with pytest.raises(ConfigError, match=r"two API URLs: the settings says https://a\.example\.com but"):
        target(
            configured_url="https://a.example.com",
            env={"WFSYNC_API_URL": "https://b.example.com", "WFSYNC_API_KEY": KEY},
        )


def test_an_environment_key_comes_from_its_own_variable_only() -> None:
    acme = Environment("acme", api_key_env="ACME_WFSYNC_KEY")
    assert target(environment=acme, env={"ACME_WFSYNC_KEY": KEY, "WFSYNC_API_KEY": "other"})[2:] == (
        KEY,
        "acme",
    )
    # The shared variable holding another account's key must never stand in for this one.
    for env, problem in (
        (
            {"WFSYNC_API_KEY": KEY},
            "no API key for environment 'acme': set ACME_WFSYNC_KEY in the environment",
        ),
        (
            {"ACME_WFSYNC_KEY": "", "WFSYNC_API_KEY": KEY},
            "no API key for environment 'acme': ACME_WFSYNC_KEY is empty (a CI secret that is not set "
            "expands to an empty value)",
        ),
    ):
        with pytest.raises(ConfigError) as caught:
            target(environment=acme, env=env)
        assert str(caught.value) == problem and KEY not in str(caught.value)


def test_without_api_key_env_the_key_is_wfsync_api_key_else_indigenius_api_key() -> None:
    assert target(env={"WFSYNC_API_KEY": KEY, "INDIGENIUS_API_KEY": "x"})[2] == KEY
    assert target(env={"WFSYNC_API_KEY": "", "INDIGENIUS_API_KEY": KEY})[2] == KEY
    with pytest.raises(ConfigError, match=r"^no API key: set WFSYNC_API_KEY"):
        target(env={"WFSYNC_API_KEY": ""})


def test_a_password_in_a_url_is_never_shown() -> None:
    secret_url = "https://deploy:pa55-w0rd-xyz@api.example.com"
    assert shown_url(secret_url) == "https://***@api.example.com"
    url, name, _, _ = target(secret_url, env={"WFSYNC_API_KEY": KEY})
    assert url == secret_url and name == "https://***@api.example.com", "plans record the name"
    with pytest.raises(ConfigError) as caught:
        target(
            configured_url=secret_url,
            env={"WFSYNC_API_URL": "https://other.example.com", "WFSYNC_API_KEY": KEY},
        )
    assert "pa55-w0rd-xyz" not in str(caught.value) and "https://***@api.example.com" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        target("ftp://u:pa55-w0rd-xyz@h", env={"WFSYNC_API_KEY": KEY})
    assert "pa55-w0rd-xyz" not in str(caught.value)


def test_each_environment_has_its_own_sandbox_under_the_project_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "wfsync.yaml").write_text("environments: {staging: {}, acme: {}}\n", encoding="utf-8")
    (tmp_path / "workflows").mkdir()
    monkeypatch.chdir(tmp_path / "workflows")
    settings = load_settings()
    staging, acme = settings.environments
    assert sandbox_db(None) == os.path.join(".wfsync", "sandbox.db")
    assert sandbox_db(acme, settings.root) == os.path.join("..", ".wfsync", "sandbox-acme.db")
    url, name, _, environment = target(sandbox=True, environment=staging, settings=settings, env={})
    assert url.startswith("http://127.0.0.1:") and environment == "staging"
    assert name == f"sandbox:{os.path.join('..', '.wfsync', 'sandbox-staging.db')}"
    assert (tmp_path / ".wfsync" / "sandbox-staging.db").is_file()
    assert not (tmp_path / ".wfsync" / "sandbox.db").exists(), "environments never share state"


def test_with_environments_defined_a_command_without_env_takes_default_env_or_fails(tmp_path: Path) -> None:
    file = tmp_path / "wfsync.yaml"
    file.write_text("environments:\n  staging: {api_key_env: STAGING_KEY}\n  acme: {}\n", encoding="utf-8")
    settings = load_settings(file)
    env = {"WFSYNC_API_KEY": "shared-key", "STAGING_KEY": KEY}
    with pytest.raises(ConfigError) as caught:
        target(settings=settings, configured_url=settings.api_url, env=env)
    assert str(caught.value) == (
        f"choose the environments with --env NAME (a glob; '*' for all): {file} defines staging, acme"
    )
    file.write_text(file.read_text(encoding="utf-8") + "default_env: staging\n", encoding="utf-8")
    settings = load_settings(file)
    assert target(settings=settings, env=env)[2:] == (KEY, "staging")
