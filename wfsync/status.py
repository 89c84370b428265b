"""The status of an account, for the status page: is it in sync with its definitions, and
how have its workflows run this week.

For one environment, :func:`gather` makes the plan (in sync, drifted with its counts, or
failing with the error) and, for every live workflow, reads the day timeline of its runs
(the last :data:`DAYS` days), its pending schedules and the error of its last failed run:
one listing, then two requests per workflow, a few at a time. It returns plain frozen
values; :mod:`wfsync.status_page` draws them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from wfsync.errors import WfsyncError

__all__ = ["DAYS", "Day", "EnvStatus", "WorkflowStatus", "days_from_timeline", "gather"]

DAYS = 7
_CONCURRENCY = 8


@dataclass(frozen=True)
class Day:
    """The runs of one workflow on one UTC day."""

    date: str  # YYYY-MM-DD
    completed: int = 0
    failed: int = 0
    other: int = 0  # queued, running, cancelled…

    @property
    def total(self) -> int:
        return self.completed + self.failed + self.other


@dataclass(frozen=True)
class WorkflowStatus:
    title: str
    id: str
    days: tuple[Day, ...]
    pending: tuple[str, ...] = ()  # instants of the scheduled runs, UTC, sorted
    last_error: str | None = None
    last_error_at: str | None = None


@dataclass(frozen=True)
class EnvStatus:
    """One environment: ``state`` is ``in sync``, ``drifted`` or ``failing``."""

    name: str
    api_url: str
    state: str
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    workflows: tuple[WorkflowStatus, ...] = ()


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def days_from_timeline(answer: Any, today: datetime) -> tuple[Day, ...]:
    """The last DAYS days (oldest first, ending ``today``) of a ``summary/timeline`` answer.

    The answer's shape is undocumented: a list of periods, or an object holding them under
    ``periods`` (or ``timeline``/``data``); a period names its day in ``period`` (or
    ``date``) and counts ``completed``/``failed`` and ``jobs`` in all. Rows it cannot read
    are left out rather than guessed.
    """
    rows = answer
    if isinstance(answer, Mapping):
        rows = next(
            (answer[k] for k in ("periods", "timeline", "data") if isinstance(answer.get(k), list)), []
        )
    found: dict[str, Day] = {}
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping):
            continue
        date = row.get("period", row.get("date"))
        if not isinstance(date, str) or len(date) < 10:
            continue
        completed, failed = _int(row.get("completed")), _int(row.get("failed"))
        total = max(_int(row.get("jobs", row.get("total"))), completed + failed)
        found[date[:10]] = Day(date[:10], completed, failed, total - completed - failed)
    first = today.date() - timedelta(days=DAYS - 1)
    dates = [(first + timedelta(days=n)).isoformat() for n in range(DAYS)]
    return tuple(found.get(date, Day(date)) for date in dates)


async def _workflow(api: Any, workflow: Any, today: datetime) -> WorkflowStatus:
    timeline, jobs = await asyncio.gather(
        api.summary(workflow.id, "timeline", interval="day"), api.list_jobs(workflow.id)
    )
    pending = sorted(job.instant for job in jobs if job.status == "scheduled" and job.instant)
    failed = [job for job in jobs if job.status == "failed"]
    last = max(failed, key=lambda job: job.finished_at or job.started_at or "", default=None)
    return WorkflowStatus(
        title=workflow.title,
        id=workflow.id,
        days=days_from_timeline(timeline, today),
        pending=tuple(pending),
        last_error=(last.error or "failed") if last else None,
        last_error_at=(last.finished_at or last.started_at) if last else None,
    )


async def gather(
    api: Any,
    *,
    name: str,
    api_url: str,
    definitions: Sequence[Any] | None,
    protect: Sequence[str] = (),
    problem: str | None = None,
    now: datetime,
) -> EnvStatus:
    """The status of the account behind ``api``. ``definitions`` None with a ``problem``: the
    definitions did not load, so the state is failing but the runs are still shown."""
    from wfsync.sync import Account, Options, plan_against

    state, counts, error = "failing", {}, problem
    if definitions is not None:
        try:
            plan = await plan_against(
                api, definitions, Options(protect=tuple(protect)), Account(api_url, name or None), now=now
            )
        except WfsyncError as exc:
            error = str(exc)
        else:
            state = "drifted" if plan.changes else "in sync"
            counts = {action: number for action, number in plan.counts.items() if number}
    try:
        live = await api.list_workflows()
    except WfsyncError as exc:
        return EnvStatus(name, api_url, "failing", counts, error or str(exc))
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(workflow: Any) -> WorkflowStatus:
        async with gate:
            return await _workflow(api, workflow, now)

    try:
        workflows = await asyncio.gather(*(one(w) for w in sorted(live, key=lambda w: w.title)))
    except WfsyncError as exc:
        return EnvStatus(name, api_url, "failing", counts, error or str(exc))
    return EnvStatus(name, api_url, state, counts, error, tuple(workflows))
