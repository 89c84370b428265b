"""Definitions + live state -> a Plan of changes. Pure: no network, no files, no clock.

Matching (SPEC §3): a definition matches the live workflow with its title, else one with
a title in its ``formerTitles`` (a rename, carried out as a PATCH so the id and history
survive). Two live workflows under a title a definition claims are an error: wfsync
never picks one. Live workflows without a definition are unmanaged and left alone, unless
``prune``: then they are deleted, except those a ``protect`` glob covers.

Comparison: only the fields definitions manage (title, callbackUrl, webhook.url,
endCall.phrases); server-added fields never differ; null equals absent; ``phrases``
compare as a set (order and repeats do not matter: any listed phrase ends the call).
A field a definition leaves out is removed from the live workflow (PATCH with null).

Schedules compare as instants (UTC). The platform's cancel cancels all of a workflow's
pending runs, so removing one of several schedules is a cancel plus the re-scheduling
of the others, shown explicitly. A schedule in the past is a warning, not a change.

    >>> plan = compute_plan(definitions, live, now=datetime.now(UTC))   # doctest: +SKIP
    >>> [change.action for change in plan.changes]                     # doctest: +SKIP
    ['create', 'update']
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from wfsync import body as workflow_body
from wfsync.body import FieldDiff
from wfsync.changes import ACTIONS, Cancel, Change, Create, Delete, ScheduleRun, Update, templated
from wfsync.config import Safety
from wfsync.definitions import Definition, Schedule
from wfsync.errors import PlanError, UnsafePlan
from wfsync.normalised import Normalisation, digest
from wfsync.shapes import Job, LiveWorkflow

__all__ = [
    "LiveRef",
    "Plan",
    "Selection",
    "check_safety",
    "compute_plan",
    "jobs_needed",
    "live_digest",
]


@dataclass(frozen=True)
class Selection:
    """The workflows a run may touch, by title glob: ``--only``/``--exclude`` and an
    environment's own ``only`` (``within``). Nothing outside it is created, changed,
    scheduled, cancelled or deleted."""

    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    within: tuple[str, ...] = ()

    def covers(self, title: str) -> bool:
        return (
            _any_glob(title, self.only, default=True)
            and _any_glob(title, self.within, default=True)
            and not _any_glob(title, self.exclude, default=False)
        )

    @property
    def everything(self) -> bool:
        return not (self.only or self.exclude or self.within)

    @property
    def data(self) -> dict[str, list[str]]:
        return {"only": list(self.only), "exclude": list(self.exclude), "within": list(self.within)}


def _any_glob(title: str, globs: Sequence[str], *, default: bool) -> bool:
    return any(fnmatch.fnmatchcase(title, glob) for glob in globs) if globs else default


@dataclass(frozen=True)
class LiveRef:
    id: str
    title: str

    @property
    def data(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title}


@dataclass(frozen=True)
class Plan:
    """What would change in one account, and what was seen but left alone. Its ``data`` is
    the JSON plan; ``options`` records how it was computed (prune, selection)."""

    changes: tuple[Change, ...]
    unmanaged: tuple[LiveRef, ...] = ()
    protected: tuple[LiveRef, ...] = ()
    warnings: tuple[str, ...] = ()
    live_count: int = 0
    api_url: str | None = None
    environment: str | None = None
    prune: bool = False
    selection: Selection = field(default_factory=Selection)

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(change.action for change in self.changes)
        return {action: found[action] for action in ACTIONS}

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def data(self) -> dict[str, Any]:
        return {
            "format_version": 1,
            "api_url": self.api_url,
            "environment": self.environment,
            "prune": self.prune,
            "selection": self.selection.data,
            "live_count": self.live_count,
            "counts": self.counts,
            "changes": [change.data for change in self.changes],
            "unmanaged": [ref.data for ref in self.unmanaged],
            "protected": [ref.data for ref in self.protected],
            "warnings": list(self.warnings),
        }


# -- comparing ---------------------------------------------------------------------------------


def live_digest(workflow: LiveWorkflow, pending: Sequence[str] | None = None) -> str:
    """A digest of the live state a change is computed from: the workflow's id and managed
    fields, and its pending schedules when they are managed. A saved plan and a fresh one
    agree on it only if that state did not move in between."""
    state = {
        "id": workflow.id,
        "body": workflow.body,
        "pending": sorted(pending) if pending is not None else None,
    }
    canonical = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


# -- matching ----------------------------------------------------------------------------------


# slots, and one title index without a list per title, matches made one at a time: a
# plan matches every definition, and holds every definition and workflow meanwhile.
@dataclass(frozen=True, slots=True)
class _Match:
    definition: Definition
    live: LiveWorkflow | None
    renamed_from: str | None = None


def _titled(
    workflows: Sequence[LiveWorkflow],
) -> tuple[dict[str, LiveWorkflow], dict[str, list[LiveWorkflow]]]:
    """The live workflows by title, and every workflow of each title that more than one has."""
    by_title: dict[str, LiveWorkflow] = {}
    shared: dict[str, list[LiveWorkflow]] = {}
    for workflow in workflows:
        first = by_title.setdefault(workflow.title, workflow)
        if first is not workflow:
            shared.setdefault(workflow.title, [first]).append(workflow)
    return by_title, shared


def _matches(
    definitions: Sequence[Definition], workflows: Sequence[LiveWorkflow], problems: list[str]
) -> Iterator[_Match]:
    """Each definition's match, in order, as it is made (a plan need not hold them all);
    a definition that cannot be matched adds to ``problems`` instead."""
    by_title, shared = _titled(workflows)

    def titled(title: str) -> list[LiveWorkflow]:
        found = by_title.get(title)
        return [] if found is None else shared.get(title, [found])

    for definition in definitions:
        same = titled(definition.title)
        if len(same) > 1:
            ids = ", ".join(w.id for w in same)
            problems.append(
                f"{definition.location}: {len(same)} live workflows are titled {definition.title!r} "
                f"(ids {ids}); wfsync never picks one: delete the extra with `wfsync delete --id ID` "
                "(it shows what it deletes and asks), or rename it"
            )
            continue
        if same:
            yield _Match(definition, same[0])
            continue
        former = [(title, w) for title in definition.former_titles for w in titled(title)]
        if len(former) > 1:
            found = ", ".join(f"{w.title!r} ({w.id})" for _, w in former)
            problems.append(
                f"{definition.location}: the former titles of {definition.title!r} match "
                f"{len(former)} live workflows ({found}); wfsync never picks one"
            )
            continue
        if former:
            yield _Match(definition, former[0][1], former[0][0])
        else:
            yield _Match(definition, None)


def jobs_needed(
    definitions: Sequence[Definition], workflows: Sequence[LiveWorkflow], selection: Selection | None = None
) -> list[str]:
    """The ids of the live workflows whose jobs the plan must read: those matched by a
    selected definition that manages schedules."""
    selection = selection or Selection()
    managing = [d for d in definitions if d.schedules is not None and selection.covers(d.title)]
    if not managing:
        return []
    return [m.live.id for m in _matches(managing, workflows, []) if m.live is not None]


# -- schedules ---------------------------------------------------------------------------------


def _schedule_changes(
    match: _Match, jobs: Sequence[Job], now: datetime, create: Create | None
) -> tuple[list[Change], list[str], list[str]]:
    """(changes, warnings, pending instants) for one definition that manages schedules.
    ``create`` is the change that makes its workflow, when the plan makes it."""
    definition = match.definition
    assert definition.schedules is not None
    warnings = []
    future: list[Schedule] = []
    for schedule in definition.schedules:
        if schedule.at <= now:
            warnings.append(
                f"{schedule.location}: schedule {schedule.instant} of {definition.title!r} is in the past; "
                "it is ignored"
            )
        else:
            future.append(schedule)
    wanted = {s.instant for s in definition.schedules}
    live_id = match.live.id if match.live is not None else None
    scheduled = [j for j in jobs if j.status == "scheduled"]
    pending = [str(j.instant) for j in scheduled]
    counted = Counter(pending)
    extra = [instant for instant in pending if instant not in wanted or counted[instant] > 1]
    changes: list[Change] = []
    after = (create.key,) if create is not None else ()
    if extra:
        kept = sorted(s.instant for s in future)
        reason = (
            f"{', '.join(sorted(set(extra)))} no longer defined"
            if any(i not in wanted for i in extra)
            else "a schedule is pending twice"
        )
        if kept:
            reason += "; the others are scheduled again"
        cancel = Cancel(definition.title, live_id, tuple(sorted(pending)), reason)
        changes.append(cancel)
        after = (cancel.key,)
        queued = sum(1 for j in jobs if j.status == "queued")
        if queued:
            warnings.append(
                f"{definition.location}: cancelling the schedules of {definition.title!r} also stops "
                f"{queued} queued run{'s' * (queued != 1)} (the platform cancels every pending run)"
            )
        to_schedule = future
    else:
        to_schedule = [s for s in future if s.instant not in counted]
    changes += [
        ScheduleRun(definition.title, live_id, s.instant, s.timezone, s.zone, after=after)
        for s in to_schedule
    ]
    return changes, warnings, pending


# -- the plan ----------------------------------------------------------------------------------


def compute_plan(
    definitions: Sequence[Definition],
    workflows: Sequence[LiveWorkflow],
    jobs: Mapping[str, Sequence[Job]],
    *,
    now: datetime,
    prune: bool = False,
    protect: Sequence[str] = (),
    selection: Selection | None = None,
    api_url: str | None = None,
    environment: str | None = None,
    normalised: Mapping[tuple[str, str], Normalisation] | None = None,
) -> Plan:
    """The changes that make the live workflows match the definitions; raises PlanError.

    Every definition claims its live workflow, so one outside ``selection`` is never taken
    for unmanaged (nor pruned); only selected definitions and workflows change. A field
    the server is known to normalise (``normalised``: sent this, keeps that) is a note,
    not an update made again.
    """
    selection = selection or Selection()
    problems: list[str] = []
    changes: list[Change] = []
    warnings: list[str] = []
    claimed: set[str] = set()
    for match in _matches(definitions, workflows, problems):
        if match.live is not None:
            claimed.add(match.live.id)
        if not problems and selection.covers(match.definition.title):
            changes += _changes_of(match, jobs, now, normalised or {}, warnings)
    if problems:
        raise PlanError(problems)
    unmanaged, protected = [], []
    for workflow in workflows:
        if workflow.id in claimed or not selection.covers(workflow.title):
            continue
        ref = LiveRef(workflow.id, workflow.title)
        if prune and any(fnmatch.fnmatchcase(workflow.title, glob) for glob in protect):
            protected.append(ref)
        elif prune:
            changes.append(Delete(workflow.title, workflow.id, live=live_digest(workflow)))
        else:
            unmanaged.append(ref)
    changes.sort(key=lambda c: (c.title.casefold(), c.title, c.rank, c.key.order))
    creates = [change.title for change in changes if isinstance(change, Create)]
    if creates:
        warnings += _case_clashes(creates, definitions, workflows)
    return Plan(
        changes=tuple(changes),
        unmanaged=tuple(sorted(unmanaged, key=lambda r: (r.title.casefold(), r.id))),
        protected=tuple(sorted(protected, key=lambda r: (r.title.casefold(), r.id))),
        warnings=tuple(warnings),
        live_count=len(workflows),
        api_url=api_url,
        environment=environment,
        prune=prune,
        selection=selection,
    )


def _case_clashes(
    creates: Sequence[str], definitions: Sequence[Definition], workflows: Sequence[LiveWorkflow]
) -> list[str]:
    """A create whose title is another's but for case: a server that keeps titles unique
    ignoring case (SPEC §1) refuses it with 409, halfway through an apply."""
    by_folded: dict[str, set[str]] = {}
    for title in [*(d.title for d in definitions), *(w.title for w in workflows)]:
        by_folded.setdefault(title.casefold(), set()).add(title)
    return [
        f"{title!r} differs only in case from {min(others)!r}: a server that keeps titles unique "
        "ignoring case refuses its create (409); to rename a live workflow, list its old title "
        "in lifecycle.formerTitles"
        for title in creates
        if (others := by_folded.get(title.casefold(), set()) - {title})
    ]


def _changes_of(
    match: _Match,
    jobs: Mapping[str, Sequence[Job]],
    now: datetime,
    normalised: Mapping[tuple[str, str], Normalisation],
    warnings: list[str],
) -> list[Change]:
    """The changes that make one definition's live workflow (if any) match it."""
    definition, live = match.definition, match.live
    changes: list[Change] = []
    create = None
    if live is None:
        create = Create(definition.title, None, dict(definition.body), dict(definition.secrets))
        changes.append(create)
    schedules: list[Change] = []
    pending: list[str] | None = None
    if definition.schedules is not None:
        schedules, notes, pending = _schedule_changes(
            match, jobs.get(live.id, ()) if live else (), now, create
        )
        warnings += notes
    if live is None:
        return changes + schedules
    diffs = workflow_body.diff(live.body, definition.body, definition.secrets)
    if not diffs and not schedules:
        return changes  # the common case: nothing to digest, nothing to show
    digest = live_digest(live, pending)
    if any(d.sensitive for d in diffs):  # show where a secret goes, never its value
        written = {
            leaf.name: value
            for leaf, value in workflow_body.leaf_values(templated(definition.body, definition.secrets))
        }
        diffs = [replace(d, written=written.get(d.path)) if d.sensitive else d for d in diffs]
    if normalised:
        diffs = _unless_normalised(definition.title, diffs, normalised, warnings)
    if diffs:
        patch = workflow_body.patch(definition.body, diffs)
        secrets = dict(definition.secrets)
        changes.append(
            Update(definition.title, live.id, patch, tuple(diffs), match.renamed_from, secrets, live=digest)
        )
    return changes + [replace(change, live=digest) for change in schedules]


