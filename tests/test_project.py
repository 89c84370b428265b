"""Adoption: the README's commands run as shown, `init` scaffolds a working repository,
every command's help ends with an example."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from wfsync.cli import main

ROOT = Path(__file__).parent.parent
BIN = Path(sys.executable).parent


def shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL)


def runnable(block: str) -> str:
    """The block as a script. The set-up lines (a venv and pip install) are what CI itself
    runs; here the wfsync command at their end runs with the installed package."""
    lines = []
    for line in block.splitlines():
        if "-m venv" in line:
            tail = line.split("&& ")[-1]
            if "pytest" in tail:
                continue  # the test suite itself: this is it
            line = tail.replace(".venv/bin/", "")
        lines.append(line)
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_block(block: str, folder: Path) -> subprocess.CompletedProcess[str]:
    shutil.copytree(ROOT / "examples", folder / "examples")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WFSYNC_", "INDIGENIUS_", "CRM_", "LEAD_"))
    }
    env |= {
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "HOME": str(folder),
        "WFSYNC_LOCK_DIR": str(folder / "locks"),
        "NO_COLOR": "1",
    }
    script = "set -euo pipefail\n" + runnable(block).replace("8787", str(free_port()))
    return subprocess.run(
        ["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


README_BLOCKS = shell_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
EXAMPLE_BLOCKS = shell_blocks((ROOT / "examples" / "README.md").read_text(encoding="utf-8"))


def test_the_readme_has_its_commands() -> None:
    assert len(README_BLOCKS) >= 5 and EXAMPLE_BLOCKS


@pytest.mark.parametrize(
    "block",
    README_BLOCKS + EXAMPLE_BLOCKS,
    ids=[b.splitlines()[0][:40] for b in README_BLOCKS + EXAMPLE_BLOCKS],
)
def test_every_readme_command_runs_as_shown(block: str, tmp_path: Path) -> None:
    done = run_block(block, tmp_path)
    assert done.returncode == 0, f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert "Traceback" not in done.stderr


def test_the_tour_ends_in_sync(tmp_path: Path) -> None:
    (tour,) = [b for b in README_BLOCKS if b.startswith("wfsync init tour")]
    done = run_block(tour, tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Plan: 1 to create, 0 to update, 0 to cancel, 1 to schedule, 0 to delete." in out
    assert "Apply complete: 1 created, 0 updated, 0 cancelled, 1 scheduled, 0 deleted, 0 failed." in out
    assert "completed." in out and "totalJobs" in out
    assert out.rstrip().endswith("No changes: the live workflows match the definitions.")


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
