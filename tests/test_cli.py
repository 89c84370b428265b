"""The command line as a user meets it: help, version, and the emulator command."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from wfsync import __version__
from wfsync.cli import main


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"], catch_exceptions=False)
    assert result.exit_code == 0 and result.output == f"wfsync, version {__version__}\n"


def test_python_dash_m_works() -> None:
    done = subprocess.run([sys.executable, "-m", "wfsync", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and __version__ in done.stdout


def test_help_lists_commands_and_ends_with_an_example() -> None:
    result = CliRunner().invoke(main, ["emulator", "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "--fault SPEC" in result.output and "--key KEY=SCOPES" in result.output
    assert "Example:" in result.output


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from wfsync.cli import main; print(sorted(m for m in ('httpx', 'starlette', "
        "'uvicorn', 'jsonschema', 'deepdiff', 'yaml') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_bad_fault_is_one_line_and_exit_1() -> None:
    result = CliRunner().invoke(main, ["emulator", "--fault", "500=lots"])
    assert result.exit_code == 1
    assert result.output == "Error: fault 500: 'lots' is not a share such as 0.1 or 10%\n"


def test_a_port_in_use_is_a_clear_error() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["emulator", "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")


def test_ctrl_c_stops_the_emulator_cleanly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "wfsync", "emulator", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stderr is not None
    first = process.stderr.readline()
    match = re.search(r"listening on (http://\S+)", first)
    assert match, first
    # Serving: the socket is bound before that line, so this waits for the first answer.
    assert httpx.get(match.group(1) + "/v1/workflows", timeout=30).status_code == 401
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=10)
    assert process.returncode == 0 and rest.strip().endswith("wfsync emulator stopped")
    assert "Traceback" not in rest


KEY = "sk-emulator-reader-7f3a9c"


def test_the_emulator_serves_until_sigterm(tmp_path: object) -> None:
    """`wfsync emulator` as a separate process: it answers, keeps its db file, and stops cleanly."""
    db = os.path.join(str(tmp_path), "state", "emulator.db")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wfsync",
            "emulator",
            "--port",
            "0",
            "--db",
            db,
            "--key",
            f"{KEY}=workflows:read",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        match = re.search(r"listening on (http://\S+)", first)
        assert match, first
        url = match.group(1)
        deadline = time.monotonic() + 10
        while True:
            try:
                response = httpx.get(url + "/v1/workflows", headers={"X-API-Key": KEY})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert response.status_code == 200
        assert (
            httpx.post(url + "/v1/workflows", json={"title": "t"}, headers={"X-API-Key": KEY}).status_code
            == 403
        )
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
        assert process.stderr is not None
        printed = first + process.stderr.read()
        process.stderr.close()
    assert KEY not in printed and "keys: 1 configured with --key" in printed, "a --key is never printed"
    # uvicorn shuts down gracefully, then ends by the signal, as Unix servers do.
    assert code == -signal.SIGTERM
    assert os.path.exists(db)


def write_definitions(folder: str, text: str) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "w.yaml"), "w", encoding="utf-8") as handle:
        handle.write(text)


BROKEN = "workflows:\n  - titel: Lead follow-up\n    callbackUrl: nope\n"


def test_validate_ok(tmp_path: object, monkeypatch: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    write_definitions("workflows", "workflows:\n  - title: a\n  - title: b\n")
    result = CliRunner().invoke(main, ["validate"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output == "2 workflows in 1 file: valid\n"


def test_validate_reports_every_problem_sorted(tmp_path: object, monkeypatch: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    write_definitions("defs", BROKEN)
    result = CliRunner().invoke(main, ["validate", "defs"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "defs/w.yaml:2:5: property titel should not exist (did you mean 'title'?)",
        "defs/w.yaml:2:5: title is required",
        "defs/w.yaml:3:18: callbackUrl must be an absolute http(s) URL, not 'nope'",
        "3 problems found",
    ]


def test_validate_github_annotations(tmp_path: object, monkeypatch: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    write_definitions("defs", BROKEN)
    result = CliRunner().invoke(main, ["validate", "defs", "--format", "github"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "::error file=defs/w.yaml,line=2,col=5::property titel should not exist (did you mean 'title'?)"
    )


def test_validate_json(tmp_path: object, monkeypatch: object) -> None:
    import json

    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    write_definitions("defs", BROKEN)
    result = CliRunner().invoke(main, ["validate", "defs", "--format", "json"], catch_exceptions=False)
    report = json.loads(result.output.split("\n3 problems found")[0])
    assert result.exit_code == 1 and report["valid"] is False
    assert report["problems"][2] == {
        "file": "defs/w.yaml",
        "line": 3,
        "column": 18,
        "message": "callbackUrl must be an absolute http(s) URL, not 'nope'",
    }


def test_validate_takes_paths_from_the_settings_file(tmp_path: object, monkeypatch: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    write_definitions("elsewhere", "workflows:\n  - title: a\n")
    with open("wfsync.yaml", "w") as handle:
        handle.write("paths: [elsewhere]\n")
    result = CliRunner().invoke(main, ["validate"], catch_exceptions=False)
    assert result.exit_code == 0 and result.output == "1 workflow in 1 file: valid\n"


def test_a_bad_settings_file_is_reported_with_its_place(tmp_path: object, monkeypatch: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    with open("wfsync.yaml", "w") as handle:
        handle.write("paths: [workflows]\nprotekt: [x]\n")
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 1
    assert (
        result.output
        == "Error: wfsync.yaml:2:1: property protekt should not exist (did you mean 'protect'?)\n"
    )


def test_file_system_and_database_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folders that cannot be made and databases that cannot be opened: an error, no traceback."""
    cases = (
        (["init", "blocker/new"], "Error: blocker/new/workflows: Not a directory"),
        (["pull", "blocker/out", "--sandbox"], "Error: blocker/out: Not a directory"),
        (["plan", "w.yaml", "--sandbox"], "Error: .wfsync: File exists"),
    )
    for number, (args, expected) in enumerate(cases):
        folder = tmp_path / str(number)
        folder.mkdir()
        monkeypatch.chdir(folder)
        Path("blocker").write_text("a file where a folder should be", encoding="utf-8")
        Path("w.yaml").write_text("workflows:\n  - title: a\n", encoding="utf-8")
        if args[0] == "plan":
            Path(".wfsync").write_text("a file where the sandbox folder should be", encoding="utf-8")
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and result.output == expected + "\n", (args, result.output)
    Path("bad.db").write_text("this is not a SQLite database, but it is long enough" * 40, encoding="utf-8")
    result = CliRunner().invoke(main, ["emulator", "--db", "bad.db", "--port", "0"])
    assert result.exit_code == 1 and result.output.startswith("Error: the emulator's database: ")


