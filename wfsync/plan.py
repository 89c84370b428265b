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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from wfsync import body as workflow_body
from wfsync.body import FieldDiff
from wfsync.config import Safety
from wfsync.definitions import Definition, Schedule
from wfsync.errors import PlanError, UnsafePlan
from wfsync.shapes import Job, LiveWorkflow

__all__ = [
    "ACTIONS",
    "Cancel",
    "Change",
    "Create",
    "Delete",
    "FieldDiff",
    "Fingerprint",
    "LiveRef",
    "Plan",
    "ScheduleRun",
    "Update",
    "check_safety",
    "compute_plan",
    "fingerprint",
    "jobs_needed",
]

# The order actions are listed in for one workflow, and counted in.
ACTIONS = ("create", "update", "cancel", "schedule", "delete")
ABSENT = "absent"

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Change:
    """One API call the plan makes; ``data`` is its JSON form."""

    action: ClassVar[str] = ""
    title: str
    workflow_id: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        return {"action": self.action, "title": self.title, "id": self.workflow_id}


def _templated(body: Mapping[str, Any], secrets: Mapping[PathKey, str]) -> dict[str, Any]:
    """``body`` with each value from the environment replaced by its ``${NAME}`` text."""
    result: dict[str, Any] = json.loads(json.dumps(body))
    for path, written in secrets.items():
        node: Any = result
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = written
    return result


@dataclass(frozen=True)
class Create(Change):
    action: ClassVar[str] = "create"
    body: Mapping[str, Any] = field(default_factory=dict, repr=False)
    secrets: Mapping[PathKey, str] = field(default_factory=dict, repr=False)

    @property
    def data(self) -> dict[str, Any]:
        return super().data | {
            "body": _templated(self.body, self.secrets),
            "sensitive": sorted(".".join(map(str, p)) for p in self.secrets),
        }


@dataclass(frozen=True)
class Update(Change):
    action: ClassVar[str] = "update"
    patch: Mapping[str, Any] = field(default_factory=dict, repr=False)
    diffs: tuple[FieldDiff, ...] = ()
    former_title: str | None = None
    secrets: Mapping[PathKey, str] = field(default_factory=dict, repr=False)

    @property
    def data(self) -> dict[str, Any]:
        patch_secrets = {p: w for p, w in self.secrets.items() if self.patch.get(str(p[0])) is not None}
        return super().data | {
            "patch": _templated(self.patch, patch_secrets),
            "sensitive": sorted(".".join(map(str, p)) for p in patch_secrets),
            "diffs": [diff.data for diff in self.diffs],
            "renamed_from": self.former_title,
        }


@dataclass(frozen=True)
class Delete(Change):
    action: ClassVar[str] = "delete"


@dataclass(frozen=True)
class ScheduleRun(Change):
    """Schedule a one-shot run (``workflow_id`` None: the workflow is created first)."""

    action: ClassVar[str] = "schedule"
    instant: str = ""
    timezone: str = "GMT"
    zone: str | None = None  # the IANA zone the definition gave, when it did

    @property
    def data(self) -> dict[str, Any]:
        return super().data | {"scheduledDate": self.instant, "timezone": self.timezone, "zone": self.zone}


@dataclass(frozen=True)
class Cancel(Change):
    """Cancel every pending run of a workflow (the only cancel the platform has)."""

    action: ClassVar[str] = "cancel"
    pending: tuple[str, ...] = ()  # the instants of the scheduled runs it cancels
    reason: str = ""

    @property
    def data(self) -> dict[str, Any]:
        return super().data | {"pending": list(self.pending), "reason": self.reason}


@dataclass(frozen=True)
class Fingerprint:
    """The live state one workflow was planned against: which workflow (None: none may
    exist under the title), a digest of its managed fields, and whether its pending
    schedules were part of it."""

    workflow_id: str | None
    digest: str
    schedules: bool = False

    @property
    def data(self) -> dict[str, Any]:
        return {"id": self.workflow_id, "digest": self.digest, "schedules": self.schedules}


@dataclass(frozen=True)
class LiveRef:
    id: str
    title: str

    @property
    def data(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title}


@dataclass(frozen=True)
class Plan:
    """What would change, and what was seen but left alone. Its ``data`` is the JSON plan."""

    changes: tuple[Change, ...]
    unmanaged: tuple[LiveRef, ...] = ()
    protected: tuple[LiveRef, ...] = ()
    warnings: tuple[str, ...] = ()
    fingerprints: Mapping[str, Fingerprint] = field(default_factory=dict)  # by title
    live_count: int = 0
    api_url: str | None = None

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
            "live_count": self.live_count,
            "counts": self.counts,
            "changes": [change.data for change in self.changes],
            "unmanaged": [ref.data for ref in self.unmanaged],
            "protected": [ref.data for ref in self.protected],
            "warnings": list(self.warnings),
            "fingerprints": {key: print_.data for key, print_ in sorted(self.fingerprints.items())},
        }


# -- comparing ---------------------------------------------------------------------------------


def fingerprint(
    body: Mapping[str, Any], workflow_id: str, pending: Sequence[str] | None = None
) -> Fingerprint:
    """The fingerprint of a live workflow (and of its pending schedules, when given)."""
    state = {"id": workflow_id, "body": body, "pending": sorted(pending) if pending is not None else None}
    canonical = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:20]
    return Fingerprint(workflow_id, digest, pending is not None)


