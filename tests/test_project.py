"""Adoption: `init` scaffolds a working repository, every command's help ends with an
example (the README's commands: tests/test_readme.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from wfsync.cli import main

ROOT = Path(__file__).parent.parent


def test_init_scaffolds_a_working_repository(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "repo")], catch_exceptions=False)
    assert result.exit_code == 0
    repo = tmp_path / "repo"
    # The pipeline itself is tested in tests/test_scaffold.py and tests/test_pipeline.py.
    ci = yaml.safe_load((repo / ".github/workflows/wfsync.yml").read_text(encoding="utf-8"))
    assert set(ci["jobs"]) >= {"validate", "plan", "apply", "drift"}
    hooks = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert hooks["repos"][0]["hooks"][0]["id"] == "wfsync-validate"
    example = (repo / "workflows/example.yaml").read_text(encoding="utf-8")
    assert example.startswith("# yaml-language-server: $schema=../schemas/definitions.schema.json")
    assert (repo / "schemas/definitions.schema.json").exists() and (
        repo / "schemas/workflow.schema.json"
    ).exists()
    again = CliRunner().invoke(main, ["init", str(repo)])
    assert again.exit_code == 1 and "nothing was written" in again.output
    assert re.match(r"Error: \d+ files exist already in", again.output)
    assert (repo / "workflows/example.yaml").read_text(encoding="utf-8") == example


def test_every_command_help_ends_with_an_example() -> None:
    for name in main.commands:  # type: ignore[attr-defined]
        result = CliRunner().invoke(main, [name, "--help"], catch_exceptions=False)
        assert result.exit_code == 0, name
        text = result.output.split("Options:")[0]
        assert "Example:" in text and "wfsync " in text.split("Example:")[1], name
    assert "Example:" in CliRunner().invoke(main, ["--help"]).output


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion(shell: str) -> None:
    result = CliRunner().invoke(main, ["completion", shell], catch_exceptions=False)
    assert result.exit_code == 0 and "_WFSYNC_COMPLETE" in result.output


def test_the_pre_commit_hook_is_offered() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "wfsync-validate" and hook["entry"] == "wfsync validate"
