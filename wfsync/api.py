"""The Workflows API client: one method per endpoint, over the policy layer.

How a request is sent (retries, the shared 429 pause, size caps, error mapping, the key
kept out of every message) is :mod:`wfsync.transport`; when a listing is whole is
:mod:`wfsync.paging`; reading the answers in every form of SPEC §1 is :mod:`wfsync.shapes`.
This module says what each endpoint asks and what it needs from the answer, and no more:
a write (PATCH, DELETE, cancel, schedule) succeeds on any 2xx, whatever its body.

The code that plans and applies depends on :class:`WorkflowsApi` (and operate on
:class:`OperateApi`), protocols that this client and the tests' fakes implement.

    >>> async with ApiClient.connect("http://127.0.0.1:8787", "wfsync-dev-key") as api:  # doctest: +SKIP
    ...     workflows = await api.list_workflows()
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote

from wfsync import __version__, http11, paging, shapes
from wfsync.errors import ConfigError, NotFoundError, ProtocolError, RequestError, UnsafeIdError
from wfsync.shapes import Job, LiveWorkflow
from wfsync.transport import MAX_BODY_BYTES, RetryPolicy, Timeouts, Transport, shard_sizes
from wfsync.urls import check_url

if TYPE_CHECKING:
    import httpx

__all__ = [
    "LISTING_DEADLINE",
    "MAX_PAGES",
    "PAGE_LIMIT",
    "ApiClient",
    "OperateApi",
    "RetryPolicy",
    "Timeouts",
    "WorkflowsApi",
    "path_segment",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_LIMIT = 100
# The limits asked for in turn when a server refuses one with 400; None: no paging at all.
LIMITS: tuple[int | None, ...] = (PAGE_LIMIT, 20, None)
PAGE_CONCURRENCY = 8
# A listing that has not ended by then is refused, never cut short: a partial listing
# would make every workflow past the cut look deleted.
MAX_PAGES = 10_000
LISTING_DEADLINE = 600.0


# An id no workflow has: the write-scope check PATCHes it (wfsync.api.ApiClient.check_write_scope).
NO_WORKFLOW = "0" * 24


class WorkflowsApi(Protocol):
    """What planning and applying need from the API (the client, or a test's fake)."""

    async def list_workflows(
        self, known: MutableMapping[str, Mapping[str, Any]] | None = None
    ) -> list[LiveWorkflow]: ...

    async def list_jobs(self, workflow_id: str) -> list[Job]: ...

    async def create_workflow(self, body: Mapping[str, Any]) -> LiveWorkflow: ...

    async def update_workflow(self, workflow_id: str, patch: Mapping[str, Any]) -> None: ...

    async def delete_workflow(self, workflow_id: str) -> None: ...

    async def schedule(self, workflow_id: str, scheduled_date: str, timezone: str) -> str | None: ...

    async def cancel(self, workflow_id: str) -> list[str]: ...


class OperateApi(WorkflowsApi, Protocol):
    """What the operating commands (run, jobs, cancel, summary) need besides."""

    async def get_workflow(self, workflow_id: str) -> LiveWorkflow: ...

    async def run(self, workflow_id: str) -> str: ...

    async def get_job(self, job_id: str) -> Job: ...

    async def summary(self, workflow_id: str, part: str = "", **params: str) -> Any: ...


def path_segment(value: str) -> str:
    """An id from a server as one path segment: percent-encoded, never a path of its own.

    ``../../__admin/reset?`` becomes ``..%2F..%2F__admin%2Freset%3F``; an id that is empty,
    ``.`` or ``..`` (a segment that would still move the path) is refused.
    """
    if value in ("", ".", ".."):
        raise UnsafeIdError(value)
    return quote(value, safe="")


class ApiClient:
    """The Workflows API over a :class:`~wfsync.transport.Transport`."""

    def __init__(self, transport: Transport, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.transport = transport
        self._clock = clock

    @property
    def requests_sent(self) -> int:
        return self.transport.requests_sent

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
        allow_insecure_http: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> AsyncIterator[ApiClient]:
        """A client for ``base_url`` sending ``key``, closed on leaving the block.

        The URL is checked before any connection: the key goes only over https, or plain
        http to a loopback address, unless ``allow_insecure_http``.
        """
        if not key or not re.fullmatch(r"[\x21-\x7e]+", key):
            raise ConfigError("the API key is empty or holds characters a header cannot carry")
        check_url(base_url, allow_insecure_http=allow_insecure_http)
        timeouts = timeouts or Timeouts()
        # One TLS context for the pool and every httpx client (each costs tens of ms to
        # build); none for plain http, such as the emulator's.
        verify: ssl.SSLContext | bool = False
        if not base_url.startswith("http://"):
            verify = http11.default_ssl_context()

        # The one place that knows the key and the headers: the pool and every client are built here.
        headers = {"X-API-Key": key, "User-Agent": f"wfsync/{__version__}", "Accept": "application/json"}

        def client(size: int) -> httpx.AsyncClient:
            import httpx  # not before it is needed: ~0.1 s of start-up a command through the pool saves

            return httpx.AsyncClient(
                base_url=base_url.rstrip("/"),
                headers=headers,
                timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                transport=transport,
                follow_redirects=False,
                verify=verify,
            )

        # Our own pool whenever it can serve the URL as httpx would (wfsync.http11.suits);
        # an httpx client is then built only if asked for (the doctor's response hook).
        pool = None
        if transport is None and http11.suits(base_url):
            pool = http11.Pool(
                base_url,
                headers=headers,
                connections=connections,
                ssl_context=verify if isinstance(verify, ssl.SSLContext) else None,
                connect_timeout=timeouts.connect,
                read_timeout=timeouts.read,
                max_body=MAX_BODY_BYTES,
            )
        # Else several small httpx pools, not one large one (see wfsync.transport); a
        # test's own transport has no pool to spread over, so it gets one client.
        sizes = [] if pool is not None else shard_sizes(connections) if transport is None else [connections]
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(client(size)) for size in sizes]
            if pool is not None:
                stack.push_async_callback(pool.aclose)
            layer = Transport(
                clients,
                pool=pool,
                make_http=lambda: client(connections),
                key=key,
                retry=retry,
                timeouts=timeouts,
                sleep=sleep,
                clock=clock,
            )
            stack.push_async_callback(layer.aclose)
            yield cls(layer, clock=clock)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        repeatable: bool | None = None,
    ) -> Any:
        """Send one request through the policy layer; its decoded JSON (None when empty)."""
        return await self.transport.request(method, path, params=params, body=body, repeatable=repeatable)

    # -- answer shapes -----------------------------------------------------------------------

    @staticmethod
    def _read(method: str, path: str, read: Callable[..., T], *args: Any) -> T:
        """``read(*args)``; an answer it cannot read is a ProtocolError of this request."""
        try:
            return read(*args)
        except shapes.ShapeError as exc:
            raise ProtocolError(method, path, 200, [str(exc)]) from None

    async def _pages(self, path: str, name: str, read: Callable[[Any], T]) -> list[T]:
        """Every item of a paginated listing, in order, each made a ``read(item)`` as its
        page arrives (so no decoded page outlives its own conversion).

        :func:`wfsync.paging.next_pages` says how many pages to ask for next; a page that
        repeats the one before ends the listing too (a server that ignores ``page``). A
        listing that runs past MAX_PAGES or LISTING_DEADLINE is an error, never cut short.
        """
        deadline = self._clock() + LISTING_DEADLINE

        async def fetch(page: int, limit: int | None) -> tuple[list[T], int | None]:
            params = {"page": page, "limit": limit} if limit else None
            payload = await self.request("GET", path, params=params)
            items = shapes.unwrap(payload, lists=(name,))
            if not isinstance(items, list):
                shown = path + (f"?page={page}&limit={limit}" if limit else "")
                raise ProtocolError("GET", shown, 200, [f"expected a list, got {type(items).__name__}"])
            return [read(item) for item in items], shapes.total(payload)

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
        pages, sizes = [first], [len(first)]
        # A window that slides: a page is asked for as soon as one arrives and the rule
        # allows one more, never waiting for a whole batch (a batch's slowest page would
        # idle both sides). Answers are taken in page order, since the stop rule reads them so.
        flying: dict[int, asyncio.Task[tuple[list[T], int | None]]] = {}
        arrived: dict[int, asyncio.Task[tuple[list[T], int | None]]] = {}  # done, not yet taken
        try:
            while True:
                wanted = paging.next_pages(sizes, total=total, window=PAGE_CONCURRENCY)
                if not wanted and not flying:
                    break
                asked = len(pages) + len(arrived) + len(flying)
                last = min(len(pages) + wanted, MAX_PAGES)  # the last page that may be asked for
                if wanted and ((last <= asked and not flying) or self._clock() > deadline):
                    raise ProtocolError(
                        "GET",
                        path,
                        200,
                        [f"the listing had not ended after {len(pages):,} pages"],
                        hint=f"at most {MAX_PAGES:,} pages or {LISTING_DEADLINE:g} s are read",
                    )
                for number in range(asked + 1, last + 1):
                    flying[number] = asyncio.ensure_future(fetch(number, limit))
                done, _ = await asyncio.wait(flying.values(), return_when=asyncio.FIRST_COMPLETED)
                for number in [number for number, task in flying.items() if task in done]:
                    arrived[number] = flying.pop(number)
                while len(pages) + 1 in arrived:
                    # An error is taken in page order too: a page past the end is not the
                    # listing's, its error neither (a 404 beyond the last page), come first or not.
                    items = arrived.pop(len(pages) + 1).result()[0]
                    if items == pages[-1]:  # the same page again: the server ignores ``page``
                        return [item for items in pages for item in items]
                    pages.append(items)
                    sizes.append(len(items))
                    if not paging.next_pages(sizes, total=total, window=1):
                        # Pages asked for beyond the end are not part of it.
                        return [item for items in pages for item in items]
        finally:
            for task in [*flying.values(), *arrived.values()]:
                task.cancel()  # a done one too: its error, not the listing's, is not logged
            if flying:
                await asyncio.wait(flying.values())
        return [item for items in pages for item in items]

    # -- workflows ---------------------------------------------------------------------------

    async def list_workflows(
        self, known: MutableMapping[str, Mapping[str, Any]] | None = None
    ) -> list[LiveWorkflow]:
        """Every live workflow, through every page.

        The same workflow seen twice (pages shifting under a concurrent write) counts once;
        two different workflows with one id are an error naming it, never one hidden.
        ``known`` holds bodies by title (the definitions'): a live body equal to one is kept
        as that object, as its page arrives (:func:`wfsync.shapes.share`), so that a plan
        does not hold each value twice. A live body whose title it lacks is added to it, for
        a definition read later to hold (wfsync.definitions.loading_steps), its fields equal
        to the body before it held as that one's meanwhile.
        """
        path = "/v1/workflows"
        before: list[Mapping[str, Any]] = []

        def read(raw: Any) -> LiveWorkflow:
            workflow = self._read("GET", path, shapes.workflow_from, raw)
            if known is None:
                return workflow
            workflow = shapes.share(workflow, known, before[0] if before else None)
            known.setdefault(workflow.title, workflow.body)
            before[:] = [workflow.body]
            return workflow

        seen: dict[str, LiveWorkflow] = {}
        for workflow in await self._pages(path, "workflows", read):
            earlier = seen.setdefault(workflow.id, workflow)
            if earlier is not workflow and (earlier.title, earlier.body) != (workflow.title, workflow.body):
                both = f"{workflow.id!r} ({earlier.title!r} and {workflow.title!r})"
                raise ProtocolError("GET", path, 200, [f"two workflows share the id {both}"])
        return list(seen.values())

    async def get_workflow(self, workflow_id: str) -> LiveWorkflow:
        path = f"/v1/workflows/{path_segment(workflow_id)}"
        payload = await self.request("GET", path)
        return self._read("GET", path, lambda: shapes.workflow_from(shapes.one(payload, "a workflow")))

    async def create_workflow(self, body: Mapping[str, Any]) -> LiveWorkflow:
        """Create a workflow. Never retried here after a lost answer: the caller looks first."""
        path = "/v1/workflows"
        payload = await self.request("POST", path, body=dict(body))
        return self._read("POST", path, lambda: shapes.workflow_from(shapes.one(payload, "a workflow")))

    async def update_workflow(self, workflow_id: str, patch: Mapping[str, Any]) -> None:
        """PATCH the given fields (None removes one); any 2xx is success, whatever its body."""
        path = f"/v1/workflows/{path_segment(workflow_id)}"
        await self.transport.request("PATCH", path, body=dict(patch), decode=False)

    async def delete_workflow(self, workflow_id: str) -> None:
        path = f"/v1/workflows/{path_segment(workflow_id)}"
        await self.transport.request("DELETE", path, decode=False)

    async def check_write_scope(self) -> None:
        """Raise ForbiddenError now if the key cannot write, before any real change.

        The API has no way to ask for a key's scopes, so this sends a write that changes
        nothing: an empty PATCH of an id no workflow has (a Mongo ObjectId of zeros). A key
        without ``workflows:write`` is refused with 403; any other answer (404, 400) says
        the scope was not what stopped it.
        """
        try:
            await self.transport.request("PATCH", f"/v1/workflows/{NO_WORKFLOW}", body={}, decode=False)
        except (NotFoundError, RequestError):
            return

    # -- jobs --------------------------------------------------------------------------------

    async def run(self, workflow_id: str) -> str:
        """Start a run now; returns the job id (which following the run needs)."""
        path = f"/v1/workflows/{path_segment(workflow_id)}/run"
        return self._read("POST", path, shapes.job_id_from, await self.request("POST", path))

    async def schedule(self, workflow_id: str, scheduled_date: str, timezone: str) -> str | None:
        """Schedule a one-shot run; the job id when the answer gives one (None otherwise)."""
        path = "/v1/workflows/schedule"
        body = {"workFlowId": workflow_id, "scheduledDate": scheduled_date, "timezone": timezone}
        try:
            answer = await self.transport.request("POST", path, body=body, lenient=True)
            return shapes.job_id_from(answer)
        except shapes.ShapeError:
            return None

    async def cancel(self, workflow_id: str) -> list[str]:
        """Cancel the workflow's pending runs; the ids the server says it cancelled, if it says."""
        path = f"/v1/workflows/{path_segment(workflow_id)}/cancel"
        found = shapes.unwrap(await self.transport.request("POST", path, repeatable=True, lenient=True))
        ids = found.get("cancelled") if isinstance(found, Mapping) else found
        return [str(i) for i in ids if isinstance(i, str | int)] if isinstance(ids, list) else []

    async def list_jobs(self, workflow_id: str) -> list[Job]:
        path = f"/v1/workflows/{path_segment(workflow_id)}/jobs"
        return await self._pages(path, "jobs", lambda raw: self._read("GET", path, shapes.job_from, raw))

    async def get_job(self, job_id: str) -> Job:
        path = f"/v1/workflows/jobs/{path_segment(job_id)}"
        payload = await self.request("GET", path)
        return self._read("GET", path, lambda: shapes.job_from(shapes.one(payload, "a job"), job_id))

    # -- monitoring --------------------------------------------------------------------------

    async def summary(self, workflow_id: str, part: str = "", **params: str) -> Any:
        """``summary``, ``summary/timeline`` or ``summary/report`` (part ``""``, ``timeline``,
        ``report``), unwrapped."""
        path = f"/v1/workflows/{path_segment(workflow_id)}/summary" + (f"/{part}" if part else "")
        return shapes.unwrap(await self.request("GET", path, params=params or None))
