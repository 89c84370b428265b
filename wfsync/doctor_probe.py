"""``wfsync doctor``'s probe: the requests it sends, in order, and the findings they give.

Read-only unless asked: the listing (as wfsync asks for it, then with small pages to see
which paging parameters are honoured), an unknown workflow and job (the error form), a
workflow's jobs, and every answer's ``Date`` (the clock). With ``write`` it also takes a
temporary workflow through every write (:mod:`wfsync.doctor_writes`). Then it lists
again: the account must be as the first listing found it.

Requests go through the client's transport (its retries, its error mapping); an httpx
response hook keeps each raw exchange, which is what the forms are read from.

    >>> report = await examine(api, url="https://api.indigenius.ai", write=False)  # doctest: +SKIP
"""

from __future__ import annotations

import email.utils
import json
import statistics
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from wfsync import safejson, shapes
from wfsync.api import path_segment
from wfsync.doctor import (
    UNKNOWN_ID,
    Exchange,
    Finding,
    Level,
    Report,
    date_offset,
    error_form,
    id_key,
    items_of,
    job_form,
    listing_envelope,
    no_answer,
    offset_text,
)
from wfsync.doctor_writes import write_phase
from wfsync.errors import ApiError, WfsyncError
from wfsync.transport import MAX_BODY_BYTES

if TYPE_CHECKING:
    import httpx

    from wfsync.api import ApiClient

__all__ = ["Probe", "Recorder", "examine"]

LIMIT = 100
CLOCK_TOLERANCE = 2.0  # seconds: a Date header has whole seconds
CLOCK_PROBLEM = 300.0
DIALECT_FORMS = {
    "envelope": ("data", "items", "bare"),
    "id": ("id", "_id"),
    "errors": ("nest", "string", "text"),
    "writes": ("object", "bare", "status", "update-result", "empty"),
}
ERROR_FORMS = {
    "nest": "JSON in NestJS's form (statusCode, message, error)",
    "string": "a JSON object with a message",
    "text": "plain text",
    "other": "JSON without a message",
}


class Recorder:
    """An httpx response hook keeping every exchange (the request's key is never read)."""

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self.exchanges: list[Exchange] = []
        self.step = "start"
        self._clock = wall_clock

    async def __call__(self, response: httpx.Response) -> None:
        request = response.request
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return  # the transport refuses it unread; a recording needs no such body
        # Read here so the hook sees the body; the transport then reads the same bytes, and
        # its time limit covers this read too.
        await response.aread()
        content = response.content
        body: Any = None
        is_json = False
        if content.strip():
            try:
                body, is_json = safejson.loads(content), True
            except ValueError:
                body = content[:4000].decode("utf-8", "replace")
        sent: Any = None
        if request.content:
            try:
                sent = json.loads(request.content)
            except ValueError:
                sent = request.content[:4000].decode("utf-8", "replace")
        tls = None
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        if ssl_object is not None:
            tls = ssl_object.version()
        self.exchanges.append(
            Exchange(
                step=self.step,
                method=request.method,
                path=request.url.path,
                query=dict(request.url.params),
                request_body=sent,
                status=response.status_code,
                headers={k.lower(): v for k, v in response.headers.items()},
                body=body,
                json=is_json,
                received_at=self._clock(),
                tls=tls,
            )
        )


class _Stop(Exception):
    """The probe cannot go on (no answer, a refused key): the report so far is the answer."""


