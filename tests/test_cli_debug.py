"""``--debug``: every request logged once (ours, not httpx's too), never the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from wfsync.cli import main
from wfsync.emulator.server import EmulatorServer

KEY = "debug-key-that-must-never-show-9f2c"


def test_each_request_is_logged_once_without_the_key(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wfsync.emulator import DEV_KEY

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_URL", emulator.url)
    monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
    emulator.store.create_workflow({"title": "Lead follow-up"})
    result = CliRunner().invoke(main, ["jobs", "Lead follow-up", "--debug"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    requests = [line for line in result.stderr.splitlines() if "/v1/workflows" in line]
    assert [line.split(" ", 4)[4] for line in requests] == [
        line.split(" ", 4)[4] for line in requests if line.split(" ")[2].startswith("wfsync.")
    ] and all(" DEBUG " in line for line in requests), "only wfsync's own line for each request"
    assert len(requests) == 2  # the listing, then the jobs
    assert DEV_KEY not in result.stderr


def test_the_key_never_shows_in_debug_output(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_URL", emulator.url)
    monkeypatch.setenv("WFSYNC_API_KEY", KEY)
    result = CliRunner().invoke(main, ["jobs", "Lead follow-up", "--debug"])
    assert result.exit_code == 1 and "401" in result.output + result.stderr
    assert KEY not in result.output + result.stderr


def test_the_top_level_help_shows_the_main_job() -> None:
    result = CliRunner().invoke(main, ["--help"], catch_exceptions=False)
    example = result.output.split("Example:")[1].split("Options:")[0]
    assert "wfsync plan " in example and "wfsync apply " in example
