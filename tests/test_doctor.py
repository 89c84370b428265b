"""``wfsync doctor`` against the emulator over loopback, in several dialects: the report,
the account left as it was, the recording (masked, and replayable by the emulator)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import FAST_JOBS
from wfsync import doctor
from wfsync.api import ApiClient
from wfsync.cli import main
from wfsync.doctor_probe import examine
from wfsync.doctor_writes import PROBE_TITLE
from wfsync.emulator.config import SCOPES, Dialect, EmulatorConfig, Faults, parse_dialect
from wfsync.emulator.server import EmulatorServer
from wfsync.errors import EmulatorConfigError

KEY = "sk-doctor-Zq81xKeyThatMustNeverShow"
READ_ONLY = "sk-doctor-ReadOnly-7b3fKeyNeverShown"
HOOK_SECRET = "hook-secret-4c9e1aa7"
FULL_DIALECT = (
    "envelope=items,id=_id,page-cap=3,total=no,errors=text,writes=update-result,"
    "titles=unique,defaults=yes,jobs=bullmq,offset=+05:30"
)
Start = Callable[..., EmulatorServer]


def config(spec: str = "") -> EmulatorConfig:
    keys = {KEY: SCOPES, READ_ONLY: frozenset({"workflows:read"})}
    return EmulatorConfig(keys=keys, dialect=parse_dialect([spec] if spec else []), timing=FAST_JOBS)


def seed(server: EmulatorServer, count: int) -> None:
    for n in range(count):
        server.store.create_workflow(
            {"title": f"Campaign {n}", "callbackUrl": f"https://crm.example.com/hooks/{HOOK_SECRET}/{n}"}
        )


def state(server: EmulatorServer) -> list[tuple[str, str]]:
    return sorted((w["id"], w["title"]) for w in server.store.list_workflows(0, 1 << 30)[0])


def run(*args: str, key: str = KEY) -> Result:
    return CliRunner().invoke(main, ["doctor", *args], env={"WFSYNC_API_KEY": key}, catch_exceptions=False)


def line(result: Result, topic: str) -> str:
    """Every finding on ``topic``: ``LEVEL TOPIC FOUND -> ACTION``, spaces collapsed."""
    lines = result.output.splitlines()
    found = []
    for n, text in enumerate(lines):
        words = " ".join(text.split())
        level, _, rest = words.partition(" ")
        if level in ("ok", "note", "PROBLEM") and rest.startswith(topic + " "):
            follow = (
                lines[n + 1].strip() if n + 1 < len(lines) and lines[n + 1].strip().startswith("->") else ""
            )
            found.append(" ".join(f"{words} {follow}".split()))
    assert found, f"no {topic!r} line in:\n{result.output}"
    return " | ".join(found)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("WFSYNC_API_URL", "INDIGENIUS_API_KEY"):
        monkeypatch.delenv(name, raising=False)


class TestReadOnly:
    def test_the_report_of_the_default_dialect(self, start_emulator: Start) -> None:
        server = start_emulator(config())
        seed(server, 3)
        before = state(server)
        result = run("--api-url", server.url)
        assert result.exit_code == 0, result.output
        assert "ok connection plain http to this machine (no TLS)" in line(result, "connection")
        assert "ok key accepted, with workflows:read" in line(result, "key")
        assert "the list under 'data' -> wfsync reads it" in line(result, "listing")
        assert "under 'id'" in line(result, "ids")
        assert "stated (3), and it matches the listing" in line(result, "total")
        assert "page and limit honoured" in line(result, "paging")
        assert "404 for an unknown workflow, JSON in NestJS's form" in line(result, "errors")
        assert "note write scope not checked -> --write checks it" in line(result, "write scope")
        assert "as it was: the same 3 workflows in the final listing" in line(result, "account")
        assert "in step with the server's Date" in line(result, "clock")
        assert result.output.endswith("No problems found: wfsync can work with this API.\n")
        assert state(server) == before
        assert server.served.get("POST create_workflow", 0) == 0  # read-only: nothing written

    def test_a_capped_page_without_a_total(self, start_emulator: Start) -> None:
        server = start_emulator(config("envelope=bare,page-cap=2,total=no,errors=string"))
        seed(server, 5)
        result = run("--api-url", server.url)
        assert result.exit_code == 0, result.output
        assert "a bare JSON array" in line(result, "listing")
        assert "capped at 2 (asked for 100) -> wfsync asks for 100 and follows the cap" in line(
            result, "page size"
        )
        assert "not stated -> wfsync stops at a page shorter than the first, or empty" in line(
            result, "total"
        )
        assert "a JSON object with a message" in line(result, "errors")
        assert "same 5 workflows" in line(result, "account")

    def test_the_job_form_from_a_workflow_s_jobs(self, start_emulator: Start) -> None:
        server = start_emulator(config("jobs=bullmq"))
        seed(server, 2)
        for workflow_id, _ in state(server):
            server.store.schedule_run(workflow_id, time.time() + 86400, "GMT")
        result = run("--api-url", server.url)
        assert "state under 'state', in BullMQ words" in line(result, "jobs")
        assert server.served.get("POST schedule_workflow", 0) == 0

    def test_too_few_workflows_to_tell_paging(self, start_emulator: Start) -> None:
        server = start_emulator(config())
        seed(server, 1)
        result = run("--api-url", server.url)
        assert "page and limit not checked: fewer than 2 workflows" in line(result, "paging")
        assert "no cap seen" in line(result, "page size")


WRITE_DIALECTS = {
    "default": ("", {"envelope": "data", "id": "id", "total": "yes", "errors": "nest", "writes": "object"}),
    "full": (
        FULL_DIALECT,
        {
            "envelope": "items",
            "id": "_id",
            "page-cap": "3",
            "total": "no",
            "errors": "text",
            "writes": "update-result",
            "titles": "unique",
            "defaults": "yes",
            "jobs": "bullmq",
            "offset": "+05:30",
        },
    ),
    "status": (
        "envelope=bare,writes=status,errors=string",
        {"envelope": "bare", "writes": "status", "errors": "string"},
    ),
    "empty": ("writes=empty,id=_id,total=no", {"writes": "empty", "id": "_id", "total": "no"}),
}
# Every setting of the emulator's dialect alone: doctor names each as the emulator does.
EACH_SETTING = [
    *(f"envelope={v}" for v in ("data", "items", "bare")),
    "id=_id",
    "page-cap=3",
    "total=no",
    *(f"errors={v}" for v in ("nest", "string", "text")),
    *(f"writes={v}" for v in ("object", "bare", "status", "update-result", "empty")),
    "titles=unique",
    "defaults=yes",
    "jobs=bullmq",
    "offset=+05:30",
]


class TestWrite:
    @pytest.mark.parametrize("name", sorted(WRITE_DIALECTS))
    def test_write_leaves_the_account_as_it_was_and_records(
        self, name: str, start_emulator: Start, tmp_path: Path
    ) -> None:
        spec, expected = WRITE_DIALECTS[name]
        server = start_emulator(config(spec))
        seed(server, 5)
        before = state(server)
        record = tmp_path / "recording"
        result = run("--api-url", server.url, "--write", "--record", str(record))
        assert result.exit_code == 0, result.output
        assert state(server) == before
        assert server.served["POST create_workflow"] >= 2  # the probe and the same-title check
        assert "as it was: the same 5 workflows" in line(result, "account")
        for topic in ("PATCH", "DELETE", "cancel"):
            assert "-> wfsync relies on the status code" in line(result, topic)
        dialect = json.loads((record / "dialect.json").read_text())
        assert {k: dialect[k] for k in expected} == expected
        # The recording's form settings start an emulator answering the same way.
        assert parse_dialect([str(record)]) == parse_dialect([doctor.dialect_spec(dialect)])

    @pytest.mark.parametrize("setting", EACH_SETTING)
    def test_each_setting_is_found(self, setting: str, start_emulator: Start, tmp_path: Path) -> None:
        server = start_emulator(config(setting))
        seed(server, 5)
        before = state(server)
        read_only = run("--api-url", server.url)
        assert read_only.exit_code == 0, read_only.output
        assert "as it was: the same 5 workflows" in line(read_only, "account")
        result = run("--api-url", server.url, "--write", "--record", str(tmp_path / "r"))
        assert result.exit_code == 0, result.output
        assert state(server) == before
        name, _, value = setting.partition("=")
        assert json.loads((tmp_path / "r" / "dialect.json").read_text())[name] == value

    def test_the_full_dialect_is_reported_form_by_form(self, start_emulator: Start) -> None:
        server = start_emulator(config(FULL_DIALECT))
        seed(server, 4)
        result = run("--api-url", server.url, "--write")
        assert result.exit_code == 0, result.output
        assert "a MongoDB update result -> wfsync relies on the status code" in line(result, "PATCH")
        assert "without a job id" in line(result, "schedule")
        assert "unique: a second create with a title in use is refused (409)" in line(result, "titles")
        assert "fills in fields a body leaves out (webhook: {})" in line(result, "defaults")
        assert "in BullMQ words -> wfsync reads delayed as scheduled" in line(result, "jobs")
        assert "written in +05:30 -> wfsync compares instants" in line(result, "dates")
        assert "plain text" in line(result, "errors")

    def test_the_recording_masks_the_key_secrets_and_ids(
        self, start_emulator: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        server = start_emulator(config())
        seed(server, 3)
        ids = [workflow_id for workflow_id, _ in state(server)]
        (tmp_path / "workflows").mkdir()
        (tmp_path / "workflows" / "a.yaml").write_text(
            "workflows:\n  - title: Campaign 0\n    callbackUrl: https://crm.example.com/hooks/${CRM_HOOK_PATH}/0\n"
        )
        monkeypatch.setenv("CRM_HOOK_PATH", HOOK_SECRET)
        record = tmp_path / "recording"
        result = run("--api-url", server.url, "--write", "--record", str(record))
        assert result.exit_code == 0, result.output
        text = "".join(path.read_text() for path in sorted(record.iterdir()))
        assert KEY not in text and KEY not in result.output
        assert HOOK_SECRET not in text and "${CRM_HOOK_PATH}" in text
        for workflow_id in ids:
            assert workflow_id not in text
        assert "org_" not in text  # the account's own id
        assert '"/v1/workflows/{id-' in text and '"id": "{id-' in text
        exchanges = [json.loads(p.read_text()) for p in sorted(record.glob("[0-9]*.json"))]
        assert [e["step"] for e in exchanges][:2] == ["list", "list-all"]
        assert {e["request"]["method"] for e in exchanges} == {"GET", "POST", "PATCH", "DELETE"}
        assert all(set(e["response"]["headers"]) <= set(doctor.RECORDED_HEADERS) for e in exchanges)
        assert f"Recorded {len(exchanges)} exchanges in {record}" in result.output

    def test_a_recording_replays_in_the_emulator(self, start_emulator: Start, tmp_path: Path) -> None:
        recorded = start_emulator(config(FULL_DIALECT))
        seed(recorded, 4)
        assert run("--api-url", recorded.url, "--write", "--record", str(tmp_path / "one")).exit_code == 0
        replay = start_emulator(
            EmulatorConfig(
                keys={KEY: SCOPES}, dialect=parse_dialect([str(tmp_path / "one")]), timing=FAST_JOBS
            )
        )
        seed(replay, 4)
        result = run("--api-url", replay.url, "--write", "--record", str(tmp_path / "two"))
        assert result.exit_code == 0, result.output
        first = json.loads((tmp_path / "one" / "dialect.json").read_text())
        assert json.loads((tmp_path / "two" / "dialect.json").read_text()) == first
        assert len(first) == 10  # every setting the emulator has was seen

    def test_the_recorded_exchanges_replay_as_a_server(self, start_emulator: Start, tmp_path: Path) -> None:
        """A recording is a fixture: served back answer by answer, doctor finds the same forms."""
        from wfsync.emulator.server import AppServer

        recorded = start_emulator(config(FULL_DIALECT))
        seed(recorded, 4)
        assert run("--api-url", recorded.url, "--write", "--record", str(tmp_path / "one")).exit_code == 0
        with AppServer(replay_app(tmp_path / "one")) as replay:
            result = run("--api-url", replay.url, "--write", "--record", str(tmp_path / "two"))
        assert result.exit_code == 0, result.output
        first, second = (json.loads((tmp_path / n / "report.json").read_text()) for n in ("one", "two"))

        def forms(report: dict[str, Any]) -> list[tuple[str, str, str]]:
            return [(f["topic"], f["level"], f["found"]) for f in report["findings"] if f["topic"] != "clock"]

        assert forms(second) == forms(first)
        assert (tmp_path / "two" / "dialect.json").read_text() == (
            tmp_path / "one" / "dialect.json"
        ).read_text()

    def test_a_record_folder_must_be_new_or_empty(self, start_emulator: Start, tmp_path: Path) -> None:
        server = start_emulator(config())
        (tmp_path / "old").mkdir()
        (tmp_path / "old" / "01-list.json").write_text("{}")
        result = run("--api-url", server.url, "--record", str(tmp_path / "old"))
        assert result.exit_code == 1
        assert (
            result.output == f"Error: {tmp_path / 'old'} is not empty: --record needs a new or empty folder\n"
        )
        assert server.served == {}

    def test_a_create_whose_answer_is_lost_is_deleted_after(self, start_emulator: Start) -> None:
        server = start_emulator(
            EmulatorConfig(keys={KEY: SCOPES}, faults=Faults(drop_create=1.0), timing=FAST_JOBS)
        )
        seed(server, 2)
        before = state(server)
        result = run("--api-url", server.url, "--write")
        assert result.exit_code == 1
        assert "PROBLEM create POST /v1/workflows: no answer" in line(result, "create")
        assert "same 2 workflows" in line(result, "account")
        assert state(server) == before  # created by the lost create, found by title, deleted


def replay_app(folder: Path) -> Any:
    """A server answering each request with the next recorded answer to the same method,
    path (ids as their placeholders) and query: a recording as a test fixture."""
    from collections import defaultdict, deque

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    answers: dict[tuple[str, str, str], deque[dict[str, Any]]] = defaultdict(deque)
    for path in sorted(folder.glob("[0-9]*.json")):
        document = json.loads(path.read_text())
        request = document["request"]
        answers[request["method"], request["path"], json.dumps(request["query"], sort_keys=True)].append(
            document["response"]
        )

    async def answer(request: Request) -> Response:
        query = json.dumps(dict(request.query_params), sort_keys=True)
        queue = answers.get((request.method, request.scope["path"], query))
        if not queue:
            return Response("not recorded", 599)
        recorded = queue.popleft()
        body = recorded["body"]
        content = json.dumps(body) if recorded["json"] else (body or "")
        kind = recorded["headers"].get("content-type", "application/json")
        return Response(content, recorded["status"], media_type=kind)

    methods = ["GET", "POST", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", answer, methods=methods)])


def html_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def listing(request: Request) -> HTMLResponse:
        return HTMLResponse("<html><title>Maintenance</title></html>")

    return Starlette(routes=[Route("/v1/workflows", listing)])


class TestRetries:
    def test_throttling_and_server_errors_are_reported(self, start_emulator: Start) -> None:
        faults = Faults(error_500=0.15, error_429=0.15, retry_after=0.0)
        server = start_emulator(EmulatorConfig(keys={KEY: SCOPES}, faults=faults, timing=FAST_JOBS))
        seed(server, 3)
        result = run("--api-url", server.url)
        assert result.exit_code == 0, result.output
        assert "429, Retry-After: 0 -> wfsync waits as asked" in line(result, "throttling")
        assert "500 -> wfsync retries reads, PATCH and DELETE" in line(result, "server errors")

    def test_no_retries_no_line(self, start_emulator: Start) -> None:
        result = run("--api-url", start_emulator(config()).url)
        assert "throttling" not in result.output and "server errors" not in result.output


def strict_app(store_url: str) -> Any:
    """A proxy to the emulator that refuses a create without a webhook, as a stricter
    platform might."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def forward(request: Request) -> Response:
        body = await request.body()
        if request.method == "POST" and request.url.path == "/v1/workflows" and b"webhook" not in body:
            return Response('{"statusCode": 400, "message": ["webhook must be an object"]}', 400)
        async with httpx.AsyncClient(base_url=store_url) as client:
            headers = {"X-API-Key": request.headers.get("x-api-key", ""), "Content-Type": "application/json"}
            answer = await client.request(
                request.method, request.url.path, params=request.query_params, content=body, headers=headers
            )
        return Response(answer.content, answer.status_code, media_type="application/json")

    methods = ["GET", "POST", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


class TestRefusals:
    def test_a_server_requiring_a_webhook(self, start_emulator: Start) -> None:
        from wfsync.emulator.server import AppServer

        server = start_emulator(config())
        seed(server, 2)
        before = state(server)
        with AppServer(strict_app(server.url)) as strict:
            result = run("--api-url", strict.url, "--write")
        assert result.exit_code == 0, result.output
        assert "note create without a webhook: refused: POST /v1/workflows: 400" in line(result, "create")
        assert "note defaults not checked: the server requires every field" in line(result, "defaults")
        assert "answered 200" in line(result, "PATCH")
        assert state(server) == before

    def test_an_answer_that_is_not_a_listing(self) -> None:
        from wfsync.emulator.server import AppServer

        with AppServer(html_app()) as server:
            result = run("--api-url", server.url, "--write")
        assert result.exit_code == 1
        assert line(result, "listing") == (
            "PROBLEM listing no list in the answer (not JSON) -> wfsync cannot read this listing"
        )
        assert "write scope" not in result.output  # nothing written to a server not understood

    def test_a_refused_key(self, start_emulator: Start) -> None:
        server = start_emulator(config())
        result = run("--api-url", server.url, key="sk-doctor-Unknown-91d2Key")
        assert result.exit_code == 1
        assert "PROBLEM key refused (401) -> check WFSYNC_API_KEY" in line(result, "key")
        assert "sk-doctor-Unknown-91d2Key" not in result.output
        assert result.output.endswith("Error: wfsync doctor found 1 problem(s)\n")

    def test_a_read_only_key_with_write(self, start_emulator: Start, tmp_path: Path) -> None:
        server = start_emulator(config())
        seed(server, 2)
        before = state(server)
        result = run("--api-url", server.url, "--write", "--record", str(tmp_path / "r"), key=READ_ONLY)
        assert result.exit_code == 1
        assert "the key lacks workflows:write (403)" in line(result, "write scope")
        assert "apply, run and cancel need a key with workflows:write" in line(result, "write scope")
        assert "same 2 workflows" in line(result, "account")
        assert state(server) == before
        assert READ_ONLY not in "".join(p.read_text() for p in (tmp_path / "r").iterdir())

    def test_plain_http_beyond_this_machine_is_refused(self) -> None:
        result = run("--api-url", "http://192.0.2.10:8787")
        assert result.exit_code == 1
        assert result.output == (
            "Error: refusing to send the API key over plain http to 192.0.2.10: use https "
            "(or --allow-insecure-http on a network you trust)\n"
        )

    def test_an_unreachable_url(self) -> None:
        with socket.socket() as sock:  # a port nothing listens on once closed
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        result = run("--api-url", f"http://127.0.0.1:{port}")
        assert result.exit_code == 1
        assert line(result, "connection") == (
            "PROBLEM connection GET /v1/workflows?page=1&limit=100: no answer: could not connect to "
            f"http://127.0.0.1:{port} (after 5 attempts) -> nothing else can be checked"
        )


@pytest.fixture
def tls_server(tmp_path: Path) -> Any:
    """A one-endpoint https server on loopback with a self-signed certificate for 127.0.0.1."""
    import http.server
    import shutil
    import subprocess
    import threading

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path.startswith("/v1/workflows?")
            body = b'{"data": [], "total": 0}' if found else b'{"message": "not found"}'
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()
    thread.join()


class TestTls:
    def test_a_certificate_this_machine_trusts(
        self, tls_server: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        url, cert = tls_server
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        result = CliRunner().invoke(
            main, ["doctor", "--api-url", url], env={"WFSYNC_API_KEY": KEY}, catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        assert re.search(
            r"ok connection https, TLSv1\.[23], certificate verified", line(result, "connection")
        )

    def test_a_self_signed_certificate_is_refused(self, tls_server: Any) -> None:
        url, _ = tls_server
        result = run("--api-url", url)
        assert result.exit_code == 1
        assert "PROBLEM connection TLS: the certificate was not accepted (self-signed certificate)" in line(
            result, "connection"
        )

    def test_a_certificate_refused_is_named(self) -> None:
        from wfsync.doctor import no_answer
        from wfsync.errors import TransportError

        refused = ssl.SSLCertVerificationError(1, "certificate verify failed")
        refused.verify_message = "self-signed certificate"
        error = TransportError("GET", "/v1/workflows", None, ["could not connect to https://api.test"])
        try:
            try:
                raise refused
            except ssl.SSLError as exc:
                raise error from exc
        except TransportError as exc:
            shown = no_answer(exc)
        assert shown == "TLS: the certificate was not accepted (self-signed certificate)"


class TestAccount:
    def test_a_final_listing_that_differs_names_what_is_new(self) -> None:
        from wfsync.doctor_probe import Probe, Recorder
        from wfsync.shapes import LiveWorkflow

        class Listing:
            async def list_workflows(self) -> list[LiveWorkflow]:
                return [LiveWorkflow("a1", "Kept", {}), LiveWorkflow("b2", f"{PROBE_TITLE} x", {})]

        probe = Probe(Listing(), Recorder(), "https://api.test", time.time)  # type: ignore[arg-type]
        probe.before = [("a1", "Kept", "{}")]
        asyncio.run(probe.account())
        (finding,) = probe.findings
        assert finding.level == "problem"
        assert finding.found == f"the final listing differs from the first (new: '{PROBE_TITLE} x')"


class TestClock:
    def test_a_clock_ahead_of_the_server(self, start_emulator: Start) -> None:
        server = start_emulator(config())

        async def probe() -> doctor.Report:
            async with ApiClient.connect(server.url, KEY) as api:
                return await examine(api, url=server.url, wall_clock=lambda: time.time() + 180)

        report = asyncio.run(probe())
        finding = report.found("clock")
        assert finding is not None and finding.level == "note"
        assert finding.found == "this machine is 3 min ahead of the server"
        assert "wfsync judges a schedule past by this machine's clock" in finding.action

    def test_an_hour_behind_is_a_problem(self, start_emulator: Start) -> None:
        server = start_emulator(config())

        async def probe() -> doctor.Report:
            async with ApiClient.connect(server.url, KEY) as api:
                return await examine(api, url=server.url, wall_clock=lambda: time.time() - 3600)

        finding = asyncio.run(probe()).found("clock")
        assert finding is not None and finding.level == "problem"
        assert finding.found == "this machine is 60 min behind the server"


class TestForms:
    @pytest.mark.parametrize(
        ("status", "body", "form"),
        [
            (204, None, "empty"),
            (200, {"status": True, "message": "Workflow updated"}, "status"),
            (200, {"status": True, "data": {"acknowledged": True, "matchedCount": 1}}, "update-result"),
            (200, {"status": True, "message": "ok", "data": {"id": "a1", "title": "T"}}, "object"),
            (200, {"id": "a1", "title": "T"}, "bare"),
            (200, [1, 2], "other"),
        ],
    )
    def test_write_forms(self, status: int, body: Any, form: str) -> None:
        assert doctor.write_form(status, body) == form

    @pytest.mark.parametrize(
        ("payload", "envelope"),
        [
            ([], "bare"),
            ({"data": [], "pagination": {}}, "data"),
            ({"items": []}, "items"),
            ({"data": {"workflows": []}}, "data.workflows"),
            ({"results": []}, "results"),
            ({"message": "hi"}, "unknown"),
        ],
    )
    def test_listing_envelopes(self, payload: Any, envelope: str) -> None:
        assert doctor.listing_envelope(payload) == envelope

    def test_an_unknown_envelope_is_read_but_not_a_dialect_setting(self) -> None:
        assert "results" not in Dialect.__dataclass_fields__["envelope"].type

    def test_a_short_id_is_masked_only_as_a_whole_value(self) -> None:
        masked = doctor.mask_ids({"id": "12", "createdAt": "2026-12-12T00:00:00Z"}, {"12": "{id-1}"})
        assert masked == {"id": "{id-1}", "createdAt": "2026-12-12T00:00:00Z"}
        long_id = "65a1b2c3d4e5f6a7b8c9d0e1"
        assert doctor.mask_ids(f"https://x/{long_id}/y", {long_id: "{id-1}"}) == "https://x/{id-1}/y"

    def test_probe_titles_are_distinctive(self) -> None:
        assert PROBE_TITLE == "wfsync doctor probe"


class TestDialectFile:
    def test_a_file_and_a_folder(self, tmp_path: Path) -> None:
        (tmp_path / "dialect.json").write_text(json.dumps({"envelope": "items", "page-cap": 7}))
        expected = Dialect(envelope="items", page_cap=7)
        assert parse_dialect([str(tmp_path / "dialect.json")]) == expected
        assert parse_dialect([str(tmp_path)]) == expected
        assert parse_dialect([str(tmp_path), "page-cap=3"]) == Dialect(envelope="items", page_cap=3)

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("[1]", "expected an object of settings"),
            ("{", "not JSON"),
            ('{"envelope": "soap"}', "dialect envelope: 'soap' is not one of data, items, bare"),
            ('{"envelope": "items,total=no"}', "is not a setting"),
        ],
    )
    def test_a_bad_file(self, tmp_path: Path, content: str, message: str) -> None:
        (tmp_path / "d.json").write_text(content)
        with pytest.raises(EmulatorConfigError, match=message):
            parse_dialect([str(tmp_path / "d.json")])

    def test_a_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(EmulatorConfigError, match="nor a readable file"):
            parse_dialect([str(tmp_path / "nothing.json")])