class Probe:
    def __init__(self, api: ApiClient, recorder: Recorder, url: str, wall_clock: Callable[[], float]) -> None:
        self.api = api
        self.recorder = recorder
        self.url = url
        self.clock = wall_clock
        self.findings: list[Finding] = []
        self.dialect: dict[str, str] = {}
        self.before: list[tuple[str, str, str]] | None = None
        self.first_listed: str | None = None  # whose jobs show the job form

    def add(self, topic: str, found: str, action: str = "", level: Level = "ok") -> None:
        self.findings.append(Finding(topic, found, action, level))

    def setting(self, name: str, value: str) -> None:
        if value in DIALECT_FORMS.get(name, (value,)):
            self.dialect.setdefault(name, value)

    async def ask(
        self, step: str, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> tuple[Exchange | None, ApiError | None]:
        """Send one request; its last raw exchange (None without an answer) and its error."""
        self.recorder.step = step
        seen = len(self.recorder.exchanges)
        error = None
        try:
            await self.api.transport.request(method, path, params=params, body=body, lenient=True)
        except ApiError as exc:
            error = exc
        got = self.recorder.exchanges[seen:]
        return (got[-1] if got else None), error

    # -- reading --------------------------------------------------------------------------

    async def connection(self) -> tuple[Exchange, list[Any], int]:
        """The first listing as wfsync asks for it: the URL, TLS, the key, the read scope."""
        limits: list[int | None] = [LIMIT, 20, None]
        for limit in limits:  # as wfsync does: a limit refused with 400, ask for less
            params = {"page": 1, "limit": limit} if limit else None
            answer, error = await self.ask("list", "GET", "/v1/workflows", params=params)
            if answer is None:
                self.add("connection", no_answer(error), "nothing else can be checked", "problem")
                raise _Stop
            exchange = answer
            if exchange.status != 400:
                break
        if exchange.tls:
            self.add(
                "connection", f"https, {exchange.tls}, certificate verified", "the key goes only over it"
            )
        else:
            self.add("connection", "plain http to this machine (no TLS)", "fine for the emulator or a tunnel")
        status = exchange.status
        if status == 401:
            self.add(
                "key", "refused (401)", "check WFSYNC_API_KEY (or the environment's api_key_env)", "problem"
            )
            raise _Stop
        if status == 403:
            self.add(
                "key",
                "accepted, but it lacks workflows:read (403)",
                "no command can read the account",
                "problem",
            )
            raise _Stop
        if status >= 300:
            said = f": {error}" if error else ""
            hint = "check the API URL (the host, without /v1)" if status in (301, 302, 307, 308, 404) else ""
            self.add("listing", f"answered {status}{said}", hint, "problem")
            raise _Stop
        self.add("key", "accepted, with workflows:read", "plan, pull, jobs and status work")
        if limit != LIMIT:
            shown = f"limit={limit}" if limit else "no paging parameters"
            self.add(
                "paging",
                f"limit={LIMIT} refused (400); {shown} accepted",
                "wfsync asks for less the same way",
                "note",
            )
        items = shapes.unwrap(exchange.body, lists=("workflows",))
        if not isinstance(items, list):
            found = type(exchange.body).__name__ if exchange.json else "not JSON"
            self.add(
                "listing", f"no list in the answer ({found})", "wfsync cannot read this listing", "problem"
            )
            raise _Stop
        return exchange, items, limit or 0

    async def listing(self) -> None:
        exchange, items, asked = await self.connection()
        envelope = listing_envelope(exchange.body)
        described = "a bare JSON array" if envelope == "bare" else f"the list under {envelope!r}"
        if envelope in DIALECT_FORMS["envelope"]:
            self.add("listing", described, "wfsync reads it")
            self.setting("envelope", envelope)
        else:
            self.add("listing", described, "wfsync reads it (the emulator has no such dialect)", "note")
        try:
            self.recorder.step = "list-all"
            live = await self.api.list_workflows()
        except WfsyncError as exc:
            self.add(
                "listing", f"wfsync cannot read it whole: {exc}", "plan and apply would stop here", "problem"
            )
            raise _Stop from None
        self.before = _state(live)
        self.first_listed = live[0].id if live else None
        count = len(live)
        key = id_key(items[0]) if items else None
        if items and key is None:
            self.add("ids", "a workflow without an id", "wfsync cannot match it", "problem")
        elif key:
            self.add("ids", f"under {key!r}", "wfsync reads id or _id alike")
            self.setting("id", key)
        total = shapes.total(exchange.body)
        if total is None:
            self.add("total", "not stated", "wfsync stops at a page shorter than the first, or empty")
            self.dialect["total"] = "no"
        elif total == count:
            self.add(
                "total",
                f"stated ({total:,}), and it matches the listing",
                "wfsync stops at it or at a short page",
            )
            self.dialect["total"] = "yes"
        else:
            self.add(
                "total",
                f"stated {total:,}, but {count:,} workflows were read",
                "wfsync trusts the pages: a short page ends the listing whatever the total says",
                "note",
            )
        served = len(items)
        if asked and served < asked and count > served:
            self.add(
                "page size",
                f"capped at {served} (asked for {asked})",
                f"wfsync asks for {asked} and follows the cap",
            )
            self.dialect["page-cap"] = str(served)
        elif asked and served >= asked:
            self.add("page size", f"{served} per page, as asked", "wfsync reads full pages until a short one")
        else:
            self.add(
                "page size",
                f"no cap seen: the account's {count:,} workflows fit one page",
                "nothing to follow",
            )
        await self.paging(count)

    async def paging(self, count: int) -> None:
        if count < 2:
            self.add(
                "paging",
                "page and limit not checked: fewer than 2 workflows",
                "wfsync stops at a short page",
                "note",
            )
            return
        one, _ = await self.ask("page-1", "GET", "/v1/workflows", params={"page": 1, "limit": 1})
        two, _ = await self.ask("page-2", "GET", "/v1/workflows", params={"page": 2, "limit": 1})
        first = items_of(one)
        second = items_of(two)
        limit_ok = first is not None and len(first) == 1
        page_ok = first is not None and second is not None and bool(second) and second[:1] != first[:1]
        if limit_ok and page_ok:
            self.add("paging", "page and limit honoured", "wfsync pages with them")
        else:
            ignored = " and ".join(n for n, ok in (("limit", limit_ok), ("page", page_ok)) if not ok)
            self.add(
                "paging",
                f"{ignored} not honoured",
                "wfsync ends a listing at a page that repeats the one before",
                "note",
            )

    async def errors(self) -> None:
        exchange, error = await self.ask("unknown-workflow", "GET", f"/v1/workflows/{UNKNOWN_ID}")
        if exchange is None:
            self.add("errors", no_answer(error), level="problem")
            return
        form = error_form(exchange)
        said = "; ".join(error.messages) if error else "(no message)"
        if exchange.status == 404:
            self.add(
                "errors",
                f"404 for an unknown workflow, {ERROR_FORMS[form]}: {said!r}",
                "wfsync shows the server's message",
            )
        else:
            self.add(
                "errors",
                f"an unknown workflow answers {exchange.status}, {ERROR_FORMS[form]}",
                "wfsync shows the server's message",
                "note",
            )
        self.setting("errors", form)
        job, error = await self.ask("unknown-job", "GET", f"/v1/workflows/jobs/{UNKNOWN_ID}")
        if job is not None and job.status != 404:
            self.add(
                "errors",
                f"an unknown job answers {job.status}",
                "wfsync job shows the server's message",
                "note",
            )

    async def jobs(self, workflow_id: str, step: str) -> list[Any] | None:
        exchange, _ = await self.ask(
            step, "GET", f"/v1/workflows/{path_segment(workflow_id)}/jobs", params={"page": 1, "limit": LIMIT}
        )
        return items_of(exchange)

    async def read_jobs(self, workflow_id: str | None) -> None:
        jobs = await self.jobs(workflow_id, "jobs") if workflow_id else None
        if jobs:
            self.job_findings(jobs)

    def job_findings(self, jobs: list[Any]) -> None:
        form = job_form(jobs[0])
        if form == "bullmq":
            self.add(
                "jobs",
                "state under 'state', in BullMQ words",
                "wfsync reads delayed as scheduled, waiting as queued, active as running",
            )
        elif form == "platform":
            self.add("jobs", "state under 'status'", "wfsync reads it")
        else:
            self.add("jobs", "a job without a state", "wfsync cannot follow its runs", "problem")
        if form:
            self.dialect.setdefault("jobs", form)

    def dates(self) -> None:
        offsets = {
            offset
            for exchange in self.recorder.exchanges
            for item in (items_of(exchange) or [shapes.unwrap(exchange.body)])
            if isinstance(item, Mapping)
            for name in ("createdAt", "updatedAt", "scheduledDate")
            if (offset := date_offset(item.get(name))) is not None
        }
        if not offsets:
            return
        shown = ", ".join(sorted("UTC" if o == 0 else offset_text(o) for o in offsets))
        action = "wfsync compares instants, whatever the offset"
        self.add("dates", f"written in {shown}", action, "ok")
        if len(offsets) == 1:
            self.dialect["offset"] = offset_text(offsets.pop())

    def retries(self) -> None:
        """Answers the transport retried: throttling (429) and server errors (5xx)."""
        throttled = [e for e in self.recorder.exchanges if e.status == 429]
        failed = [e for e in self.recorder.exchanges if e.status >= 500]
        if throttled:
            after = sorted({e.headers.get("retry-after", "none") for e in throttled})
            self.add(
                "throttling",
                f"{len(throttled)} answer(s) 429, Retry-After: {', '.join(after)}",
                "wfsync waits as asked (60 s at most) and every worker waits too",
                "note",
            )
        if failed:
            statuses = ", ".join(sorted({str(e.status) for e in failed}))
            self.add(
                "server errors",
                f"{len(failed)} answer(s) {statuses}",
                "wfsync retries reads, PATCH and DELETE; never a create, run or schedule",
                "note",
            )

    def clock_skew(self) -> None:
        skews = []
        for exchange in self.recorder.exchanges:
            try:
                server = email.utils.parsedate_to_datetime(exchange.headers["date"]).timestamp()
            except (KeyError, TypeError, ValueError, IndexError, OverflowError):
                continue
            skews.append(exchange.received_at - (server + 0.5))  # a Date has whole seconds
        if not skews:
            self.add(
                "clock",
                "the server sends no Date: skew unknown",
                "wfsync judges a schedule past by this machine's clock",
                "note",
            )
            return
        skew = statistics.median(skews)
        if abs(skew) <= CLOCK_TOLERANCE:
            self.add(
                "clock",
                f"in step with the server's Date (within {CLOCK_TOLERANCE:g} s)",
                "schedules are judged past alike",
            )
            return
        side = "ahead of" if skew > 0 else "behind"
        level: Level = "problem" if abs(skew) >= CLOCK_PROBLEM else "note"
        self.add(
            "clock",
            f"this machine is {_duration(abs(skew))} {side} the server",
            f"wfsync judges a schedule past by this machine's clock, the server runs it by its own: "
            f"a schedule less than {_duration(abs(skew))} from now may be judged differently",
            level,
        )

    async def account(self) -> None:
        """The final listing: the account must be as the first listing found it."""
        if self.before is None:
            return
        self.recorder.step = "final-list"
        try:
            after = _state(await self.api.list_workflows())
        except WfsyncError as exc:
            self.add("account", f"the final listing failed: {exc}", level="problem")
            return
        if after == self.before:
            self.add("account", f"as it was: the same {len(after):,} workflows in the final listing", "")
            return
        added = sorted({t for _, t, _ in after} - {t for _, t, _ in self.before})
        shown = f" (new: {', '.join(map(repr, added[:5]))})" if added else ""
        self.add(
            "account",
            f"the final listing differs from the first{shown}",
            "another writer, or a probe left behind",
            "problem",
        )


async def examine(
    api: ApiClient, *, url: str, write: bool = False, wall_clock: Callable[[], float] = time.time
) -> Report:
    """Probe the API behind ``api``; the report of every finding (nothing raised for a
    server's answer: a refused key or no answer at all is a finding too)."""
    recorder = Recorder(wall_clock)
    hooks = api.transport.http.event_hooks
    hooks["response"] = [*hooks.get("response", []), recorder]
    api.transport.http.event_hooks = hooks
    probe = Probe(api, recorder, url, wall_clock)
    try:
        await probe.listing()
        await probe.errors()
        await probe.read_jobs(probe.first_listed)
        if write:
            await write_phase(probe)
        else:
            probe.add(
                "write scope",
                "not checked",
                "--write checks it with a temporary workflow, deleted after",
                "note",
            )
    except _Stop:
        pass
    await probe.account()
    probe.dates()
    if recorder.exchanges:
        probe.retries()
        probe.clock_skew()
    order = (
        "envelope",
        "id",
        "page-cap",
        "total",
        "errors",
        "writes",
        "titles",
        "defaults",
        "jobs",
        "offset",
    )
    dialect = {name: probe.dialect[name] for name in order if name in probe.dialect}
    return Report(url, write, tuple(probe.findings), dialect, tuple(recorder.exchanges))


# -- helpers -------------------------------------------------------------------------------


def _state(live: list[Any]) -> list[tuple[str, str, str]]:
    return sorted((w.id, w.title, json.dumps(w.body, sort_keys=True)) for w in live)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
