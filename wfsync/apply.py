"""Carrying out a plan: in dependency order, concurrently, and so that a re-run converges.

Phases, each concurrent up to ``parallelism`` requests:

1. creates and updates;
2. cancels (the platform cancels all of a workflow's pending runs, so a workflow's cancel
   must come before its schedules are made again: the reverse order would cancel them);
3. schedules, with the ids of workflows created in phase 1;
4. deletes, last.

A schedule whose workflow failed to be created, or whose cancel failed, is skipped and
reported as such; every other change runs whatever else failed. Each change names the
changes it waits for by their keys (``Change.after``). A 409 Conflict (or any 4xx) on a
create is the server's refusal: it is reported with the server's reason, never sent again.

Creates are not idempotent. When a create's answer is lost (a timeout, a dropped
connection, a 5xx, a garbled answer) the server may have acted, so the create is not
simply sent again: after the phase, one listing of the account looks up every such
title; those found are adopted, the others are created again, for a few rounds. A lost
schedule answer is checked the same way against the workflow's jobs. A 429 is retried by
the API client, which pauses every worker (the server did not act on it).

    >>> report = await apply_plan(api, plan, parallelism=10)        # doctest: +SKIP
    >>> report.summary_line()                                      # doctest: +SKIP
    'Apply complete: 2 created, 1 updated, 0 cancelled, 1 scheduled, 0 deleted, 0 failed.'
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from wfsync.api import WorkflowsApi
from wfsync.changes import Change, Create, Key, ScheduleRun, Update
from wfsync.errors import (
    ApiError,
    ForbiddenError,
    NotFoundError,
    ProtocolError,
    ServerError,
    TransportError,
)
from wfsync.live import read_jobs
from wfsync.plan import Plan

__all__ = [
    "DEFAULT_PARALLELISM",
    "LOOKUP_ROUNDS",
    "ApplyReport",
    "Outcome",
    "apply_plan",
    "kept_copy",
]

# Terraform's default; the apply benchmark (bench/apply.py) measures what it gives.
DEFAULT_PARALLELISM = 10
LOOKUP_ROUNDS = 4
PAST = {
    "create": "created",
    "update": "updated",
    "cancel": "cancelled",
    "schedule": "scheduled",
    "delete": "deleted",
}


def kept_copy(ids: Iterable[str]) -> str:
    """Of several workflows made for one title (concurrent applies), the one every runner
    keeps: the smallest id (ids of one length compared as text; ObjectIds grow with time)."""
    return min(ids, key=lambda workflow_id: (len(workflow_id), workflow_id))


# Errors after which the server may have carried out a request that is not safe to repeat.
UNCERTAIN = (TransportError, ServerError, ProtocolError)

Status = Literal["done", "failed", "skipped"]


@dataclass(frozen=True)
class Outcome:
    """What became of one change."""

    change: Change
    status: Status
    detail: str = ""
    workflow_id: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        return {
            "action": self.change.action,
            "title": self.change.title,
            "id": self.workflow_id or self.change.workflow_id,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass
class ApplyReport:
    outcomes: list[Outcome] = field(default_factory=list)
    interrupted: bool = False  # a signal stopped it: what did not start is skipped
    forbidden: bool = False  # the key lacks a scope: the other writes were not tried

    @property
    def ok(self) -> bool:
        return all(outcome.status == "done" for outcome in self.outcomes)

    @property
    def counts(self) -> dict[str, int]:
        counts = {PAST[action]: 0 for action in PAST} | {"failed": 0, "skipped": 0}
        for outcome in self.outcomes:
            key = PAST[outcome.change.action] if outcome.status == "done" else outcome.status
            counts[key] += 1
        return counts

    def summary_line(self) -> str:
        counts = self.counts
        done = ", ".join(f"{counts[word]} {word}" for word in PAST.values())
        tail = f"{counts['failed']} failed" + (f", {counts['skipped']} skipped" if counts["skipped"] else "")
        head = "Apply complete" if self.ok else "Apply finished with failures"
        return f"{head}: {done}, {tail}."

    @property
    def data(self) -> dict[str, Any]:
        return {"ok": self.ok, "counts": self.counts, "results": [o.data for o in self.outcomes]}


class _Applier:
    def __init__(self, api: WorkflowsApi, parallelism: int, report: Callable[[Outcome], None]) -> None:
        self.api = api
        self.gate = asyncio.Semaphore(max(1, parallelism))
        self.report = report
        self.outcomes: dict[Key, Outcome] = {}
        self.created: dict[Key, str] = {}  # a create's key -> the id of the workflow it made
        self.forbidden: ForbiddenError | None = None  # a 403: every other write would get one too
        self.stopping = False  # asked to stop (SIGTERM, Ctrl-C): start nothing new

    def stop(self) -> None:
        """Start no more changes; those in flight finish and are reported."""
        self.stopping = True

    def finish(
        self, change: Change, status: Status, detail: str = "", workflow_id: str | None = None
    ) -> Outcome:
        outcome = Outcome(change, status, detail, workflow_id)
        self.outcomes[change.key] = outcome
        self.report(outcome)
        return outcome

    def blocked(self, change: Change) -> str | None:
        """Why ``change`` cannot run (a change it waits for did not succeed), or None."""
        for key in change.after:
            outcome = self.outcomes.get(key)
            if outcome is not None and outcome.status == "done":
                continue
            if key.action == "create":
                return "its workflow was not created"
            failed = outcome is not None and outcome.status == "failed"
            return f"the {key.action} before it {'failed' if failed else 'did not run'}"
        return None

    def workflow_of(self, change: Change) -> str | None:
        """The id of the workflow ``change`` acts on: live, or made by this apply."""
        if change.workflow_id is not None:
            return change.workflow_id
        return self.created.get(Key("create", None, change.title))

    async def limited(self, change: Change, step: Callable[[Change], Awaitable[Any]]) -> Any:
        async with self.gate:
            if self.stopping:
                self.finish(change, "skipped", "apply was interrupted before it", change.workflow_id)
                return None
            if self.forbidden is not None:
                self.finish(
                    change,
                    "skipped",
                    f"the API key lacks the {self.forbidden.scope} scope",
                    change.workflow_id,
                )
                return None
            try:
                return await step(change)
            except ForbiddenError as exc:
                self.forbidden = exc
                self.finish(change, "failed", str(exc), change.workflow_id)
            except ApiError as exc:  # refused: the server's reason is the report
                self.finish(change, "failed", str(exc), self.workflow_of(change))
            return None

    async def phase(self, changes: Sequence[Change], step: Callable[[Change], Awaitable[Any]]) -> list[Any]:
        return await asyncio.gather(*(self.limited(change, step) for change in changes))

    # -- creates -------------------------------------------------------------------------------

    async def create(self, change: Change) -> Change | None:
        """Create; returns the change when its answer was lost (the server may have acted)."""
        assert isinstance(change, Create)
        try:
            created = await self.api.create_workflow(change.body)
        except UNCERTAIN:
            return change
        # Any 4xx (409 included: a server keeping titles unique) is the server's refusal and
        # propagates as such; it is never sent again nor looked up as a lost answer.
        self.created[change.key] = created.id
        self.finish(change, "done", f"id {created.id}", created.id)
        return None

    async def settle_creates(self, uncertain: list[Change]) -> None:
        """Look up each create whose answer was lost; adopt what exists, create the rest again."""
        for round_ in range(LOOKUP_ROUNDS):
            if round_ and self.stopping:
                break
            if not uncertain:
                return
            try:
                live = await self.api.list_workflows()
            except ApiError as exc:
                for change in uncertain:
                    self.finish(change, "failed", f"its answer was lost and the check failed: {exc}")
                return
            by_title: dict[str, list[str]] = {}
            for workflow in live:
                by_title.setdefault(workflow.title, []).append(workflow.id)
            again: list[Change] = []
            for change in uncertain:
                found = by_title.get(change.title, [])
                if len(found) == 1:
                    self.created[change.key] = found[0]
                    self.finish(
                        change, "done", f"id {found[0]} (its answer was lost; found in the listing)", found[0]
                    )
                elif found:
                    # Copies made by another apply running at the same time: keep the one every
                    # runner keeps (the smallest id); the verification round removes the others.
                    kept = kept_copy(found)
                    self.created[change.key] = kept
                    self.finish(
                        change, "done", f"id {kept} (its answer was lost; {len(found)} copies found)", kept
                    )
                else:
                    again.append(change)
            if round_ + 1 < LOOKUP_ROUNDS:
                uncertain = [c for c in await self.phase(again, self.create) if c is not None]
            else:
                uncertain = again
        for change in uncertain:
            self.finish(
                change, "failed", f"no answer to the create after {LOOKUP_ROUNDS} tries, and not found"
            )

    # -- updates, cancels, deletes --------------------------------------------------------------

    async def update(self, change: Change) -> None:
        assert isinstance(change, Update) and change.workflow_id
        try:
            await self.api.update_workflow(change.workflow_id, change.patch)
        except NotFoundError:
            self.finish(change, "failed", "the workflow no longer exists", change.workflow_id)
        else:
            self.finish(change, "done", "", change.workflow_id)

    async def cancel(self, change: Change) -> None:
        assert change.workflow_id
        cancelled = await self.api.cancel(change.workflow_id)
        self.finish(change, "done", f"{len(cancelled)} pending run(s) cancelled", change.workflow_id)

    async def delete(self, change: Change) -> None:
        assert change.workflow_id
        try:
            await self.api.delete_workflow(change.workflow_id)
        except NotFoundError:
            self.finish(change, "done", "already gone", change.workflow_id)
        else:
            self.finish(change, "done", "", change.workflow_id)

    # -- schedules -----------------------------------------------------------------------------

    async def schedule(self, change: Change) -> tuple[Change, str] | None:
        """Schedule; returns (change, workflow id) when its answer was lost."""
        assert isinstance(change, ScheduleRun)
        workflow_id = self.workflow_of(change)
        if workflow_id is None:
            self.finish(change, "skipped", "its workflow was not created")
            return None
        try:
            job_id = await self.api.schedule(workflow_id, change.instant, change.timezone)
        except UNCERTAIN:
            return change, workflow_id
        self.finish(change, "done", f"job {job_id}" if job_id else "", workflow_id)
        return None

    async def settle_schedules(self, uncertain: list[tuple[Change, str]]) -> None:
        """Check the jobs of each workflow whose schedule answer was lost (one listing per
        workflow, concurrently); schedule again what is missing."""
        for round_ in range(LOOKUP_ROUNDS):
            if not uncertain:
                return
            try:
                jobs = await read_jobs(self.api, [workflow_id for _, workflow_id in uncertain])
            except ApiError as exc:
                for change, workflow_id in uncertain:
                    self.finish(
                        change, "failed", f"its answer was lost and the check failed: {exc}", workflow_id
                    )
                return
            again: list[tuple[Change, str]] = []
            for change, workflow_id in uncertain:
                assert isinstance(change, ScheduleRun)
                pending = {job.instant for job in jobs[workflow_id] if job.status == "scheduled"}
                if change.instant in pending:
                    self.finish(change, "done", "its answer was lost; found among the jobs", workflow_id)
                else:
                    again.append((change, workflow_id))
            if round_ + 1 < LOOKUP_ROUNDS:
                retried = await self.phase([change for change, _ in again], self.schedule)
                uncertain = [lost for lost in retried if lost is not None]
            else:
                uncertain = again
        for change, workflow_id in uncertain:
            self.finish(
                change, "failed", f"no answer to the schedule after {LOOKUP_ROUNDS} tries", workflow_id
            )

    # -- the whole plan -----------------------------------------------------------------------

    async def run(self, plan: Plan) -> ApplyReport:
        for phase in sorted({change.phase for change in plan.changes}):
            ready: dict[str, list[Change]] = {}
            for change in plan.changes:
                if change.phase != phase:
                    continue
                reason = self.blocked(change)
                if reason:
                    self.finish(change, "skipped", reason, self.workflow_of(change))
                else:
                    ready.setdefault(change.action, []).append(change)
            await asyncio.gather(*(self.step(action, changes) for action, changes in ready.items()))
        return ApplyReport(
            [self.outcomes[change.key] for change in plan.changes], self.stopping, self.forbidden is not None
        )

    async def step(self, action: str, changes: list[Change]) -> None:
        """Carry out one phase's changes of one action, and settle lost answers."""
        if action == "create":
            lost = await self.phase(changes, self.create)
            await self.settle_creates([c for c in lost if c is not None])
        elif action == "schedule":
            await self.settle_schedules(
                [r for r in await self.phase(changes, self.schedule) if r is not None]
            )
        else:
            await self.phase(
                changes, {"update": self.update, "cancel": self.cancel, "delete": self.delete}[action]
            )


async def apply_plan(
    api: WorkflowsApi,
    plan: Plan,
    *,
    parallelism: int = DEFAULT_PARALLELISM,
    report: Callable[[Outcome], None] = lambda outcome: None,
    stop_on: Sequence[int] = (),
) -> ApplyReport:
    """Carry out ``plan``; ``report`` hears of each change as it ends. Never raises for a
    failed change: the report says what became of each.

    On any signal in ``stop_on`` (SIGTERM, SIGINT) no new change starts; those in flight
    finish, the rest are reported as skipped, and a re-run carries them out.
    """
    applier = _Applier(api, parallelism, report)
    loop = asyncio.get_running_loop()
    installed = []
    for signal_number in stop_on:
        try:
            loop.add_signal_handler(signal_number, applier.stop)
            installed.append(signal_number)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            pass
    try:
        return await applier.run(plan)
    finally:
        for signal_number in installed:
            loop.remove_signal_handler(signal_number)
