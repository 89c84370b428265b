"""After an apply: check the account against a fresh read, and converge what is left.

The platform has no locks and no conditional writes, so two applies started at once from
two machines can both create a workflow, or both schedule the same run. Every apply
therefore ends with verification rounds (one listing, and the jobs of the workflows whose
schedules are managed), each of which:

- resolves duplicates this apply may have made: live workflows sharing the title of a
  workflow the plan created, whose managed fields are all identical, are reduced to the
  one with the smallest id (the rule every runner applies alike, so concurrent runners
  delete the same copies; a 404 on such a delete is someone else's delete, and done);
- plans again and carries out what is still left (a schedule pending twice, a create
  that did not land);
- reports, rather than repeats, a field the server keeps changing back
  ("the server normalises FIELD of TITLE").

Rounds are bounded and start after a short random pause, so that concurrent runners
stop acting in lockstep. What is still left after the last round is named: the apply
then fails, since it cannot prove the account is as defined.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from wfsync.api import WorkflowsApi
from wfsync.apply import ApplyReport, Outcome, apply_plan, kept_copy
from wfsync.changes import Change, Delete, Key, Update
from wfsync.definitions import Definition
from wfsync.errors import PlanError
from wfsync.live import read_jobs
from wfsync.normalised import Normalisation, digest
from wfsync.plan import Plan, compute_plan, jobs_needed
from wfsync.shapes import LiveWorkflow

__all__ = ["ROUNDS", "Convergence", "converge"]

ROUNDS = 6
# The longest random pause before a round that acts (seconds, grows with the round).
PAUSE = 0.4


@dataclass(frozen=True)
class Convergence:
    """What the verification rounds found and did."""

    rounds: int = 0
    reports: tuple[ApplyReport, ...] = ()
    normalised: tuple[str, ...] = ()
    learned: tuple[Normalisation, ...] = ()  # what to remember, so plans stop proposing it
    left: tuple[str, ...] = ()
    remaining: Plan | None = None

    @property
    def ok(self) -> bool:
        """The last round found the account as defined (whatever failed on the way)."""
        return not self.left

    @property
    def outcomes(self) -> list[Outcome]:
        return [outcome for report in self.reports for outcome in report.outcomes]


class _Verifier:
    """What the rounds know of the apply before them, and what they have found so far."""

    def __init__(self, plan: Plan, report: ApplyReport) -> None:
        self.ours = {change.title for change in plan.changes if change.action == "create"}
        self.sent = {
            (change.title, diff.path): diff.new
            for change in plan.changes
            if isinstance(change, Update)
            for diff in change.diffs
        }
        self.failed = {outcome.change.key for outcome in report.outcomes if outcome.status != "done"}
        # The workflows this apply made or planned against. A change to another one (a copy
        # another runner made and everyone keeps) waits one round first: its maker is likely
        # finishing the same change, and two runners making it at once would make it twice.
        self.mine = {o.workflow_id for o in report.outcomes if o.workflow_id} | {
            c.workflow_id for c in plan.changes if c.workflow_id
        }
        # What this apply created, by title: it is never created again here. A listing that
        # lags behind the creates must not make copies (the next round reads it again).
        self.created = {
            o.change.title: o.workflow_id
            for o in report.outcomes
            if o.change.action == "create" and o.status == "done" and o.workflow_id
        }
        self.deferred: set[Key] = set()
        self.rounds = 0
        self.reports: list[ApplyReport] = []
        self.normalised: dict[tuple[str, str], str] = {}
        self.learned: list[Normalisation] = []

    def still_to_do(self, remaining: Plan) -> tuple[list[Change], list[str]]:
        """The changes worth making again, and what waits: not those that failed (reported
        already), nor a field the server keeps changing back (noted and learnt instead), nor
        a workflow this apply created that the listing does not show yet (never made twice)."""
        changes, waiting = [], []
        for change in remaining.changes:
            if change.key in self.failed:  # reported above; not tried again, still left
                waiting.append(f"{change.action} {change.title!r} (it failed above)")
                continue
            if change.key.new_title in self.created:
                if change.action == "create":
                    made = self.created[change.title]
                    waiting.append(f"created {change.title!r} (id {made}) is not in the listing yet")
                continue
            kept = _normalised(change, self.sent, self.ours)
            if kept is None:
                changes.append(change)
                continue
            assert isinstance(change, Update)
            self.normalised.setdefault((change.title, kept[0]), kept[1])
            self.learned += [
                Normalisation(change.title, diff.path, digest(diff.new), digest(diff.old))
                for diff in change.diffs
                if not diff.sensitive
            ]
        return changes, waiting

    def ready(self, changes: Sequence[Change]) -> list[Change]:
        """``changes`` less those on another runner's workflow, which wait a round first."""
        waiting = [c for c in changes if c.workflow_id not in self.mine and c.key not in self.deferred]
        self.deferred.update(change.key for change in waiting)
        return [change for change in changes if change not in waiting]


