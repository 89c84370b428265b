"""No secret in any output: the key, every ``${NAME}`` value, a password in the API URL.

Distinctive values, every command and output form (text, JSON, markdown, saved plans,
step summaries, pulled files, reports, --debug logs), a webhook whose failing runs echo
its URL (token included) back in job errors, and a server that echoes request bodies in
its error messages. Redaction sits at the sinks (wfsync.redact), so this holds for
messages nobody wrote with secrets in mind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import FAST_JOBS
from wfsync.cli import main
from wfsync.emulator import EmulatorConfig
from wfsync.emulator.server import AppServer, EmulatorServer
from wfsync.redact import Secrets
from wfsync.target import shown_url

KEY = "key-7f3a9c20-distinct"
TOKEN = "tok-5e8d1b44-distinct"
TITLE_PART = "ttl-0c9e77aa-distinct"
PASSWORD = "pw-91ac44e3-distinct"
PLAIN_NAMED = "path-3d1f9a55-distinct"  # in a variable whose name says nothing of a secret
SECRETS = (KEY, TOKEN, TITLE_PART, PASSWORD, PLAIN_NAMED)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def assert_clean(text: str, where: object) -> None:
    for secret in SECRETS:
        assert secret not in text, (where, secret)


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_emulator: Any) -> EmulatorServer:
    server: EmulatorServer = start_emulator(
        EmulatorConfig(keys={KEY: frozenset({"workflows:read", "workflows:write"})}, timing=FAST_JOBS)
    )
    monkeypatch.chdir(tmp_path)
    host = server.url.removeprefix("http://")
    monkeypatch.setenv("WFSYNC_API_URL", f"http://robot:{PASSWORD}@{host}")
    monkeypatch.setenv("WFSYNC_API_KEY", KEY)
    monkeypatch.setenv("WFSYNC_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    monkeypatch.setenv("CAMPAIGN", TITLE_PART)
    monkeypatch.setenv("CRM_PATH", PLAIN_NAMED)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "w.yaml").write_text(
        "workflows:\n"
        "  - title: Lead follow-up\n"
        # A host ending in .invalid: its runs fail, and the job error quotes the URL.
        "    webhook: {url: 'https://hooks.example.invalid/h/${HOOK_TOKEN}'}\n"
        "    callbackUrl: 'https://crm.example.com/${CRM_PATH}/cb?token=${HOOK_TOKEN}'\n"
        "  - title: Campaign\n"
        "    endCall: {phrases: ['bye ${CAMPAIGN}']}\n",
        encoding="utf-8",
    )
    return server


COMMANDS = [
    ["validate"],
    ["plan", "--debug"],
    ["plan", "--debug", "--json", "--out", "plan.json"],
    ["plan", "--debug", "--markdown"],
    ["apply", "--debug", "--auto-approve", "--plan", "plan.json", "--json"],
    ["apply", "--debug", "--auto-approve", "--smoke", "--smoke-timeout", "10"],
    ["pull", "pulled", "--debug", "--force"],
    ["run", "Lead follow-up", "--debug", "--wait", "--timeout", "10"],
    ["jobs", "Lead follow-up", "--debug"],
    ["jobs", "Lead follow-up", "--json"],
    ["cancel", "Lead follow-up", "--debug"],
    ["summary", "Lead follow-up", "--debug"],
    ["summary", "Lead follow-up", "--timeline", "--json"],
    ["summary", "Lead follow-up", "--report", "--out", "report.json"],
    ["summary", "Lead follow-up", "--report"],
    ["summary", "Lead follow-up", "--report", "--json"],
]


def test_no_secret_in_any_output_of_any_command(account: EmulatorServer, tmp_path: Path) -> None:
    outputs = {}
    for args in COMMANDS:
        result = invoke(*args)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert_clean(result.output, args)
        outputs[" ".join(args)] = result.output
    # The runs really failed quoting the webhook, and the plan shows where the secret goes.
    assert "${HOOK_TOKEN}" in outputs["run Lead follow-up --debug --wait --timeout 10"]
    assert "https://hooks.example.invalid/h/${HOOK_TOKEN}" in outputs["plan --debug"]
    assert "bye ${CAMPAIGN}" in outputs["plan --debug"]
    assert "http://***@127.0.0.1:" in outputs["plan --debug"], "the URL shown without its credentials"
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".db":
            assert_clean(path.read_text(encoding="utf-8", errors="replace"), path)
    saved = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert "${HOOK_TOKEN}" in json.dumps(saved)


def echo_app() -> Starlette:
    """A server that refuses every write, quoting the request body back (as some do)."""

    async def echo(request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse({"data": [], "pagination": {"total": 0}})
        body = (await request.body()).decode()
        return JSONResponse(
            {"message": [f"invalid body: {body}"], "echo": request.headers.get("x-api-key")}, 400
        )

    return Starlette(routes=[Route("/v1/workflows", echo, methods=["GET", "POST"])])


def test_a_server_echoing_the_request_cannot_make_wfsync_print_a_secret(
    account: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with AppServer(echo_app()) as server:
        host = server.url.removeprefix("http://")
        monkeypatch.setenv("WFSYNC_API_URL", f"http://robot:{PASSWORD}@{host}")
        result = invoke("apply", "--auto-approve", "--debug")
    assert result.exit_code == 1
    assert "400 Bad Request: invalid body:" in result.output and "${HOOK_TOKEN}" in result.output
    assert_clean(result.output, "echo")


def test_validate_never_shows_a_value_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZONE", TOKEN)
    monkeypatch.setenv("CAMPAIGN", TITLE_PART * 20)  # too long a title
    Path("w.yaml").write_text(
        "workflows:\n  - title: '${CAMPAIGN}'\n    schedules:\n"
        "      - {scheduledDate: '2027-01-01T00:00:00Z', timezone: '${ZONE}'}\n",
        encoding="utf-8",
    )
    for output in ("text", "json", "github"):
        result = invoke("validate", "w.yaml", "--format", output)
        assert result.exit_code == 1 and "w.yaml" in result.output
        assert_clean(result.output, output)


def test_the_registry_masks_every_form() -> None:
    secrets = Secrets()
    secrets.add("abc/def ghi", "${X}")
    secrets.add("abc", "${SHORT}")  # too short to mask: it would garble every line
    assert secrets.mask("a abc/def ghi b abc%2Fdef%20ghi") == "a ${X} b ${X}"
    assert shown_url("https://u:p@h.example:8443/x") == "https://***@h.example:8443/x"
    assert shown_url("https://ghp_t0ken@h.example/x") == "https://***@h.example/x", "a lone user is a token"


def test_files_under_dot_wfsync_are_the_owners_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stat

    monkeypatch.chdir(tmp_path)
    Path("w.yaml").write_text("workflows:\n  - title: A\n", encoding="utf-8")
    assert invoke("plan", "w.yaml", "--sandbox").exit_code == 0
    assert stat.S_IMODE(Path(".wfsync/sandbox.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(".wfsync").stat().st_mode) & 0o077 == 0
