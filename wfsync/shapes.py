"""Reading the API's answers in every form SPEC §1 allows.

The platform documents few shapes, so a client must survive many: a list bare or under
``data``/``items``/``results``/``docs`` (nested once too), totals under several names, ids
as ``id`` or ``_id`` (or ``{"$oid": …}``), extra server fields, job states in other
vocabularies, error messages as a string, a list or plain text. Every function here is
pure; an answer it cannot read raises :class:`ShapeError`, which the client reports as a
ProtocolError naming the request that brought it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wfsync import body, safejson
from wfsync.schema import parse_instant, utc_instant

__all__ = [
    "JOB_STATUSES",
    "Job",
    "LiveWorkflow",
    "ShapeError",
    "error_messages",
    "job_from",
    "job_id_from",
    "one",
    "share",
    "total",
    "unwrap",
    "workflow_from",
]

# Job states in other vocabularies (BullMQ's, generic ones) -> SPEC §1's.
JOB_STATUSES = {
    "succeeded": "completed",
    "success": "completed",
    "successful": "completed",
    "done": "completed",
    "error": "failed",
    "errored": "failed",
    "canceled": "cancelled",
    "pending": "queued",
    "waiting": "queued",
    "active": "running",
    "in_progress": "running",
    "delayed": "scheduled",  # BullMQ's word for a job waiting for its time
}


class ShapeError(ValueError):
    """An answer in no shape the API is known or assumed to use."""


@dataclass(frozen=True, slots=True)
class LiveWorkflow:
    """A workflow as the API lists it: its id, title and the fields wfsync manages."""

    id: str
    title: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Job:
    """A run of a workflow, with its state normalised (``succeeded`` -> ``completed``…)."""

    id: str
    status: str
    workflow_id: str | None = None
    scheduled_date: str | None = None
    at: datetime | None = None
    timezone: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)

    @property
    def instant(self) -> str | None:
        """When it is scheduled for, in the platform's UTC form (as sent if unparsable)."""
        return utc_instant(self.at) if self.at is not None else self.scheduled_date


def identity(raw: Mapping[str, Any], *names: str) -> str | None:
    """The first of ``names`` that holds an id (a string, a number, or ``{"$oid": …}``)."""
    for name in names:
        value = raw.get(name)
        if isinstance(value, Mapping) and isinstance(value.get("$oid"), str):
            value = value["$oid"]
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


# Where an envelope may hold its list or object, in the order they are looked for.
ENVELOPE_KEYS = ("data", "items", "results", "docs")


def unwrap(payload: Any, *, lists: tuple[str, ...] = ()) -> Any:
    """The object or list inside an envelope (``data``, ``items``, ``results``, ``docs``),
    nested at most twice. For a listing, ``lists`` names further keys that may hold the list
    itself (``{"data": {"workflows": [...]}}``); only a list is taken from them, since a single
    object may have a field of that name (a summary's ``jobs``)."""
    for _ in range(2):
        if isinstance(payload, Mapping):
            for name in ENVELOPE_KEYS:
                if isinstance(payload.get(name), list | Mapping):
                    payload = payload[name]
                    break
            else:
                named = next((payload[n] for n in lists if isinstance(payload.get(n), list)), None)
                return named if named is not None else payload
    return payload


def total(payload: Any) -> int | None:
    """A listing's stated total, wherever the server put it; None when it states none."""
    containers = [payload]
    if isinstance(payload, Mapping):
        containers += [payload.get(name) for name in ("pagination", "meta", "data", "page_info")]
        inner = payload.get("data")
        if isinstance(inner, Mapping):  # {"data": {"workflows": [...], "pagination": {"total": 9}}}
            containers += [inner.get(name) for name in ("pagination", "meta", "page_info")]
    for container in containers:
        if isinstance(container, Mapping):
            for name in ("total", "totalCount", "total_count", "totalItems", "totalDocs"):
                value = container.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    return value
    return None


def one(payload: Any, what: str) -> Mapping[str, Any]:
    """The single object an answer carries, bare or in an envelope."""
    found = unwrap(payload)
    if not isinstance(found, Mapping):
        raise ShapeError(f"expected {what} object, got {type(found).__name__}")
    return found


