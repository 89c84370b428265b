"""Abuse: the key never shows, a server answering garbage gets a clear error in time,
hostile definitions are handled. Never a traceback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from wfsync.cli import main
from wfsync.definitions import DefinitionError, load_definitions
from wfsync.emulator import EmulatorConfig
from wfsync.emulator.server import AppServer, EmulatorServer

KEY = "sk-live-abuse-5f4e3d2c1b"
OTHER_KEY = "sk-live-wrong-0a9b8c7d"


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


# -- the key never appears ----------------------------------------------------------------------


@pytest.fixture
def keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_emulator: Any) -> EmulatorServer:
    server: EmulatorServer = start_emulator(
        EmulatorConfig(keys={KEY: frozenset({"workflows:read", "workflows:write"})})
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_URL", server.url)
    monkeypatch.setenv("WFSYNC_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("HOOK", "https://h.example.com/hook")
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "w.yaml").write_text(
        "workflows:\n  - title: Lead follow-up\n    webhook: {url: '${HOOK}'}\n", encoding="utf-8"
    )
    return server


COMMANDS = [
    ["validate"],
    ["plan", "--debug"],
    ["plan", "--debug", "--json", "--out", "plan.json"],
    ["plan", "--debug", "--markdown"],
    ["apply", "--debug", "--auto-approve", "--verify", "--smoke", "--smoke-timeout", "5"],
    ["apply", "--debug", "--auto-approve", "--plan", "plan.json"],
    ["pull", "pulled", "--debug", "--force"],
    ["run", "Lead follow-up", "--debug", "--wait", "--timeout", "5"],
    ["jobs", "Lead follow-up", "--debug"],
    ["job", "job_nope", "--debug"],
    ["cancel", "Lead follow-up", "--debug"],
    ["summary", "Lead follow-up", "--debug"],
    ["summary", "Lead follow-up", "--debug", "--timeline", "--json"],
    ["summary", "Lead follow-up", "--debug", "--report", "--out", "report.json"],
]


@pytest.mark.parametrize("key", [KEY, OTHER_KEY], ids=["accepted-key", "refused-key"])
def test_the_key_appears_in_no_output_of_any_command(keyed: EmulatorServer, key: str) -> None:
    for args in COMMANDS:
        result = invoke(*args, env={"WFSYNC_API_KEY": key})
        assert key not in result.output, args
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        if key == OTHER_KEY and args[0] != "validate" and "--plan" not in args:
            assert result.exit_code == 1 and "401 Unauthorized" in result.output, args
    for path in Path(".").rglob("*"):
        if path.is_file():
            assert key not in path.read_text(encoding="utf-8", errors="replace"), path


# -- a server answering garbage -----------------------------------------------------------------


async def endless_body() -> AsyncIterator[bytes]:
    yield b'{"data": ['
    while True:
        await asyncio.sleep(0.05)
        yield b" "


def garbage_app() -> Starlette:
    async def listing(request: Request) -> Response:
        mode = request.headers["x-api-key"].removeprefix("key-for-")
        if mode == "html":
            return Response("<html><body>Maintenance</body></html>", media_type="text/html")
        if mode == "truncated":
            return Response('{"data": [{"id": "a", "title": "x"', media_type="application/json")
        if mode == "wrong-shape":
            return JSONResponse({"data": {"workflows": "none"}})
        if mode == "numbers":
            return JSONResponse([1, 2, 3])
        if mode == "slow":
            return StreamingResponse(endless_body(), media_type="application/json")
        if mode == "proxy-502":
            return Response(
                "<html><head><title>502 Bad Gateway</title></head></html>", 502, media_type="text/html"
            )
        return Response("?", 418)

    return Starlette(routes=[Route("/v1/workflows", listing)])


@pytest.fixture(scope="module")
def garbage() -> Iterator[AppServer]:
    with AppServer(garbage_app()) as server:
        yield server


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("html", "the answer is not JSON (text/html): '<html><body>Maintenance</body></html>'"),
        ("truncated", "the answer is not JSON (application/json)"),
        ("wrong-shape", "expected a list, got dict"),
        ("numbers", "expected a workflow object, got int"),
        ("slow", "no answer: timed out (after 5 attempts)"),
        ("proxy-502", "502 Bad Gateway: an HTML page: 502 Bad Gateway (after 5 attempts)"),
    ],
)
def test_garbage_answers_are_clear_errors_in_time(
    garbage: AppServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("w.yaml").write_text("workflows:\n  - title: a\n", encoding="utf-8")
    started = time.monotonic()
    result = invoke(
        "plan",
        "w.yaml",
        "--api-url",
        garbage.url,
        env={"WFSYNC_API_KEY": f"key-for-{mode}", "WFSYNC_TIMEOUT": "0.4"},
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: GET /v1/workflows") and expected in result.output, result.output
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output
    assert time.monotonic() - started < 15


def test_nobody_listing_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("w.yaml").write_text("workflows:\n  - title: a\n", encoding="utf-8")
    result = invoke("plan", "w.yaml", "--api-url", "http://127.0.0.1:9", env={"WFSYNC_API_KEY": KEY})
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: GET /v1/workflows?page=1&limit=100: no answer: could not connect to"
    )


# -- hostile definitions ------------------------------------------------------------------------


def load(tmp_path: Path, text: str | bytes) -> Any:
    path = tmp_path / "w.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    try:
        return load_definitions([path], env={})
    except DefinitionError as exc:
        return exc


def test_a_huge_string_is_refused_without_being_echoed(tmp_path: Path) -> None:
    huge = "x" * 3_000_000
    error = load(tmp_path, f"workflows:\n  - title: a\n    callbackUrl: '{huge}'\n")
    assert isinstance(error, DefinitionError) and len(str(error)) < 500
    assert "callbackUrl must be at most 2048 characters long" in str(error)
    error = load(tmp_path, f"workflows:\n  - title: '{'t' * 100_000}'\n")
    assert "title must be at most 200 characters long" in str(error)


@pytest.mark.parametrize("depth", [100, 400, 800, 5000])
def test_deep_nesting_is_refused_cleanly(tmp_path: Path, depth: int) -> None:
    error = load(
        tmp_path, "workflows:\n  - title: x\n    endCall: {phrases: " + "[" * depth + "]" * depth + "}\n"
    )
    assert isinstance(error, DefinitionError)
    message = str(error)
    assert any(part in message for part in ("must be a string", "nesting too deep", "maximum nesting depth"))


def test_odd_unicode_is_kept_exactly(tmp_path: Path) -> None:
    titles = ["\u202eRTL override", "zero\u200bwidth", "emoji 🎉📞", "combining e\u0301", "𝔣𝔯𝔞𝔨𝔱𝔲𝔯"]  # noqa: RUF001  (look-alike letters, on purpose)
    text = "workflows:\n" + "".join(f"  - title: {json.dumps(t, ensure_ascii=False)}\n" for t in titles)
    definitions = load(tmp_path, text)
    assert [d.title for d in definitions] == titles


def test_control_characters_are_a_yaml_error_not_a_crash(tmp_path: Path) -> None:
    error = load(tmp_path, b"workflows:\n  - title: bell\x07here\n")
    assert isinstance(error, DefinitionError)
    assert "w.yaml:2:16: character U+0007 is not allowed in YAML" in str(error)


def test_many_files_of_nothing(tmp_path: Path) -> None:
    for n in range(200):
        (tmp_path / f"{n}.yaml").write_text("workflows: []\n", encoding="utf-8")
    assert load_definitions([tmp_path], env={}) == []


def test_a_huge_file_is_refused_by_its_size_never_read_whole(tmp_path: Path) -> None:
    import tracemalloc

    from wfsync.yamlsource import MAX_BYTES

    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as handle:  # a sparse 3 GiB file
        handle.truncate(3 * 1024**3)
    tracemalloc.start()
    try:
        with pytest.raises(DefinitionError) as caught:
            load_definitions([huge])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = f"huge.yaml:1:1: file is {3 * 1024**3:,} bytes, over the limit of {MAX_BYTES:,}"
    assert expected in str(caught.value)
    assert peak < 64 * 1024**2, "the file was never read whole"
