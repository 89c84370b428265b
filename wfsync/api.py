"""The Workflows API client: auth, retries, errors and pagination (reading the answers in
every form of SPEC §1 is :mod:`wfsync.shapes`).

The client is handed an ``httpx.AsyncClient`` (or builds one), so tests bind it to the
emulator or to a mock transport. It is the only module that catches httpx errors; they
leave it as :class:`~wfsync.errors.ApiError` subclasses whose messages name the request
and what the server said, and never the API key.

    >>> async with ApiClient.connect("http://127.0.0.1:8787", "wfsync-dev-key") as api:  # doctest: +SKIP
    ...     workflows = await api.list_workflows()

Retries: a 429 is retried for any request (the server did not act on it) after its
``Retry-After``, and every other request waits out that pause too (one throttle slows
all workers, not just the one hit). 500/502/503/504, timeouts and dropped connections
are retried only for requests that are safe to repeat (GET, PATCH, DELETE, cancel);
a create, run or schedule is never sent twice by this layer.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from wfsync import __version__, shapes
from wfsync.errors import (
    ApiError,
    AuthError,
    ConfigError,
    ForbiddenError,
    NotFoundError,
    ProtocolError,
    RequestError,
    ServerError,
    ThrottledError,
    TransportError,
)
from wfsync.shapes import Job, LiveWorkflow, project_body

__all__ = [
    "PAGE_LIMIT",
    "ApiClient",
    "Job",
    "LiveWorkflow",
    "RetryPolicy",
    "Timeouts",
    "project_body",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_LIMIT = 100
# The limits asked for in turn when a server refuses one with 400; None: no paging at all.
LIMITS: tuple[int | None, ...] = (PAGE_LIMIT, 20, None)
PAGE_CONCURRENCY = 8
MAX_PAGES = 100_000
MAX_BODY_BYTES = 64 * 1024 * 1024
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry (exponential backoff with full jitter)."""

    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 30.0
    # The whole request, body included: a server trickling an endless body still ends.
    total: float = 120.0