def workflow_from(raw: Any) -> LiveWorkflow:
    if not isinstance(raw, Mapping):
        raise ShapeError(f"expected a workflow object, got {type(raw).__name__}")
    found = identity(raw, "id", "_id", "workflowId")
    if found is None or not isinstance(raw.get("title"), str):
        raise ShapeError("a workflow without an id or a title")
    # Only the managed fields are kept: the whole answer was 1.3 KiB per workflow.
    return LiveWorkflow(found, raw["title"], body.project(raw))


def share(
    workflow: LiveWorkflow,
    known: Mapping[str, Mapping[str, Any]],
    neighbour: Mapping[str, Any] | None = None,
) -> LiveWorkflow:
    """``workflow``, holding the body ``known`` has under its title when the two are equal,
    else each of its fields that equals that body's as that body's value. A title ``known``
    lacks shares the fields equal to ``neighbour``'s (the body read just before it:
    neighbours repeat their phrases, callbacks and the like).

    A plan holds every definition and every live workflow at once, and most live bodies
    (or most of their fields) equal their definitions' (``known``, by title): each such
    value is then held once, not twice. Only equal values are shared, so nothing that
    reads the workflow can tell.
    """
    same = known.get(workflow.title, neighbour)
    if same is None or same is workflow.body:
        return workflow
    title = same.get("title")
    title = title if title == workflow.title else workflow.title
    if same == workflow.body:
        return LiveWorkflow(workflow.id, title, same)
    missing = object()
    body = {}
    for name, value in workflow.body.items():
        known_value = same.get(name, missing)
        body[name] = known_value if known_value == value else value
    return LiveWorkflow(workflow.id, title, body)


def job_from(raw: Any, job_id: str | None = None) -> Job:
    if not isinstance(raw, Mapping):
        raise ShapeError(f"expected a job object, got {type(raw).__name__}")
    found = identity(raw, "jobId", "id", "_id") or job_id
    status = raw.get("status", raw.get("state"))
    if found is None or not isinstance(status, str):
        raise ShapeError("a job without an id or a status")
    status = status.strip().lower()
    instants = (_instant_text(raw.get(name)) for name in ("scheduledDate", "scheduledAt", "runAt"))
    scheduled = next((instant for instant in instants if instant), None)

    def text(name: str) -> str | None:
        value = raw.get(name)
        return value if isinstance(value, str) else None

    return Job(
        id=found,
        status=JOB_STATUSES.get(status, status),
        workflow_id=identity(raw, "workflowId", "workFlowId", "workflow"),
        scheduled_date=scheduled,
        at=parse_instant(scheduled) if scheduled else None,
        timezone=text("timezone"),
        started_at=text("startedAt"),
        finished_at=text("finishedAt"),
        error=text("error"),
        raw=raw,
    )


def job_id_from(payload: Any) -> str:
    """The job id a run or schedule answer carries, bare or in an envelope."""
    for candidate in (payload, unwrap(payload)):
        if isinstance(candidate, Mapping):
            found = identity(candidate, "jobId", "id", "_id")
            if found:
                return found
    raise ShapeError("the answer carries no jobId")


def error_messages(content: bytes) -> list[str]:
    """What an error body says, whatever its form (JSON message string or list, text, HTML)."""
    text = content.decode("utf-8", "replace").strip()
    if not text:
        return []
    try:
        payload = safejson.loads(text)
    except ValueError:  # not JSON, or nested absurdly deep: read as text
        payload = None
    messages: list[str] = []
    if isinstance(payload, Mapping):
        for name in ("message", "messages", "errors", "error", "detail"):
            value = payload.get(name)
            if isinstance(value, str) and value:
                messages.append(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, str):
                        messages.append(item)
                    elif isinstance(item, Mapping) and isinstance(item.get("message"), str):
                        messages.append(item["message"])
            if messages:
                break
    elif isinstance(payload, str):
        messages.append(payload)
    elif isinstance(payload, list):
        messages += [item for item in payload if isinstance(item, str)]
    elif payload is None:
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title:
            messages.append(f"an HTML page: {title.group(1).strip()}")
        elif text.startswith("<"):
            messages.append("an HTML page")
        else:
            messages.append(text.splitlines()[0][:300])
    return messages


def _instant_text(value: Any) -> str | None:
    """An instant as ISO text: as sent, or from epoch seconds or milliseconds."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    return None
