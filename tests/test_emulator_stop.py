"""A clean stop of the emulator leaves its database file alone: no -wal or -shm beside it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfsync.cli import main
from wfsync.emulator import DEV_KEY
from wfsync.emulator.server import EmulatorServer


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(("-wal", "-shm")))


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_wfsync_emulator_stopped_leaves_only_its_file(tmp_path: Path, stop: signal.Signals) -> None:
    db = tmp_path / "emulator.db"
    child = subprocess.Popen(
        [sys.executable, "-m", "wfsync", "emulator", "--port", "0", "--db", str(db)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stderr is not None
        line = child.stderr.readline()  # waits for the server to listen
        url = line.split("listening on ")[1].strip()
        request = urllib.request.Request(
            f"{url}/v1/workflows",
            data=json.dumps({"title": "Lead follow-up"}).encode(),
            headers={"X-API-Key": DEV_KEY, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 201
        assert leftovers(tmp_path)  # WAL mode while it runs
        child.send_signal(stop)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stderr:
            child.stderr.close()
    assert leftovers(tmp_path) == []
    with EmulatorServer(db=db) as again:  # and the state survived
        assert [w["title"] for w in again.store.list_workflows(0, 10)[0]] == ["Lead follow-up"]


def test_the_sandbox_leaves_only_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["jobs", "nothing", "--sandbox"])
    assert result.exit_code == 1 and "no workflow is titled 'nothing'" in result.output
    assert os.listdir(tmp_path / ".wfsync") == ["sandbox.db"]


def test_closing_twice_is_harmless(tmp_path: Path) -> None:
    server = EmulatorServer(db=tmp_path / "x.db").start()
    server.stop()
    server.store.close()
    assert leftovers(tmp_path) == []