class ApiClient:
    """The Workflows API over an ``httpx.AsyncClient`` that carries the base URL and key."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        key: str = "",
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self._key = key
        self._sleep = sleep
        self._clock = clock
        self._paused_until = 0.0  # shared by every request: the server asked us to wait
        self.requests_sent = 0

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        base_url: str,
        key: str,
        *,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        connections: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncIterator[ApiClient]:
        """A client for ``base_url`` sending ``key``, closed on leaving the block."""
        if not key or not re.fullmatch(r"[\x21-\x7e]+", key):
            raise ConfigError("the API key is empty or holds characters a header cannot carry")
        timeouts = timeouts or Timeouts()
        http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"X-API-Key": key, "User-Agent": f"wfsync/{__version__}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            transport=transport,
            follow_redirects=False,
            # No TLS context to build (tens of ms) for a plain-http URL such as the emulator's.
            verify=not base_url.startswith("http://"),
        )
        async with http:
            yield cls(http, key=key, retry=retry, timeouts=timeouts)

    # -- the one way a request is made ---------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        repeatable: bool | None = None,
    ) -> Any:
        """Send a request and return its decoded JSON (None for an empty body).

        ``repeatable`` says whether the request may be sent again after a 5xx or a lost
        answer; by default GET, PATCH and DELETE are and POST is not.
        """
        if repeatable is None:
            repeatable = method in ("GET", "HEAD", "PATCH", "DELETE", "PUT")
        shown = path + (("?" + "&".join(f"{k}={v}" for k, v in params.items())) if params else "")
        attempts = self.retry.attempts
        for attempt in range(attempts):
            await self._wait_for_pause()
            started = time.monotonic()
            cause: Exception
            try:
                status, headers, content = await self._send(method, path, params, body)
            except (httpx.TimeoutException, TimeoutError) as exc:
                problem, cause = "timed out", exc
            except httpx.TransportError as exc:
                problem, cause = _describe_transport(exc), exc
                if isinstance(exc, httpx.ConnectError):
                    problem = f"could not connect to {self.http.base_url}"
            else:
                log.debug(
                    "%s %s -> %s in %.0f ms", method, shown, status, (time.monotonic() - started) * 1000
                )
                if status == 429:
                    wait = self._retry_after(headers) or self.retry.delay(attempt)
                    self._paused_until = max(self._paused_until, self._clock() + wait)
                    if attempt + 1 < attempts:
                        log.info("%s %s: throttled (429), waiting %.1f s", method, shown, wait)
                        continue
                elif status in RETRYABLE_STATUS and repeatable and attempt + 1 < attempts:
                    log.info("%s %s: %s, retrying", method, shown, status)
                    # A 503 may say when to come back (RFC 9110); otherwise back off.
                    await self._sleep(self._retry_after(headers) or self.retry.delay(attempt))
                    continue
                if status >= 400:
                    raise self._error(method, shown, status, headers, content, attempt + 1)
                try:
                    return self._decode(method, shown, status, headers, content)
                except ProtocolError:
                    # A garbled answer to a read may be a passing fault: read again.
                    if not repeatable or attempt + 1 >= attempts:
                        raise
                    log.info("%s %s: an answer that is not JSON, retrying", method, shown)
                    await self._sleep(self.retry.delay(attempt))
                    continue
            log.debug("%s %s: %s", method, shown, problem)
            if not repeatable or attempt + 1 >= attempts:
                hint = (
                    f"after {attempt + 1} attempt{'s' * (attempt > 0)}"
                    if repeatable
                    else "not retried here: the server may have acted on it"
                )
                raise TransportError(method, shown, None, [self._redact(problem)], hint=hint) from cause
            await self._sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> tuple[int, httpx.Headers, bytes]:
        self.requests_sent += 1
        async with asyncio.timeout(self.timeouts.total):
            async with self.http.stream(method, path, params=params, json=body) as response:
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise httpx.RemoteProtocolError(f"answer larger than {MAX_BODY_BYTES:,} bytes")
                    chunks.append(chunk)
                return response.status_code, response.headers, b"".join(chunks)

    async def _wait_for_pause(self) -> None:
        while (remaining := self._paused_until - self._clock()) > 0:
            await self._sleep(remaining)

    def _retry_after(self, headers: httpx.Headers) -> float | None:
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:  # an HTTP date: "Wed, 21 Oct 2026 07:28:00 GMT"
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
        if not math.isfinite(seconds):
            return None
        return min(max(seconds, 0.0), self.retry.max_retry_after)

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _messages(self, content: bytes) -> list[str]:
        return [self._redact(message) for message in shapes.error_messages(content)]

    def _error(
        self, method: str, path: str, status: int, headers: httpx.Headers, content: bytes, attempts: int
    ) -> ApiError:
        messages = self._messages(content)
        after = f"after {attempts} attempt{'s' * (attempts != 1)}"
        if status == 401:
            return AuthError(
                method, path, status, messages, hint="the API key was refused: check WFSYNC_API_KEY"
            )
        if status == 403:
            found = re.search(r"workflows:(read|write)", " ".join(messages))
            scope = found.group(0) if found else ("workflows:read" if method == "GET" else "workflows:write")
            return ForbiddenError(
                method, path, status, messages, scope=scope, hint=f"the API key needs the {scope} scope"
            )
        if status == 404:
            return NotFoundError(method, path, status, messages)
        if status == 429:
            return ThrottledError(method, path, status, messages, hint=f"still throttled {after}")
        if status >= 500:
            return ServerError(method, path, status, messages, hint=after if attempts > 1 else "")
        return RequestError(method, path, status, messages)

    def _decode(self, method: str, path: str, status: int, headers: httpx.Headers, content: bytes) -> Any:
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except ValueError:
            kind = headers.get("content-type", "unknown type").split(";")[0]
            start = self._redact(content[:60].decode("utf-8", "replace"))
            raise ProtocolError(
                method, path, status, [f"the answer is not JSON ({kind}): {start!r}"]
            ) from None

    # -- answer shapes -----------------------------------------------------------------------

    @staticmethod
    def _read(method: str, path: str, read: Callable[..., T], *args: Any) -> T:
        """``read(*args)``; an answer it cannot read is a ProtocolError of this request."""
        try:
            return read(*args)
        except shapes.ShapeError as exc:
            raise ProtocolError(method, path, 200, [str(exc)]) from None

    async def _pages(self, path: str, name: str) -> list[Mapping[str, Any]]:
        """Every item of a paginated listing, in order, each once.

        Page 1 tells the page size the server really serves (it may cap ``limit``) and,
        when it states a total, how many pages remain: those are fetched concurrently.
        Without a total, pages are read until one is empty or shorter than the first.
        """

        async def fetch(page: int, limit: int | None) -> tuple[list[Any], int | None]:
            params = {"page": page, "limit": limit} if limit else None
            payload = await self.request("GET", path, params=params)
            items = shapes.unwrap(payload, lists=(name,))
            if not isinstance(items, list):
                shown = path + (f"?page={page}&limit={limit}" if limit else "")
                raise ProtocolError("GET", shown, 200, [f"expected a list, got {type(items).__name__}"])
            return items, shapes.total(payload)

        # A server that refuses a large limit, or any paging parameter (SPEC promises them
        # only for the workflows listing), says 400: ask for less, then for the plain list.
        for limit in LIMITS:
            try:
                first, total = await fetch(1, limit)
                break
            except RequestError as exc:
                if exc.status != 400 or limit is None:
                    raise
                log.info("GET %s: limit=%s refused (400), asking for less", path, limit)
        if limit is None:
            return list(first)
        size = len(first)
        pages = [first]
        if size and total is not None and total > size:
            count = min(math.ceil(total / size), MAX_PAGES)
            gate = asyncio.Semaphore(PAGE_CONCURRENCY)

            async def limited(page: int) -> list[Any]:
                async with gate:
                    return (await fetch(page, limit))[0]

            pages += await asyncio.gather(*(limited(page) for page in range(2, count + 1)))
        elif size and total is None:
            page = 1
            while len(pages[-1]) >= size and page < MAX_PAGES:
                page += 1
                items, _ = await fetch(page, limit)
                if not items or not self._adds_new(pages, items):
                    break
                pages.append(items)
        return [item for items in pages for item in items]

    @staticmethod
    def _adds_new(pages: list[list[Any]], items: list[Any]) -> bool:
        """False when a page repeats an earlier one (a server that ignores ``page``)."""
        return items != pages[-1]

    # -- workflows ---------------------------------------------------------------------------

    async def list_workflows(self) -> list[LiveWorkflow]:
        """Every live workflow, through every page (duplicates by id dropped)."""
        path = "/v1/workflows"
        seen: dict[str, LiveWorkflow] = {}
        for raw in await self._pages(path, "workflows"):
            workflow = self._read("GET", path, shapes.workflow_from, raw)
            seen.setdefault(workflow.id, workflow)
        return list(seen.values())

    async def get_workflow(self, workflow_id: str) -> LiveWorkflow:
        path = f"/v1/workflows/{workflow_id}"
        payload = await self.request("GET", path)
        return self._read("GET", path, lambda: shapes.workflow_from(shapes.one(payload, "a workflow")))

    async def create_workflow(self, body: Mapping[str, Any]) -> LiveWorkflow:
        """Create a workflow. Never retried here after a lost answer: the caller looks first."""
        path = "/v1/workflows"
        payload = await self.request("POST", path, body=dict(body))
        return self._read("POST", path, lambda: shapes.workflow_from(shapes.one(payload, "a workflow")))

    async def update_workflow(self, workflow_id: str, patch: Mapping[str, Any]) -> LiveWorkflow | None:
        """PATCH the given fields (None removes one); the updated workflow when answered."""
        path = f"/v1/workflows/{workflow_id}"
        payload = await self.request("PATCH", path, body=dict(patch))
        found = shapes.unwrap(payload)
        if not (isinstance(found, Mapping) and found):
            return None
        return self._read("PATCH", path, shapes.workflow_from, found)

    async def delete_workflow(self, workflow_id: str) -> None:
        await self.request("DELETE", f"/v1/workflows/{workflow_id}")

    # -- jobs --------------------------------------------------------------------------------

    async def run(self, workflow_id: str) -> str:
        """Start a run now; returns the job id."""
        path = f"/v1/workflows/{workflow_id}/run"
        return self._read("POST", path, shapes.job_id_from, await self.request("POST", path))

    async def schedule(self, workflow_id: str, scheduled_date: str, timezone: str) -> str:
        """Schedule a one-shot run; returns the job id."""
        path = "/v1/workflows/schedule"
        body = {"workFlowId": workflow_id, "scheduledDate": scheduled_date, "timezone": timezone}
        return self._read("POST", path, shapes.job_id_from, await self.request("POST", path, body=body))

    async def cancel(self, workflow_id: str) -> list[str]:
        """Cancel the workflow's pending runs; returns the ids the server says it cancelled."""
        path = f"/v1/workflows/{workflow_id}/cancel"
        payload = await self.request("POST", path, repeatable=True)
        found = shapes.unwrap(payload)
        ids = found.get("cancelled") if isinstance(found, Mapping) else found
        return [str(i) for i in ids] if isinstance(ids, list) else []

    async def list_jobs(self, workflow_id: str) -> list[Job]:
        path = f"/v1/workflows/{workflow_id}/jobs"
        return [self._read("GET", path, shapes.job_from, raw) for raw in await self._pages(path, "jobs")]

    async def get_job(self, job_id: str) -> Job:
        path = f"/v1/workflows/jobs/{job_id}"
        payload = await self.request("GET", path)
        return self._read("GET", path, lambda: shapes.job_from(shapes.one(payload, "a job"), job_id))

    # -- monitoring --------------------------------------------------------------------------

    async def summary(self, workflow_id: str, part: str = "", **params: str) -> Any:
        """``summary``, ``summary/timeline`` or ``summary/report`` (part ``""``, ``timeline``,
        ``report``), unwrapped."""
        path = f"/v1/workflows/{workflow_id}/summary" + (f"/{part}" if part else "")
        return shapes.unwrap(await self.request("GET", path, params=params or None))


def _describe_transport(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without a complete answer"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "the connection was dropped"
    return type(exc).__name__
