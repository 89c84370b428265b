"""The sync process, one call each: plan against an account, and an apply session.

Commands call these once per account (one environment, or the one account of a project
without environments); they never print. What happens along the way reaches the caller
as events (:class:`Planned`, :class:`Progressed`, …), which the CLI renders.

    >>> account = Account("https://api.example.com")
    >>> plan = await plan_against(api, definitions, Options(), account)  # doctest: +SKIP
    >>> result = await apply_session(api, lambda: definitions, Options(), account,  # doctest: +SKIP
    ...                              confirm=lambda plan: True, on_event=print)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wfsync import shapes
from wfsync.api import ApiClient, WorkflowsApi
from wfsync.apply import DEFAULT_PARALLELISM, ApplyReport, Outcome, apply_plan
from wfsync.config import Safety
from wfsync.converge import Convergence, converge
from wfsync.definitions import Definition
from wfsync.errors import ConfigError
from wfsync.live import read_jobs
from wfsync.lock import apply_lock
from wfsync.normalised import Normalisation
from wfsync.operate import SmokeResult, smoke_runs
from wfsync.plan import Plan, Selection, check_safety, compute_plan, jobs_needed
from wfsync.saved import check_saved

__all__ = [
    "Account",
    "ApplyCancelled",
    "ApplyResult",
    "Event",
    "LockUnavailable",
    "LockWaiting",
    "Options",
    "Planned",
    "Progressed",
    "Settled",
    "Smoked",
    "apply_session",
    "plan_against",
]


@dataclass(frozen=True)
class Options:
    """How a plan is computed and how far it may go."""

    prune: bool = False
    force: bool = False
    selection: Selection = field(default_factory=Selection)
    protect: tuple[str, ...] = ()
    safety: Safety = field(default_factory=Safety)
    # Fields the server is known to normalise (wfsync.normalised), by (title, field).
    normalised: Mapping[tuple[str, str], Normalisation] = field(default_factory=dict)


@dataclass(frozen=True)
class Account:
    """The account a plan is for: the API as plans record it, and its environment's name."""

    api_url: str
    environment: str | None = None


class ApplyCancelled(ConfigError):
    """The person at the prompt said no."""


@dataclass(frozen=True)
class Planned:
    plan: Plan


@dataclass(frozen=True)
class LockWaiting:
    holder: str


@dataclass(frozen=True)
class LockUnavailable:
    reason: str


@dataclass(frozen=True)
class Progressed:
    outcome: Outcome


@dataclass(frozen=True)
class Smoked:
    result: SmokeResult


@dataclass(frozen=True)
class Settled:
    """A change made by a verification round (a duplicate removed, a schedule made again)."""

    outcome: Outcome


Event = Planned | LockWaiting | LockUnavailable | Progressed | Smoked | Settled


@dataclass(frozen=True)
class ApplyResult:
    """What an apply session did: the plan, what became of each change (None: nothing to
    do), what still differs afterwards (with verify) and the smoke runs (with smoke)."""

    plan: Plan
    report: ApplyReport | None = None
    remaining: Plan | None = None
    smoked: tuple[SmokeResult, ...] | None = None
    convergence: Convergence | None = None

    @property
    def ok(self) -> bool:
        """Everything done, or (when verification rounds ran) the account found as defined
        afterwards: a request that failed but was made good meanwhile (a copy another runner
        removed, a lost answer found) does not fail the apply; one that still shows does."""
        done = self.convergence.ok if self.convergence is not None else self.report is None or self.report.ok
        return (
            done
            and (self.remaining is None or self.remaining.empty)
            and all(result.ok for result in self.smoked or ())
        )


