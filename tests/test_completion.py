"""Shell completion of workflow titles (from the definitions) for run, jobs, cancel, summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from wfsync.cli import main

DEFINITIONS = """\
workflows:
  - title: Lead follow-up
    callbackUrl: https://x.example.com/${SECRET_NOT_SET}
  - title: Lead qualification
  - title: Payment reminder
"""


def complete(shell: str, words: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {"_WFSYNC_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    result = CliRunner(env=env).invoke(main, [], prog_name="wfsync", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    if shell == "bash":
        return [line.split(",", 1)[1] for line in result.output.splitlines()]
    if shell == "zsh":
        return result.output.splitlines()[1::3]
    return [line.split(",", 1)[1] for line in result.output.splitlines()]  # fish: type,value


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "sales.yaml").write_text(DEFINITIONS, encoding="utf-8")
    (tmp_path / "workflows" / "broken.yaml").write_text("workflows: [\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("command", ["run", "jobs", "cancel", "summary"])
def test_titles_complete_from_the_definitions(
    project: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    assert complete("zsh", f"wfsync {command} le", monkeypatch) == ["Lead follow-up", "Lead qualification"]
    assert complete("zsh", f"wfsync {command} ", monkeypatch) == [
        "Lead follow-up",
        "Lead qualification",
        "Payment reminder",
    ]


def test_bash_gets_them_quoted(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert complete("bash", "wfsync run Pay", monkeypatch) == ["'Payment reminder'"]


def test_the_settings_paths_are_used(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "workflows").rename(project / "defs")
    (project / "wfsync.yaml").write_text("paths: [defs]\n", encoding="utf-8")
    assert complete("zsh", "wfsync cancel Pay", monkeypatch) == ["Payment reminder"]


def test_no_definitions_complete_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert complete("zsh", "wfsync run ", monkeypatch) == []