def _unless_normalised(
    title: str,
    diffs: Sequence[FieldDiff],
    normalised: Mapping[tuple[str, str], Normalisation],
    warnings: list[str],
) -> list[FieldDiff]:
    kept = []
    for diff in diffs:
        known = normalised.get((title, diff.path))
        if known is not None and (known.sent, known.kept) == (digest(diff.new), digest(diff.old)):
            warnings.append(
                f"the server normalises {diff.path} of {title!r}: it keeps {json.dumps(diff.old)} "
                f"for {json.dumps(diff.new)}; not sent again (write what it keeps to silence this)"
            )
        else:
            kept.append(diff)
    return kept


def check_safety(plan: Plan, safety: Safety) -> None:
    """Raise UnsafePlan when the plan updates or deletes too much of the account.

    Creates, schedules and cancels never count. Below ``min_existing`` live workflows
    nothing is checked (a new account is all creates and small changes).
    """
    existing = plan.live_count
    if existing < safety.min_existing or existing == 0:
        return
    problems = []
    for action, verb, limit, setting in (
        ("update", "update", safety.max_update_share, "max_update_share"),
        ("delete", "delete", safety.max_delete_share, "max_delete_share"),
    ):
        count = plan.counts[action]
        share = count / existing
        if share > limit:
            problems.append(
                f"it would {verb} {count} of {existing} live workflows ({share:.0%}), "
                f"over the limit of {limit:.0%} (safety.{setting})"
            )
    if problems:
        raise UnsafePlan("unsafe plan: " + "; ".join(problems) + "; force required: run again with --force")
