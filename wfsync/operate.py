"""Operating workflows: find one by title or id, follow a job to its end, read jobs and
monitoring figures. The platform's guide is: create, run once to validate, schedule,
then monitor jobs and summaries; these are the library side of those steps."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from wfsync.api import ApiClient
from wfsync.errors import NotFoundError, WfsyncError
from wfsync.shapes import Job, LiveWorkflow

__all__ = ["FINAL", "JobTimeout", "SmokeResult", "find_workflow", "follow_job", "smoke_runs"]

FINAL = frozenset({"completed", "failed", "cancelled"})
_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")


class JobTimeout(WfsyncError):
    """A job that did not finish in time; ``job`` is its last known state."""

    def __init__(self, job: Job, seconds: float) -> None:
        self.job = job
        super().__init__(f"job {job.id} is still {job.status} after {seconds:g} s (it goes on without us)")


async def find_workflow(api: ApiClient, title_or_id: str) -> LiveWorkflow:
    """The live workflow with this title, else with this id; an error names what was tried."""
    if _OBJECT_ID.fullmatch(title_or_id):
        try:
            return await api.get_workflow(title_or_id)
        except NotFoundError:
            pass
    workflows = await api.list_workflows()
    same = [w for w in workflows if w.title == title_or_id]
    if len(same) > 1:
        ids = ", ".join(w.id for w in same)
        raise WfsyncError(
            f"{len(same)} workflows are titled {title_or_id!r} (ids {ids}): name one by its id, "
            "or delete the extra with `wfsync delete --id ID`"
        )
    if same:
        return same[0]
    by_id = [w for w in workflows if w.id == title_or_id]
    if by_id:
        return by_id[0]
    close = sorted(w.title for w in workflows if title_or_id.casefold() in w.title.casefold())[:3]
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise WfsyncError(f"no workflow is titled {title_or_id!r} or has that id{hint}")


async def follow_job(
    api: ApiClient,
    job_id: str,
    *,
    timeout: float,
    on_change: Callable[[Job], None] = lambda job: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Job:
    """Poll a job (0.25 s, growing to 5 s apart) until it ends; raises JobTimeout."""
    deadline = clock() + timeout
    delay, last = 0.25, None
    while True:
        job = await api.get_job(job_id)
        if job.status != last:
            on_change(job)
            last = job.status
        if job.status in FINAL:
            return job
        remaining = deadline - clock()
        if remaining <= 0:
            raise JobTimeout(job, timeout)
        await sleep(min(delay, remaining))
        delay = min(delay * 1.5, 5.0)


@dataclass(frozen=True)
class SmokeResult:
    """One smoke run: the workflow, and its job's last state or why there is none."""

    title: str
    workflow_id: str
    job: Job | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.job is not None and self.job.status == "completed"


async def smoke_runs(
    api: ApiClient,
    workflows: Sequence[tuple[str, str]],
    *,
    timeout: float,
    parallelism: int,
    report: Callable[[SmokeResult], None] = lambda result: None,
) -> list[SmokeResult]:
    """Run each (title, id) once and wait for its job: the platform's "run once to validate"."""
    gate = asyncio.Semaphore(max(1, parallelism))

    async def one(title: str, workflow_id: str) -> SmokeResult:
        async with gate:
            try:
                job = await follow_job(api, await api.run(workflow_id), timeout=timeout)
                result = SmokeResult(
                    title,
                    workflow_id,
                    job,
                    None
                    if job.status == "completed"
                    else f"the run {job.status}" + (f": {job.error}" if job.error else ""),
                )
            except JobTimeout as exc:
                result = SmokeResult(title, workflow_id, exc.job, str(exc))
            except WfsyncError as exc:
                result = SmokeResult(title, workflow_id, None, str(exc))
        report(result)
        return result

    return list(await asyncio.gather(*(one(title, workflow_id) for title, workflow_id in workflows)))


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested figures as (dotted name, value) rows, whatever shape the server chose."""
    if isinstance(value, dict):
        rows = []
        for key, item in value.items():
            rows += flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return rows
    return [(prefix or "value", value)]