async def plan_against(
    api: WorkflowsApi,
    definitions: Sequence[Definition] | Awaitable[Sequence[Definition]],
    options: Options,
    account: Account,
    *,
    now: datetime | None = None,
    known: dict[str, Mapping[str, Any]] | None = None,
) -> Plan:
    """The plan that makes ``account`` match ``definitions``: one listing, then the jobs of
    just the selected workflows whose definitions manage schedules.

    ``definitions`` may still be loading (an awaitable): the listing is on its way
    meanwhile, and is dropped if they fail, whose error is then the plan's. ``known``: their
    bodies by title, filled by the loader as it reads (see below).
    """
    # A live body equal to its definition's is held as that object (the plan holds both).
    # ``known`` may be filled by the loader as files are read: a page shares what is in
    # when it arrives, and what it could not is shared once all are in.
    known = {} if known is None else known
    if isinstance(definitions, Sequence):
        known.update((d.title, d.body) for d in definitions)
        workflows = await api.list_workflows(known)
    else:
        listing = asyncio.ensure_future(api.list_workflows(known))
        try:
            definitions = await definitions
        except BaseException:
            listing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listing
            raise
        known.update((d.title, d.body) for d in definitions)
        workflows = [shapes.share(workflow, known) for workflow in await listing]
    jobs = await read_jobs(api, jobs_needed(definitions, workflows, options.selection))
    return compute_plan(
        definitions,
        workflows,
        jobs,
        now=now or datetime.now(UTC),
        prune=options.prune,
        protect=options.protect,
        selection=options.selection,
        api_url=account.api_url,
        environment=account.environment,
        normalised=options.normalised,
    )


@asynccontextmanager
async def _locked(account: Account, timeout: float, on_event: Callable[[Event], None]) -> AsyncIterator[None]:
    """Hold this machine's apply lock for the account, waiting in a thread (the event loop
    may be applying to other accounts meanwhile)."""
    held = apply_lock(
        account.api_url,
        account=account.environment,
        timeout=timeout,
        on_wait=lambda holder: on_event(LockWaiting(holder)),
        on_unavailable=lambda reason: on_event(LockUnavailable(reason)),
    )
    await asyncio.to_thread(held.__enter__)
    try:
        yield
    finally:
        held.__exit__(None, None, None)


async def apply_session(
    api: ApiClient,
    definitions: Callable[[], Sequence[Definition]],
    options: Options,
    account: Account,
    *,
    saved: Plan | None = None,
    confirm: Callable[[Plan], Awaitable[bool]] | None = None,
    on_event: Callable[[Event], None] = lambda event: None,
    parallelism: int = DEFAULT_PARALLELISM,
    verify: bool = False,
    smoke: bool = False,
    smoke_timeout: float = 300.0,
    lock_timeout: float = 600.0,
    stop_on: Sequence[int] = (),
) -> ApplyResult:
    """Lock, plan (verified against ``saved`` when given), check safety, confirm, apply,
    converge (verification rounds: wfsync.converge), then smoke-run and verify as asked.

    A saved plan is never carried out as written: the plan is computed afresh and must be
    the same change set (StalePlan otherwise, naming each workflow that differs).
    ``confirm`` is asked only when there are changes; False cancels (ApplyCancelled).
    """
    async with _locked(account, lock_timeout, on_event):
        loaded = definitions()
        plan = await plan_against(api, loaded, options, account)
        if saved is not None:
            check_saved(saved, plan)
        on_event(Planned(plan))
        if not options.force:
            check_safety(plan, options.safety)
        if plan.empty:
            return ApplyResult(plan)
        # A read-only key: one clear error now, not one per change in flight.
        await api.check_write_scope()
        if confirm is not None and not await confirm(plan):
            raise ApplyCancelled("apply cancelled: nothing was changed")
        report = await apply_plan(
            api,
            plan,
            parallelism=parallelism,
            report=lambda outcome: on_event(Progressed(outcome)),
            stop_on=stop_on,
        )
        convergence = None
        if not (report.interrupted or report.forbidden):
            convergence = await converge(
                api,
                loaded,
                plan,
                report,
                protect=options.protect,
                parallelism=parallelism,
                on_outcome=lambda outcome: on_event(Settled(outcome)),
            )
        smoked = None
        if smoke:
            targets = list(
                dict.fromkeys(
                    (o.change.title, o.workflow_id)
                    for o in report.outcomes
                    if o.status == "done" and o.change.action in ("create", "update") and o.workflow_id
                )
            )
            smoked = tuple(
                await smoke_runs(
                    api,
                    targets,
                    timeout=smoke_timeout,
                    parallelism=parallelism,
                    report=lambda result: on_event(Smoked(result)),
                )
            )
        remaining = await plan_against(api, definitions(), options, account) if verify else None
        return ApplyResult(plan, report, remaining, smoked, convergence)
