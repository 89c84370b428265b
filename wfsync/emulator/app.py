"""The emulator's HTTP face: every Workflows API endpoint of SPEC §1 as a Starlette app.

Each endpoint is a plain coroutine wrapped by :func:`_endpoint`, which applies, in the
order a real gateway would: injected faults, then the API key and its scope, then the
handler; an :class:`ApiError` raised anywhere becomes the error body of the dialect.

    >>> from starlette.testclient import TestClient
    >>> client = TestClient(create_app())
    >>> client.get("/v1/workflows", headers={"X-API-Key": DEV_KEY}).status_code
    200
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from wfsync import schema
from wfsync.emulator import reports
from wfsync.emulator.config import DEV_KEY, READ, WRITE, EmulatorConfig
from wfsync.emulator.openapi import openapi_document
from wfsync.emulator.store import Store, format_instant

__all__ = ["DEV_KEY", "ApiError", "create_app"]

log = logging.getLogger(__name__)

MAX_LIMIT, DEFAULT_LIMIT, MAX_PAGE = 100, 20, 2**31 - 1
MAX_BODY = 1 << 20
PAGING = ("page", "limit")
DATE_FIELDS = ("createdAt", "updatedAt", "scheduledDate", "startedAt", "finishedAt")
# The platform's job states in BullMQ's words (cancelled has none: BullMQ removes the job).
BULLMQ_STATES = {"scheduled": "delayed", "queued": "waiting", "running": "active"}
# What a server filling in defaults stores for the fields a body leaves out.
DEFAULTS: dict[str, Any] = {"callbackUrl": "", "webhook": {}, "endCall": {"phrases": []}}


class ApiError(Exception):
    """An answer other than success: a status and one or more messages."""

    def __init__(self, status: int, *messages: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(*messages)
        self.status = status
        self.messages = list(messages)
        self.headers = headers or {}


class DroppedConnection(Exception):
    """The connection was dropped without an answer where no transport could be reached."""


# A handler sets this scope key to have its answer dropped (the drop-create fault).
_DROP = "wfsync.drop_answer"


Handler = Callable[[Request], Awaitable[Response]]


class _Emulator:
    """The handlers, sharing one store, one config and one random source for faults."""

    def __init__(self, config: EmulatorConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.faults = random.Random(f"faults:{config.seed}")
        self._openapi: bytes | None = None
        self.served: dict[str, int] = {}  # "GET /v1/workflows" -> requests seen, for tests and benchmarks

    # -- answers in the configured dialect ---------------------------------------------------

    def json(self, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return Response(body, status, headers, media_type="application/json")

    def error(self, exc: ApiError) -> Response:
        style = self.config.dialect.errors
        reason = HTTPStatus(exc.status).phrase
        if style == "text":
            return Response("\n".join(exc.messages), exc.status, exc.headers, media_type="text/plain")
        if style == "string":
            payload: dict[str, Any] = {"status": False, "message": "; ".join(exc.messages)}
        else:  # NestJS: a validation failure lists every message, other errors give one string
            message: Any = exc.messages if exc.status == 400 else exc.messages[0]
            payload = {"statusCode": exc.status, "message": message, "error": reason}
        return self.json(payload, exc.status, exc.headers)

    def ident(self, item: dict[str, Any], key: str) -> dict[str, Any]:
        if self.config.dialect.id_key == "_id":
            item = {"_id": item[key], **{k: v for k, v in item.items() if k != key}}
        return item

    def dates(self, item: dict[str, Any]) -> dict[str, Any]:
        """The item's instants written in the dialect's UTC offset (the same instants)."""
        if not self.config.dialect.offset_minutes:
            return item
        zone = self.config.dialect.zone
        shifted = dict(item)
        for name in DATE_FIELDS:
            at = schema.parse_instant(item[name]) if isinstance(item.get(name), str) else None
            if at is not None:
                shifted[name] = at.astimezone(zone).isoformat(timespec="milliseconds")
        return shifted

    def present_workflow(self, item: dict[str, Any]) -> dict[str, Any]:
        return self.dates(self.ident(item, "id"))

    def present_job(self, job: dict[str, Any]) -> dict[str, Any]:
        job = self.dates(self.ident(job, "jobId"))
        if self.config.dialect.jobs == "bullmq":
            status = job.pop("status")
            job["state"] = BULLMQ_STATES.get(status, status)
        return job

    def one_job(self, job: dict[str, Any], message: str) -> Response:
        if self.config.dialect.jobs == "bullmq":  # BullMQ-backed servers wrap the job in data
            return self.json({"status": True, "data": self.present_job(job)})
        return self.one(self.present_job(job), message)

    def written(self, message: str, status: int, item: Any, result: dict[str, Any]) -> Response:
        """The answer to a write in the dialect's form; ``result`` is its MongoDB result."""
        form = self.config.dialect.writes
        if form == "empty":
            return Response(status_code=204)
        if form == "status":
            return self.json({"status": True, "message": message}, status)
        if form == "update-result":
            return self.json({"status": True, "data": {"acknowledged": True, **result}}, status)
        if form == "bare":
            return self.json(item, status)
        return self.one(item, message, status)

    def one(self, item: dict[str, Any], message: str, status: int = 200) -> Response:
        if self.config.dialect.envelope == "data":
            return self.json({"status": True, "message": message, "data": item}, status)
        return self.json(item, status)

    def page(self, items: list[dict[str, Any]], total: int, page: int, limit: int, message: str) -> Response:
        dialect = self.config.dialect
        counts: dict[str, Any] = {"page": page, "limit": limit}
        if dialect.total:
            counts |= {"total": total, "totalPages": -(-total // limit)}
        if dialect.envelope == "bare":
            return self.json(items)
        if dialect.envelope == "items":
            return self.json({"items": items, **counts})
        return self.json({"status": True, "message": message, "data": items, "pagination": counts})

    # -- request helpers ---------------------------------------------------------------------

    def paging(self, request: Request) -> tuple[int, int, int]:
        """(page, limit, offset) from the query; limit is clamped to the maximum (and cap)."""
        values = {}
        for name, default in (("page", 1), ("limit", DEFAULT_LIMIT)):
            text = request.query_params.get(name)
            if text is None:
                values[name] = default
            elif re.fullmatch(r"[0-9]{1,10}", text) and 1 <= int(text) <= MAX_PAGE:
                values[name] = int(text)
            else:
                raise ApiError(400, f"{name} must be an integer from 1 to {MAX_PAGE}, not {text!r}")
        limit = min(values["limit"], MAX_LIMIT, self.config.dialect.page_cap or MAX_LIMIT)
        return values["page"], limit, (values["page"] - 1) * limit

    async def body(self, request: Request, schema_name: str) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise ApiError(413, f"request body over {MAX_BODY} bytes")
        try:
            payload = json.loads(raw or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"body is not valid JSON: {exc}") from None
        issues = schema.validate(schema_name, payload)
        if issues:
            raise ApiError(400, *(issue.message for issue in issues))
        result: dict[str, Any] = payload
        return result

    def workflow(self, request: Request) -> dict[str, Any]:
        workflow_id = request.path_params["id"]
        found = self.store.get_workflow(workflow_id)
        if found is None:
            raise ApiError(404, f"Workflow {workflow_id} not found")
        return found

    # -- the endpoints ----------------------------------------------------------------------

    async def list_workflows(self, request: Request) -> Response:
        page, limit, offset = self.paging(request)
        items, total = self.store.list_workflows(offset, limit)
        items = [self.present_workflow(item) for item in items]
        return self.page(items, total, page, limit, "Workflows retrieved successfully")

    async def create_workflow(self, request: Request) -> Response:
        body = await self.body(request, "workflow")
        self.title_free(body["title"])
        if self.config.dialect.defaults:
            body = {**DEFAULTS, **body}
        created = self.store.create_workflow(body)
        if self.config.faults.drop_create and self.faults.random() < self.config.faults.drop_create:
            log.info("fault: dropping the answer to the create of %s", created["id"])
            request.scope[_DROP] = True
        return self.one(self.present_workflow(created), "Workflow created successfully", 201)

    def title_free(self, title: Any, but: str | None = None) -> None:
        """With ``titles=unique``, a title held by another workflow (ignoring case) is a 409."""
        if not self.config.dialect.unique_titles or not isinstance(title, str):
            return
        held = self.store.list_workflows(0, 1 << 30)[0]
        if any(w["title"].casefold() == title.casefold() and w["id"] != but for w in held):
            raise ApiError(409, f"A workflow titled {title!r} already exists")

    async def get_workflow(self, request: Request) -> Response:
        return self.one(self.present_workflow(self.workflow(request)), "Workflow retrieved successfully")

    async def update_workflow(self, request: Request) -> Response:
        workflow_id = self.workflow(request)["id"]
        patch = await self.body(request, "workflow-patch")
        self.title_free(patch.get("title"), but=workflow_id)
        updated = self.store.update_workflow(workflow_id, patch)
        if updated is None:  # deleted meanwhile
            raise ApiError(404, f"Workflow {workflow_id} not found")
        result = {"matchedCount": 1, "modifiedCount": 1}
        return self.written("Workflow updated successfully", 200, self.present_workflow(updated), result)

    async def delete_workflow(self, request: Request) -> Response:
        workflow_id = request.path_params["id"]
        found = self.store.get_workflow(workflow_id)
        if found is None or not self.store.delete_workflow(workflow_id):
            raise ApiError(404, f"Workflow {workflow_id} not found")
        if self.config.dialect.writes == "object":  # the platform's documented-looking form
            return self.json({"status": True, "message": "Workflow deleted successfully"})
        item = self.present_workflow(found)
        return self.written("Workflow deleted successfully", 200, item, {"deletedCount": 1})

    async def run_workflow(self, request: Request) -> Response:
        job = self.store.start_run(self.workflow(request)["id"])
        return self.json(
            {"status": True, "message": "Workflow execution started", "jobId": job["jobId"]}, 201
        )

    async def schedule_workflow(self, request: Request) -> Response:
        body = await self.body(request, "schedule")
        if self.store.get_workflow(body["workFlowId"]) is None:
            raise ApiError(404, f"Workflow {body['workFlowId']} not found")
        at = schema.parse_instant(body["scheduledDate"])
        assert at is not None  # the schema checked the format
        try:
            job = self.store.schedule_run(body["workFlowId"], at.timestamp(), body["timezone"])
        except (OverflowError, ValueError, OSError):
            raise ApiError(400, f"scheduledDate {body['scheduledDate']!r} is out of range") from None
        if self.config.dialect.writes == "object":
            answer = {"status": True, "message": "Workflow scheduled successfully", "jobId": job["jobId"]}
            return self.json({**answer, "scheduledDate": self.dates(job)["scheduledDate"]}, 201)
        result = {"insertedCount": 1}  # a MongoDB insert result names no job id
        return self.written("Workflow scheduled successfully", 201, self.present_job(job), result)

    async def cancel_workflow(self, request: Request) -> Response:
        cancelled = self.store.cancel_pending(self.workflow(request)["id"])
        count = len(cancelled)
        message = f"Cancelled {count} pending job{'s' * (count != 1)}"
        if self.config.dialect.writes == "object":
            return self.json({"status": True, "message": message, "data": {"cancelled": cancelled}}, 201)
        result = {"matchedCount": count, "modifiedCount": count}
        return self.written(message, 201, {"cancelled": cancelled}, result)

    async def get_job(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        job = self.store.get_job(job_id)
        if job is None:
            raise ApiError(404, f"Job {job_id} not found")
        return self.one_job(job, "Job retrieved successfully")

    async def list_jobs(self, request: Request) -> Response:
        workflow = self.workflow(request)
        page, limit, offset = self.paging(request)
        items, total = self.store.list_jobs(workflow["id"], offset, limit)
        items = [self.present_job(item) for item in items]
        return self.page(items, total, page, limit, "Jobs retrieved successfully")

    async def summary(self, request: Request) -> Response:
        workflow = self.workflow(request)
        figures = reports.summary(workflow, self.store.all_jobs(workflow["id"]))
        return self.one(figures, "Summary retrieved successfully")

    async def timeline(self, request: Request) -> Response:
        workflow = self.workflow(request)
        interval = request.query_params.get("interval", "day")
        if interval not in reports.INTERVALS:
            raise ApiError(400, f"interval must be one of {', '.join(reports.INTERVALS)}, not {interval!r}")
        rows = reports.timeline(self.store.all_jobs(workflow["id"]), interval)
        return self.one(
            {"workflowId": workflow["id"], "interval": interval, "periods": rows},
            "Timeline retrieved successfully",
        )

    async def report(self, request: Request) -> Response:
        workflow = self.workflow(request)
        jobs = self.store.all_jobs(workflow["id"])
        fmt = request.query_params.get("format", "json")
        if fmt == "csv":
            return Response(reports.report_csv(jobs), media_type="text/csv")
        if fmt != "json":
            raise ApiError(400, f"format must be json or csv, not {fmt!r}")
        document = reports.report(workflow, jobs, format_instant(self.store.clock()))
        return self.one(document, "Report generated successfully")

    async def openapi(self, request: Request) -> Response:
        if self._openapi is None:
            self._openapi = json.dumps(openapi_document()).encode()
        return Response(self._openapi, media_type="application/json")

    # -- the gateway in front of every endpoint ------------------------------------------------

    def endpoint(self, handler: Handler, scope: str, query: tuple[str, ...] = ()) -> Handler:
        async def guarded(request: Request) -> Response:
            name = f"{request.method} {handler.__name__}"
            self.served[name] = self.served.get(name, 0) + 1
            try:
                await self.inject_faults()
                self.authorize(request, scope)
                unknown = sorted(set(request.query_params) - set(query))
                if unknown:
                    raise ApiError(400, *(f"query parameter {param} should not exist" for param in unknown))
                return await handler(request)
            except ApiError as exc:
                return self.error(exc)

        guarded.__name__ = handler.__name__
        return guarded

    async def inject_faults(self) -> None:
        faults = self.config.faults
        if not faults.any:
            return
        if faults.latency:
            await asyncio.sleep(faults.latency)
        draw = self.faults.random()
        if draw < faults.error_500:
            raise ApiError(500, "Internal server error (injected fault)")
        if draw < faults.error_500 + faults.error_429:
            retry = faults.retry_after
            header = str(int(retry)) if float(retry).is_integer() else f"{retry:g}"
            raise ApiError(429, "Too many requests (injected fault)", headers={"Retry-After": header})

    def authorize(self, request: Request, scope: str) -> None:
        sent = request.headers.get("x-api-key", "").encode("latin-1", "replace")
        # Every key is compared, each in constant time: how long a refusal takes says
        # nothing about how much of a key was right.
        scopes: frozenset[str] | None = None
        for key, granted in self.config.keys.items():
            if hmac.compare_digest(sent, key.encode("latin-1", "replace")) and sent:
                scopes = granted
        if scopes is None:
            raise ApiError(401, "Missing or invalid API key: send a valid key in the X-API-Key header")
        if scope not in scopes:
            raise ApiError(403, f"Forbidden: this API key lacks the {scope} scope")


class _DropMiddleware:
    """Closes the connection instead of answering when a handler asked for it.

    The work is done and only the answer is lost, as when a proxy times out. uvicorn's
    ``send`` is a bound method of its request cycle, which holds the transport; marking
    the cycle disconnected stops uvicorn answering 500 on our behalf.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_or_drop(message: Any) -> None:
            if not scope.get(_DROP):
                await send(message)
                return
            cycle = getattr(send, "__self__", None)
            transport = getattr(cycle, "transport", None)
            if transport is None:
                raise DroppedConnection("answer dropped (drop-create fault)")
            if message["type"] == "http.response.start":
                transport.abort()
                cycle.disconnected = True  # type: ignore[union-attr]

        await self.app(scope, receive, send_or_drop)


def create_app(config: EmulatorConfig | None = None, store: Store | None = None) -> Any:
    """The emulator as an ASGI app; ``app.state.store`` is its store."""
    config = config or EmulatorConfig()
    store = store or Store(":memory:", seed=config.seed, timing=config.timing, fail_share=config.fail_share)
    emulator = _Emulator(config, store)
    e = emulator.endpoint
    table: dict[str, dict[str, Handler]] = {
        "/v1/workflows": {
            "GET": e(emulator.list_workflows, READ, PAGING),
            "POST": e(emulator.create_workflow, WRITE),
        },
        # Fixed paths before /{id}, which would otherwise swallow them.
        "/v1/workflows/schedule": {"POST": e(emulator.schedule_workflow, WRITE)},
        "/v1/workflows/jobs/{job_id}": {"GET": e(emulator.get_job, READ)},
        "/v1/workflows/{id}": {
            "GET": e(emulator.get_workflow, READ),
            "PATCH": e(emulator.update_workflow, WRITE),
            "DELETE": e(emulator.delete_workflow, WRITE),
        },
        "/v1/workflows/{id}/run": {"POST": e(emulator.run_workflow, WRITE)},
        "/v1/workflows/{id}/cancel": {"POST": e(emulator.cancel_workflow, WRITE)},
        "/v1/workflows/{id}/jobs": {"GET": e(emulator.list_jobs, READ, PAGING)},
        "/v1/workflows/{id}/summary": {"GET": e(emulator.summary, READ)},
        "/v1/workflows/{id}/summary/timeline": {"GET": e(emulator.timeline, READ, ("interval",))},
        "/v1/workflows/{id}/summary/report": {"GET": e(emulator.report, READ, ("format",))},
    }
    routes = [Route("/openapi.json", emulator.openapi)]
    every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]
    routes += [Route(path, _by_method(emulator, handlers), methods=every) for path, handlers in table.items()]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ticker = asyncio.create_task(_tick_forever(store, config.tick_seconds))
        try:
            yield
        finally:
            ticker.cancel()

    async def not_found(request: Request, exc: Exception) -> Response:
        return emulator.error(ApiError(404, f"Cannot {request.method} {request.url.path}"))

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_found})
    app.state.store = store
    app.state.config = config
    app.state.served = emulator.served
    return _DropMiddleware(app)


def _by_method(emulator: _Emulator, handlers: dict[str, Handler]) -> Handler:
    """One endpoint per path, so a 405 can list every method the path supports."""
    allowed = ", ".join(sorted({*handlers, *(["HEAD"] if "GET" in handlers else [])}))

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        handler = handlers.get(method)
        if handler is None:
            message = f"Cannot {request.method} {request.url.path}"
            return emulator.error(ApiError(405, message, headers={"Allow": allowed}))
        return await handler(request)

    return dispatch


async def _tick_forever(store: Store, every: float) -> None:
    """The scheduler: starts due jobs even when nobody is asking about them."""
    while True:
        await asyncio.sleep(every)
        try:
            store.tick()
        except Exception:  # the scheduler must outlive one bad step; the next request will show it
            log.exception("emulator scheduler step failed")