# -- matching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Match:
    definition: Definition
    live: LiveWorkflow | None
    renamed_from: str | None = None


def _match(
    definitions: Sequence[Definition], workflows: Sequence[LiveWorkflow]
) -> tuple[list[_Match], list[str]]:
    by_title: dict[str, list[LiveWorkflow]] = {}
    for workflow in workflows:
        by_title.setdefault(workflow.title, []).append(workflow)
    matches, problems = [], []
    for definition in definitions:
        same = by_title.get(definition.title, [])
        if len(same) > 1:
            ids = ", ".join(w.id for w in same)
            problems.append(
                f"{definition.location}: {len(same)} live workflows are titled {definition.title!r} "
                f"(ids {ids}); wfsync never picks one: delete or rename the extra by hand"
            )
            continue
        if same:
            matches.append(_Match(definition, same[0]))
            continue
        former = [(title, w) for title in definition.former_titles for w in by_title.get(title, [])]
        if len(former) > 1:
            found = ", ".join(f"{w.title!r} ({w.id})" for _, w in former)
            problems.append(
                f"{definition.location}: the former titles of {definition.title!r} match "
                f"{len(former)} live workflows ({found}); wfsync never picks one"
            )
            continue
        if former:
            matches.append(_Match(definition, former[0][1], former[0][0]))
        else:
            matches.append(_Match(definition, None))
    return matches, problems


def jobs_needed(definitions: Sequence[Definition], workflows: Sequence[LiveWorkflow]) -> list[str]:
    """The ids of the live workflows whose jobs the plan must read: those matched by a
    definition that manages schedules."""
    managing = [d for d in definitions if d.schedules is not None]
    if not managing:
        return []
    matches, _ = _match(managing, workflows)
    return [m.live.id for m in matches if m.live is not None]


# -- schedules ---------------------------------------------------------------------------------


def _schedule_changes(
    match: _Match, jobs: Sequence[Job], now: datetime
) -> tuple[list[Change], list[str], list[str]]:
    """(changes, warnings, pending instants) for one definition that manages schedules."""
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
    if extra:
        kept = sorted(s.instant for s in future)
        reason = (
            f"{', '.join(sorted(set(extra)))} no longer defined"
            if any(i not in wanted for i in extra)
            else "a schedule is pending twice"
        )
        if kept:
            reason += "; the others are scheduled again"
        changes.append(Cancel(definition.title, live_id, tuple(sorted(pending)), reason))
        queued = sum(1 for j in jobs if j.status == "queued")
        if queued:
            warnings.append(
                f"{definition.location}: cancelling the schedules of {definition.title!r} also stops "
                f"{queued} queued run{'s' * (queued != 1)} (the platform cancels every pending run)"
            )
        to_schedule = future
    else:
        to_schedule = [s for s in future if s.instant not in counted]
    changes += [ScheduleRun(definition.title, live_id, s.instant, s.timezone, s.zone) for s in to_schedule]
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
    api_url: str | None = None,
) -> Plan:
    """The changes that make the live workflows match the definitions; raises PlanError."""
    matches, problems = _match(definitions, workflows)
    if problems:
        raise PlanError(problems)
    changes: list[Change] = []
    warnings: list[str] = []
    fingerprints: dict[str, Fingerprint] = {}
    for match in matches:
        definition, live = match.definition, match.live
        pending: list[str] | None = None
        if definition.schedules is not None:
            found, notes, pending = _schedule_changes(match, jobs.get(live.id, ()) if live else (), now)
            warnings += notes
        else:
            found = []
        if live is None:
            changes.append(Create(definition.title, None, dict(definition.body), dict(definition.secrets)))
            fingerprints[definition.title] = Fingerprint(None, ABSENT)
        else:
            diffs = workflow_body.diff(live.body, definition.body, definition.secrets)
            if diffs:
                patch = workflow_body.patch(definition.body, diffs)
                changes.append(
                    Update(
                        definition.title,
                        live.id,
                        patch,
                        tuple(diffs),
                        match.renamed_from,
                        dict(definition.secrets),
                    )
                )
            if diffs or found:  # a rename is a title diff, so it is fingerprinted too
                fingerprints[definition.title] = fingerprint(live.body, live.id, pending)
        changes += found
    claimed = {m.live.id for m in matches if m.live is not None}
    unmanaged, protected = [], []
    for workflow in workflows:
        if workflow.id in claimed:
            continue
        ref = LiveRef(workflow.id, workflow.title)
        if prune and any(fnmatch.fnmatchcase(workflow.title, glob) for glob in protect):
            protected.append(ref)
        elif prune:
            changes.append(Delete(workflow.title, workflow.id))
            fingerprints[f"{workflow.title}#{workflow.id}"] = fingerprint(workflow.body, workflow.id)
        else:
            unmanaged.append(ref)
    order = {action: n for n, action in enumerate(ACTIONS)}
    changes.sort(key=lambda c: (c.title.casefold(), c.title, order[c.action], c.workflow_id or ""))
    return Plan(
        changes=tuple(changes),
        unmanaged=tuple(sorted(unmanaged, key=lambda r: (r.title.casefold(), r.id))),
        protected=tuple(sorted(protected, key=lambda r: (r.title.casefold(), r.id))),
        warnings=tuple(warnings),
        fingerprints=fingerprints,
        live_count=len(workflows),
        api_url=api_url,
    )


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
