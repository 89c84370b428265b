"""`wfsync validate` with environments, variables and secrets: offline, per environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from wfsync.cli import main

SECRET = "hook-tok-5e7a-never-printed"

SETTINGS = """\
paths: [workflows]
vars: {HOOK_HOST: hooks.example.com}
environments:
  staging:
    api_key_env: STAGING_KEY
    only: ["Lead *"]
    vars: {HOOK_HOST: staging-hooks.example.com}
  acme:
    api_key_env: ACME_KEY
    only: ["Acme *"]
    vars: {ACME_ID: "4711"}
"""

DEFINITIONS = """\
workflows:
  - title: Lead follow-up
    callbackUrl: https://${var.HOOK_HOST}/hooks/lead
    webhook: {url: "https://${var.HOOK_HOST}/hooks/${HOOK_TOKEN}"}
  - title: Acme reminder
    callbackUrl: https://${var.HOOK_HOST}/acme/${var.ACME_ID}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "wfsync.yaml").write_text(SETTINGS, encoding="utf-8")
    (tmp_path / "workflows" / "team").mkdir(parents=True)
    (tmp_path / "workflows" / "team" / "calls.yaml").write_text(DEFINITIONS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOOK_TOKEN", raising=False)
    return tmp_path


def validate(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_every_environment_is_checked_offline(repo: Path) -> None:
    assert validate() == (0, "2 workflows in 1 file: valid for environments staging, acme\n")


def test_a_variable_missing_for_an_environment_that_manages_the_workflow(repo: Path) -> None:
    settings = SETTINGS.replace('    vars: {ACME_ID: "4711"}\n', "")
    (repo / "wfsync.yaml").write_text(settings, encoding="utf-8")
    code, output = validate()
    assert code == 1
    assert output == (
        "workflows/team/calls.yaml:6:18: variable ACME_ID is not defined for environment 'acme': "
        "add it to vars in wfsync.yaml\n"
        "1 problem found\n"
    ), "staging does not manage the Acme reminder: it needs no ACME_ID"
    assert validate("--env", "staging") == (0, "1 workflow in 1 file: valid for environment staging\n")


def test_env_selects_by_glob_and_names_the_defined_ones(repo: Path) -> None:
    assert validate("--env", "stag*") == (0, "1 workflow in 1 file: valid for environment staging\n")
    code, output = validate("--env", "prod")
    assert (
        code == 1 and output == "Error: --env prod: no such environment; wfsync.yaml defines staging, acme\n"
    )


def test_require_env_demands_each_secret_and_never_prints_it(repo: Path) -> None:
    code, output = validate("--require-env")
    assert code == 1 and output == (
        "workflows/team/calls.yaml:4:20: environment variable HOOK_TOKEN is not set\n1 problem found\n"
    )
    code, output = validate("--require-env", env={"HOOK_TOKEN": ""})
    assert code == 1 and "environment variable HOOK_TOKEN is empty" in output
    code, output = validate("--require-env", env={"HOOK_TOKEN": SECRET})
    assert code == 0 and SECRET not in output
    # A value that breaks the URL is reported by its reference, not its value.
    code, output = validate("--require-env", env={"HOOK_TOKEN": f"x {SECRET}"})
    assert (
        code == 1
        and SECRET not in output
        and "'https://staging-hooks.example.com/hooks/${HOOK_TOKEN}'" in output
    )


def test_validate_finds_the_settings_from_a_subfolder(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "workflows" / "team")
    (repo / "workflows" / "team" / "calls.yaml").write_text(
        DEFINITIONS.replace("${var.ACME_ID}", "${var.ACME_NUMBER}"), encoding="utf-8"
    )
    code, output = validate("--env", "acme")
    assert code == 1 and output.startswith(
        "../../workflows/team/calls.yaml:6:18: variable ACME_NUMBER is not defined for environment 'acme'"
    ), "the settings' paths are relative to the settings file"


def test_without_environments_the_top_level_vars_apply(repo: Path) -> None:
    (repo / "wfsync.yaml").write_text("vars: {HOOK_HOST: h.example.com, ACME_ID: '1'}\n", encoding="utf-8")
    assert validate() == (0, "2 workflows in 1 file: valid\n")
    code, output = validate("--env", "staging")
    assert code == 1 and output == "Error: --env staging: no environments are defined in wfsync.yaml\n"
