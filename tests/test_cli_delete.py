"""``wfsync delete --id ID``: shows what it deletes, asks for `yes` typed out at a real
terminal (one Ctrl-C aborts), needs --yes elsewhere, refuses ids that are not ids."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.terminal import Terminal
from wfsync.cli import main
from wfsync.emulator import DEV_KEY
from wfsync.emulator.server import EmulatorServer

BODY = {"title": "Leads", "callbackUrl": "https://crm.example.com/hooks/1"}


@pytest.fixture
def api_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> EmulatorServer:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_URL", emulator.url)
    monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
    return emulator


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def two_of_a_title(server: EmulatorServer) -> tuple[str, str]:
    first = server.store.create_workflow(dict(BODY))
    second = server.store.create_workflow(dict(BODY))
    server.store.schedule_run(second["id"], 4_100_000_000, "GMT_plus_2")
    return first["id"], second["id"]


def live_ids(server: EmulatorServer) -> set[str]:
    return {w["id"] for w in server.store.list_workflows(0, 100)[0]}


def test_with_yes_it_shows_what_it_deletes_then_deletes(api_env: EmulatorServer) -> None:
    keep, gone = two_of_a_title(api_env)
    result = cli("delete", "--id", gone, "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"This deletes the live workflow 'Leads' (id {gone}) at {api_env.url}.",
        "Its 1 unfinished run will be cancelled with it:",
        *[line for line in result.output.splitlines() if line.startswith("  - job")],
        f"Kept: the other live workflow titled 'Leads' (id {keep}).",
        f"Deleted 'Leads' (id {gone}).",
    ]
    assert "scheduled for 2099-12-03T16:53:20.000Z" in result.output
    assert live_ids(api_env) == {keep}


def test_without_a_terminal_it_needs_yes(api_env: EmulatorServer) -> None:
    keep, gone = two_of_a_title(api_env)
    result = CliRunner().invoke(main, ["delete", "--id", gone])
    assert result.exit_code == 1
    assert result.output == "Error: refusing to delete without confirmation: not a terminal; pass --yes\n"
    assert live_ids(api_env) == {keep, gone}


@pytest.mark.parametrize("bad", ["../etc", "a/b", "x?y=1", "", "..", "a b", "%2e%2e"])
def test_an_id_that_could_leave_its_path_is_refused(api_env: EmulatorServer, bad: str) -> None:
    result = CliRunner().invoke(main, ["delete", "--id", bad, "--yes"])
    assert result.exit_code == 1 and "is not a workflow id" in result.output
    assert api_env.served == {}  # refused before any request


def test_an_unknown_id_is_a_clear_error(api_env: EmulatorServer) -> None:
    result = CliRunner().invoke(main, ["delete", "--id", "65f000000000000000000000", "--yes"])
    assert result.exit_code == 1
    assert (
        result.output == f"Error: no live workflow has the id '65f000000000000000000000' at {api_env.url}\n"
    )


def at_a_terminal(server: EmulatorServer, *args: str) -> Terminal:
    env = dict(os.environ, WFSYNC_API_URL=server.url, WFSYNC_API_KEY=DEV_KEY, NO_COLOR="1")
    return Terminal([sys.executable, "-m", "wfsync", *args], env=env)


def test_at_a_terminal_yes_typed_out_deletes(api_env: EmulatorServer) -> None:
    keep, gone = two_of_a_title(api_env)
    with at_a_terminal(api_env, "delete", "--id", gone) as term:
        term.expect("Only 'yes' will be accepted to approve.\r\n  Enter a value: ")
        assert live_ids(api_env) == {keep, gone}
        term.send("yes\r")
        assert term.wait() == 0
    assert f"Delete 'Leads' (id {gone})?" in term.text and f"Deleted 'Leads' (id {gone})." in term.text
    assert live_ids(api_env) == {keep}


@pytest.mark.parametrize("answer", ["y\r", "\r", "no\r"])
def test_at_a_terminal_anything_but_yes_deletes_nothing(api_env: EmulatorServer, answer: str) -> None:
    keep, gone = two_of_a_title(api_env)
    with at_a_terminal(api_env, "delete", "--id", gone) as term:
        term.expect("Enter a value: ")
        term.send(answer)
        assert term.wait() == 1
    assert "Error: delete cancelled: nothing was changed" in term.text
    assert live_ids(api_env) == {keep, gone}


def test_at_a_terminal_one_ctrl_c_aborts_with_130(api_env: EmulatorServer) -> None:
    keep, gone = two_of_a_title(api_env)
    with at_a_terminal(api_env, "delete", "--id", gone) as term:
        term.expect("Enter a value: ")
        term.send("\x03")
        assert term.wait() == 130
    assert "Error: interrupted: nothing was changed" in term.text and "Traceback" not in term.text
    assert live_ids(api_env) == {keep, gone}