def _managed_equal(workflows: Sequence[LiveWorkflow]) -> bool:
    first = json.dumps(workflows[0].body, sort_keys=True)
    return all(json.dumps(w.body, sort_keys=True) == first for w in workflows[1:])


def _duplicates(workflows: Sequence[LiveWorkflow], ours: set[str]) -> tuple[list[Delete], list[str]]:
    """Deletes that reduce identical copies of our titles to the smallest id, and what
    cannot be resolved that way (copies that differ, or titles this apply did not create)."""
    by_title: dict[str, list[LiveWorkflow]] = {}
    for workflow in workflows:
        by_title.setdefault(workflow.title, []).append(workflow)
    deletes, unresolved = [], []
    for title, copies in sorted(by_title.items()):
        if len(copies) < 2 or title not in ours:
            continue
        if not _managed_equal(copies):
            ids = ", ".join(sorted(w.id for w in copies))
            unresolved.append(f"{len(copies)} live workflows are titled {title!r} and differ (ids {ids})")
            continue
        keep = kept_copy(w.id for w in copies)
        deletes += [Delete(title, w.id) for w in copies if w.id != keep]
    return deletes, unresolved


async def converge(
    api: WorkflowsApi,
    definitions: Sequence[Definition],
    plan: Plan,
    report: ApplyReport,
    *,
    protect: Sequence[str],
    parallelism: int,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    rounds: int = ROUNDS,
    pause: Callable[[int], float] = lambda round_: random.uniform(0, PAUSE * round_),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Convergence:
    """Verify the account after ``plan`` was carried out (``report``), and converge it.
    Changes that failed in ``report`` are not tried again here (their failure is reported)."""
    verifier = _Verifier(plan, report)
    left: list[str] = []
    remaining: Plan | None = None

    busy = 0.0  # how long the last round's writes took: the next pause is scaled by it

    async def carry_out(changes: Sequence[Change]) -> None:
        """Each workflow's changes as one small plan, the workflows concurrently: a cancel and
        the schedules made again follow each other at once, so that concurrent runners fixing
        the same workflow rarely interleave (each cancel takes every pending run)."""
        nonlocal busy
        started = time.monotonic()
        groups: dict[tuple[str | None, str | None], list[Change]] = {}
        for change in changes:
            groups.setdefault((change.key.workflow_id, change.key.new_title), []).append(change)
        gate = asyncio.Semaphore(max(1, parallelism))

        async def one(group: list[Change]) -> ApplyReport:
            async with gate:
                return await apply_plan(api, Plan(tuple(group)), parallelism=2, report=on_outcome)

        reports = await asyncio.gather(*(one(group) for group in groups.values()))
        verifier.reports.append(ApplyReport([o for report in reports for o in report.outcomes]))
        busy = time.monotonic() - started

    for round_ in range(rounds):
        if round_:
            await asyncio.sleep(pause(round_) + random.uniform(0, 2 * busy))
        verifier.rounds += 1
        workflows = await api.list_workflows()
        deletes, unresolved = _duplicates(workflows, verifier.ours)
        if deletes:
            await carry_out(deletes)
            continue  # read again: another runner may have acted meanwhile
        jobs = await read_jobs(api, jobs_needed(definitions, workflows, plan.selection))
        try:
            remaining = compute_plan(
                definitions,
                workflows,
                jobs,
                now=now(),
                prune=plan.prune,
                protect=protect,
                selection=plan.selection,
                api_url=plan.api_url,
                environment=plan.environment,
            )
        except PlanError as exc:
            left = unresolved or exc.problems
            continue  # duplicates someone else made: they may be resolving them now
        changes, waiting = verifier.still_to_do(remaining)
        left = list(unresolved) + waiting + [f"{change.action} {change.title!r}" for change in changes]
        if not changes:
            remaining = None
            if not left:
                break
            continue
        ready = verifier.ready(changes)
        if ready and round_ + 1 < rounds:
            await carry_out(ready)
    return Convergence(
        verifier.rounds,
        tuple(verifier.reports),
        tuple(verifier.normalised.values()),
        tuple(verifier.learned),
        tuple(left),
        remaining,
    )


def _normalised(
    change: object, sent: dict[tuple[str, str], object], created: set[str]
) -> tuple[str, str] | None:
    """(field, message) when ``change`` would send again what this apply already sent (in
    a create, or in an update of that field) and the server changed back: it normalises it."""
    if not isinstance(change, Update) or not change.diffs:
        return None
    for diff in change.diffs:
        if change.title not in created and sent.get((change.title, diff.path), object()) != diff.new:
            return None
    diff = change.diffs[0]
    shown = (
        ("(sensitive)", "(sensitive)")
        if diff.sensitive
        else (json.dumps(diff.new, ensure_ascii=False), json.dumps(diff.old, ensure_ascii=False))
    )
    return diff.path, (
        f"the server normalises {diff.path} of {change.title!r} (sent {shown[0]}, keeps {shown[1]})"
    )
