"""Settings: environments merged over the top level, where the file is found, selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfsync.config import Environment, Safety, Settings, find_settings, load_settings, select_environments
from wfsync.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures" / "config"
KINDS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())

AGENCY = """\
paths: [workflows]
protect: ["Emergency *"]
safety: {max_delete_share: 0.3, min_existing: 5}
api_url: https://api.indigenius.ai
vars: {HOOK_HOST: hooks.example.com, REGION: eu}
environments:
  staging:
    api_url: https://staging.indigenius.ai
    api_key_env: STAGING_WFSYNC_KEY
    vars: {HOOK_HOST: staging-hooks.example.com}
  acme:
    api_key_env: ACME_WFSYNC_KEY
    only: ["Acme *", "Lead follow-up"]
    protect: ["Billing *", "Emergency *"]
    safety: {max_delete_share: 0.1}
  prod-eu: {api_key_env: PROD_EU_KEY}
  prod-us: {api_key_env: PROD_US_KEY}
"""


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_settings_mistake_is_reported_where_it_is(kind: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(FIXTURES / kind / "wfsync.yaml")
    expected = (FIXTURES / kind / "expected.txt").read_text(encoding="utf-8")
    shown = str(caught.value).replace(str(FIXTURES / kind) + "/", "")
    assert shown + "\n" == expected


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_environments_merge_over_the_top_level_in_the_order_written(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "wfsync.yaml", AGENCY))
    assert [env.name for env in settings.environments] == ["staging", "acme", "prod-eu", "prod-us"]
    staging, acme, prod_eu, _ = settings.environments
    assert staging.api_url == "https://staging.indigenius.ai" and staging.api_key_env == "STAGING_WFSYNC_KEY"
    assert staging.vars == {"HOOK_HOST": "staging-hooks.example.com", "REGION": "eu"}, "an env's vars win"
    assert acme.api_url == "https://api.indigenius.ai", "the top-level api_url when the env has none"
    assert acme.vars == {"HOOK_HOST": "hooks.example.com", "REGION": "eu"}
    assert acme.protect == ("Emergency *", "Billing *"), "adds to the top-level protect, once each"
    assert acme.safety == Safety(max_delete_share=0.1, max_update_share=0.3, min_existing=5)
    assert staging.protect == ("Emergency *",) and staging.safety == settings.safety
    assert acme.only == ("Acme *", "Lead follow-up") and prod_eu.only == ()
    assert settings.vars == {"HOOK_HOST": "hooks.example.com", "REGION": "eu"}


def test_only_is_the_titles_an_account_manages() -> None:
    acme = Environment("acme", only=("Acme *", "Lead follow-up"))
    assert acme.manages("Acme reminder") and acme.manages("Lead follow-up")
    assert not acme.manages("Lead follow-up 2") and not acme.manages("acme reminder"), "case counts"
    assert Environment("all").manages("anything"), "no only: every workflow"


def test_select_environments_by_name_glob_and_star(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "wfsync.yaml", AGENCY))

    def names(*patterns: str) -> list[str | None]:
        return [env.name for env in select_environments(settings, patterns)]

    assert names("acme") == ["acme"]
    assert names("prod-*") == ["prod-eu", "prod-us"]
    assert names("*") == ["staging", "acme", "prod-eu", "prod-us"]
    assert names("prod-us", "staging", "prod-*") == ["staging", "prod-eu", "prod-us"], "written order, once"
    where = str(tmp_path / "wfsync.yaml")
    with pytest.raises(ConfigError) as caught:
        names("prod")
    assert (
        str(caught.value)
        == f"--env prod: no such environment; {where} defines staging, acme, prod-eu, prod-us"
    )
    with pytest.raises(ConfigError) as caught:
        names()
    assert str(caught.value) == (
        "choose the environments with --env NAME (a glob; '*' for all): "
        f"{where} defines staging, acme, prod-eu, prod-us"
    )


def test_default_env_is_what_no_env_selects(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "wfsync.yaml", AGENCY + "default_env: staging\n"))
    assert [env.name for env in select_environments(settings)] == ["staging"]
    assert [env.name for env in select_environments(settings, ["acme"])] == ["acme"], "--env wins"


def test_without_environments_there_is_one_implicit_account(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "wfsync.yaml", 'protect: ["B*"]\nvars: {A: "1"}\n'))
    (only,) = select_environments(settings)
    assert only == Environment(None, None, None, {"A": "1"}, (), ("B*",), Safety())
    with pytest.raises(ConfigError, match=r"^--env staging: no environments are defined in .*wfsync.yaml$"):
        select_environments(settings, ["staging"])
    with pytest.raises(
        ConfigError, match=r"^--env x: no environments are defined \(there is no wfsync.yaml\)$"
    ):
        select_environments(Settings(), ["x"])


def test_the_settings_are_found_in_the_nearest_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "repo" / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(tmp_path / "repo" / "wfsync.yaml", "paths: [workflows]\n")
    deep = tmp_path / "repo" / "workflows" / "team"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_settings() == "../../wfsync.yaml"
    settings = load_settings()
    assert settings.source == "../../wfsync.yaml"
    assert settings.paths == ("../../workflows",), "paths are relative to the settings file"
    assert settings.root == "../.."


def test_the_search_stops_at_the_git_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A settings file of an enclosing folder must not steer a repository inside it."""
    write(tmp_path / "wfsync.yaml", "api_url: https://production.example.com\n")
    write(tmp_path / "inner" / ".git", "gitdir: /elsewhere/.git/worktrees/inner\n")  # a worktree
    (tmp_path / "inner" / "workflows").mkdir()
    monkeypatch.chdir(tmp_path / "inner" / "workflows")
    assert find_settings() is None
    assert load_settings() == Settings()
    monkeypatch.chdir(tmp_path)
    assert find_settings() == "wfsync.yaml"


def test_both_settings_names_in_one_folder_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "wfsync.yaml", "{}\n")
    write(tmp_path / "wfsync.yml", "{}\n")
    write(tmp_path / ".git" / "HEAD", "")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"both wfsync\.yaml and wfsync\.yml; keep one"):
        load_settings()


def test_config_names_the_file_and_its_paths_are_relative_to_it(tmp_path: Path) -> None:
    file = write(tmp_path / "conf" / "wfsync.yaml", "paths: [defs, ../shared]\n")
    settings = load_settings(file)
    assert settings.paths == (str(tmp_path / "conf" / "defs"), str(tmp_path / "shared"))
    assert settings.root == str(tmp_path / "conf")