def test_a_missing_path_is_named_without_a_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["validate"])
    assert (
        result.exit_code == 1 and result.output == "workflows: no such file or directory\n1 problem found\n"
    )
    github = CliRunner().invoke(main, ["validate", "nope", "--format", "github"])
    assert github.output.splitlines()[0] == "::error file=nope::no such file or directory"


def test_validate_warns_of_titles_a_review_misreads_and_passes(tmp_path: object, monkeypatch: object) -> None:
    """Legal, likely a mistake: a title that differs from another only in case (a server may
    refuse it), one holding a character a review does not show as written. Warned of in
    every form, at its place; validate still passes."""
    import json

    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    write_definitions(
        "defs",
        "workflows:\n  - title: Lead follow-up\n  - title: lead follow-up\n"
        '  - title: "Bell \\a"\n  - title: "abc\\u202Edef"\n  - title: Café\n',
    )
    runner = CliRunner()
    text = runner.invoke(main, ["validate", "defs"], catch_exceptions=False)
    assert text.exit_code == 0 and text.stdout == ""
    assert text.stderr.splitlines() == [
        "defs/w.yaml:3:12: warning: title 'lead follow-up' differs only in case from 'Lead follow-up' "
        "(defs/w.yaml:2:12): a server that keeps titles unique ignoring case refuses one of them",
        "defs/w.yaml:4:12: warning: title 'Bell \\x07' holds U+0007, a control character: "
        "what a review shows is not what is sent",
        "defs/w.yaml:5:12: warning: title 'abc\\u202edef' holds U+202E, a bidirectional control: "
        "what a review shows is not what is sent",
        "5 workflows in 1 file: valid",
    ]
    github = runner.invoke(main, ["validate", "defs", "--format", "github"], catch_exceptions=False)
    assert github.exit_code == 0
    assert github.stdout.splitlines()[0].startswith("::warning file=defs/w.yaml,line=3,col=12::title 'lead")
    report = json.loads(runner.invoke(main, ["validate", "defs", "--format", "json"]).stdout)
    assert report["valid"] is True and report["problems"] == []
    assert [(w["line"], w["column"]) for w in report["warnings"]] == [(3, 12), (4, 12), (5, 12)]
