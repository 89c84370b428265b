"""What ``wfsync doctor`` makes of a server's answers: their forms, the report, the recording.

Everything here is pure. The probe (:mod:`wfsync.doctor_probe`) sends the requests and
keeps each raw :class:`Exchange`; the functions below say which form of SPEC §1 an answer
is in (each form named as the emulator's ``--dialect`` names it, so a recording can be
replayed), and :class:`Report` holds one :class:`Finding` per question: what was found and
what wfsync does about it.

    >>> listing_envelope({"items": [], "total": 0})
    'items'
    >>> write_form(200, {"status": True, "message": "Workflow updated"})
    'status'
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from wfsync import shapes
from wfsync.errors import ApiError

__all__ = [
    "WRITE_FORMS",
    "Exchange",
    "Finding",
    "Level",
    "Report",
    "answer_id",
    "date_offset",
    "dialect_spec",
    "error_form",
    "id_key",
    "items_of",
    "job_form",
    "jobs_of",
    "listing_envelope",
    "mask_ids",
    "no_answer",
    "one_of",
    "recording",
    "render",
    "write_form",
]

Level = Literal["ok", "note", "problem"]

# The response headers a recording keeps: what tells a form, never a cookie or a token.
RECORDED_HEADERS = ("content-type", "date", "retry-after", "allow", "location", "www-authenticate")
# Keys whose values are ids, masked in a recording (with every other place they appear).
# An account's own ids (organizationId…) say whose account it is: masked too.
ID_KEYS = ("id", "_id", "jobId", "workflowId", "workFlowId", "$oid", "organizationId", "accountId", "userId")
# How a report describes each write form.
WRITE_FORMS = {
    "empty": "no body",
    "status": 'only {"status", "message"}',
    "update-result": "a MongoDB update result",
    "object": "the object in an envelope",
    "bare": "the object, bare",
    "other": "a body in no known form",
}
RESULT_KEYS = frozenset({"acknowledged", "matchedCount", "modifiedCount", "deletedCount", "insertedCount"})


@dataclass(frozen=True)
class Exchange:
    """One request and its answer as they went over the wire (the key is never kept)."""

    step: str
    method: str
    path: str
    query: Mapping[str, str]
    request_body: Any
    status: int
    headers: Mapping[str, str]
    body: Any  # decoded JSON, else the text, else None when empty
    json: bool
    received_at: float  # this machine's clock (epoch seconds) when the answer came
    tls: str | None = None  # the TLS version, for an https answer


@dataclass(frozen=True)
class Finding:
    """One answer to one question: ``found`` on the server, ``action`` what wfsync does."""

    topic: str
    found: str
    action: str = ""
    level: Level = "ok"


@dataclass(frozen=True)
class Report:
    """Every finding of a run, the dialect settings they amount to, and the exchanges."""

    url: str
    write: bool
    findings: tuple[Finding, ...]
    dialect: Mapping[str, str] = field(default_factory=dict)
    exchanges: tuple[Exchange, ...] = ()

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "problem")

    def found(self, topic: str) -> Finding | None:
        return next((f for f in self.findings if f.topic == topic), None)


# The id doctor asks for to see an error answer: shaped like an ObjectId, held by nothing.
# Never masked in a recording, so that a replay is asked for the same path.
UNKNOWN_ID = "000000000000000000000000"


# -- the forms ---------------------------------------------------------------------------------


def listing_envelope(payload: Any) -> str:
    """Where a listing holds its list: ``bare``, ``data``, ``items`` (the dialect's names), or
    another key (``results``, ``data.workflows``…) the emulator has no setting for."""
    if isinstance(payload, list):
        return "bare"
    if isinstance(payload, Mapping):
        for name in shapes.ENVELOPE_KEYS:
            inner = payload.get(name)
            if isinstance(inner, list):
                return name
            if isinstance(inner, Mapping):
                deeper = listing_envelope(inner)
                return f"{name}.{deeper}" if deeper not in ("unknown", "bare") else "unknown"
        named = next((n for n in ("workflows", "jobs") if isinstance(payload.get(n), list)), None)
        if named:
            return named
    return "unknown"


def id_key(item: Any) -> str | None:
    """Which key holds a workflow's id: ``id``, ``_id``, ``workflowId``; None when none does."""
    if isinstance(item, Mapping):
        for name in ("id", "_id", "workflowId"):
            if shapes.identity(item, name):
                return name
    return None


def error_form(exchange: Exchange) -> str:
    """An error answer's form: ``nest`` (NestJS: ``statusCode``, ``message``, ``error``),
    ``string`` (a JSON object with a ``message``), ``text`` (not JSON), or ``other``."""
    if not exchange.json:
        return "text"
    body = exchange.body
    if isinstance(body, Mapping) and "statusCode" in body:
        return "nest"
    if isinstance(body, Mapping) and isinstance(body.get("message"), str | list):
        return "string"
    return "other"


def write_form(status: int, body: Any) -> str:
    """A write's answer (PATCH, DELETE, schedule, cancel) in the dialect's words: ``empty``,
    ``status``, ``update-result``, ``object`` (in ``data``), ``bare``; ``other`` otherwise."""
    if status == 204 or body is None or body == "":
        return "empty"
    if not isinstance(body, Mapping):
        return "other"
    inner = body.get("data")
    if isinstance(inner, Mapping) and RESULT_KEYS & set(inner):
        return "update-result"
    if RESULT_KEYS & set(body):
        return "update-result"
    if isinstance(inner, Mapping):
        return "object"
    if set(body) <= {"status", "message", "statusCode", "success"}:
        return "status"
    return "bare"


def job_form(job: Any) -> str | None:
    """``bullmq`` when a job's state is under ``state``, ``platform`` under ``status``."""
    if not isinstance(job, Mapping):
        return None
    if isinstance(job.get("state"), str):
        return "bullmq"
    if isinstance(job.get("status"), str):
        return "platform"
    return None


def date_offset(text: Any) -> int | None:
    """The UTC offset, in minutes, an ISO date is written in; None when it is no such date."""
    if not isinstance(text, str):
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    offset = at.utcoffset()
    return None if offset is None else int(offset.total_seconds() // 60)


def offset_text(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# -- reading an exchange ---------------------------------------------------------------------


def no_answer(error: ApiError | None) -> str:
    """What went wrong when no answer came: a TLS failure named, else the error itself."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = getattr(cause, "verify_message", None) or cause.reason or cause
            return f"TLS: the certificate was not accepted ({reason})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {cause.reason or cause}"
        cause = cause.__cause__ or cause.__context__
    return str(error) if error else "no answer"  # "GET …: no answer: could not connect to …"


def items_of(exchange: Exchange | None) -> list[Any] | None:
    """The list a successful listing answer holds; None for anything else."""
    if exchange is None or exchange.status >= 300:
        return None
    found = shapes.unwrap(exchange.body, lists=("workflows", "jobs"))
    return found if isinstance(found, list) else None


def one_of(exchange: Exchange | None) -> Mapping[str, Any]:
    """The object a successful answer holds, bare or in an envelope; empty otherwise."""
    if exchange is None or exchange.status >= 300:
        return {}
    found = shapes.unwrap(exchange.body)
    return found if isinstance(found, Mapping) else {}


def answer_id(body: Any, names: tuple[str, ...] = ("id", "_id", "workflowId")) -> str | None:
    """The id an answer carries, bare or in an envelope."""
    for candidate in (body, shapes.unwrap(body)):
        if isinstance(candidate, Mapping):
            found = shapes.identity(candidate, *names)
            if found:
                return found
    return None


def jobs_of(raw: list[Any]) -> list[shapes.Job]:
    """The jobs of a listing that read as jobs (the others say nothing here)."""
    jobs = []
    for item in raw:
        try:
            jobs.append(shapes.job_from(item))
        except shapes.ShapeError:
            continue
    return jobs


# -- the report --------------------------------------------------------------------------------

_MARK = {"ok": "ok", "note": "note", "problem": "PROBLEM"}


def render(report: Report) -> str:
    """The report as text: one line per finding, what wfsync does indented below it."""
    mode = "read and write" if report.write else "read-only"
    lines = [f"wfsync doctor: {report.url} ({mode})", ""]
    width = max((len(f.topic) for f in report.findings), default=0)
    for finding in report.findings:
        lines.append(f"  {_MARK[finding.level]:<7} {finding.topic:<{width}}  {finding.found}")
        if finding.action:
            lines.append(f"  {'':<7} {'':<{width}}  -> {finding.action}")
    lines.append("")
    problems = len(report.problems)
    if problems:
        lines.append(f"{problems} problem{'s' * (problems != 1)} found.")
    else:
        lines.append("No problems found: wfsync can work with this API.")
    return "\n".join(lines) + "\n"


# -- the recording -----------------------------------------------------------------------------


def _ids_in(value: Any, found: dict[str, None]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key in ID_KEYS and isinstance(inner, str | int) and not isinstance(inner, bool):
                found.setdefault(str(inner), None)
            elif key == "cancelled" and isinstance(inner, list):
                for item in inner:
                    if isinstance(item, str | int):
                        found.setdefault(str(item), None)
            _ids_in(inner, found)
    elif isinstance(value, list):
        for item in value:
            _ids_in(item, found)


# The path segments after ``/v1/workflows`` that are the API's words, never an id.
_FIXED_SEGMENTS = frozenset({"jobs", "run", "cancel", "schedule", "summary", "timeline", "report"})
# Shorter ids are masked only where they are a whole value: "12" must not garble a date.
MIN_EMBEDDED_ID = 8


def collect_ids(exchanges: Iterable[Exchange]) -> list[str]:
    """Every id the exchanges carry (in bodies and paths), in order of first appearance."""
    found: dict[str, None] = {}
    for exchange in exchanges:
        _, marker, rest = exchange.path.partition("/v1/workflows/")
        for segment in rest.split("/") if marker else ():
            if segment and segment not in _FIXED_SEGMENTS:
                found.setdefault(segment, None)
        _ids_in(exchange.request_body, found)
        _ids_in(exchange.body, found)
    found.pop(UNKNOWN_ID, None)
    return list(found)


def mask_ids(value: Any, placeholders: Mapping[str, str]) -> Any:
    """``value`` with every id replaced by its placeholder (inside longer strings too, for an
    id of MIN_EMBEDDED_ID characters or more)."""
    if not placeholders:
        return value
    if isinstance(value, str):
        if value in placeholders:
            return placeholders[value]
        long = sorted((k for k in placeholders if len(k) >= MIN_EMBEDDED_ID), key=len, reverse=True)
        if not long:
            return value
        pattern = re.compile("|".join(map(re.escape, long)))
        return pattern.sub(lambda m: placeholders[m.group(0)], value)
    if isinstance(value, Mapping):
        return {mask_ids(k, placeholders): mask_ids(v, placeholders) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_ids(item, placeholders) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and str(value) in placeholders:
        return placeholders[str(value)]
    return value


def recording(report: Report) -> dict[str, str]:
    """The files of a recording, by name: one JSON file per exchange, ``dialect.json`` (what
    ``wfsync emulator --dialect DIR`` reads) and ``report.json``. Ids become ``{id-N}``;
    secrets are masked by the writer (every file goes through the redactor)."""
    placeholders = {value: f"{{id-{n}}}" for n, value in enumerate(collect_ids(report.exchanges), 1)}
    files: dict[str, str] = {}
    width = len(str(len(report.exchanges)))
    for n, exchange in enumerate(report.exchanges, 1):
        document = {
            "step": exchange.step,
            "request": {
                "method": exchange.method,
                "path": "/".join(placeholders.get(part, part) for part in exchange.path.split("/")),
                "query": dict(exchange.query),
                "body": exchange.request_body,
            },
            "response": {
                "status": exchange.status,
                "headers": {k: v for k, v in exchange.headers.items() if k in RECORDED_HEADERS},
                "json": exchange.json,
                "body": exchange.body,
            },
        }
        name = f"{n:0{width}d}-{exchange.step}.json"
        files[name] = _dumps(mask_ids(document, placeholders))
    files["dialect.json"] = _dumps(dict(report.dialect))
    summary = {
        "url": report.url,
        "write": report.write,
        "findings": [
            {"topic": f.topic, "level": f.level, "found": f.found, "action": f.action}
            for f in report.findings
        ],
    }
    files["report.json"] = _dumps(mask_ids(summary, placeholders))
    return files


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def dialect_spec(dialect: Mapping[str, str]) -> str:
    """The settings as ``wfsync emulator --dialect`` takes them on the command line."""
    return ",".join(f"{k}={v}" for k, v in dialect.items())
