"""Reading the live state and planning against it: one paginated listing of every
workflow, then the jobs of just the workflows whose definitions manage schedules,
fetched concurrently. Nothing is fetched one workflow at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime

from wfsync.api import ApiClient
from wfsync.definitions import Definition
from wfsync.plan import Plan, compute_plan, jobs_needed
from wfsync.shapes import Job

__all__ = ["JOB_CONCURRENCY", "plan_live", "read_jobs"]

JOB_CONCURRENCY = 10


async def read_jobs(api: ApiClient, workflow_ids: Iterable[str]) -> dict[str, tuple[Job, ...]]:
    """The jobs of each workflow, at most JOB_CONCURRENCY listings at a time."""
    gate = asyncio.Semaphore(JOB_CONCURRENCY)

    async def one(workflow_id: str) -> tuple[str, tuple[Job, ...]]:
        async with gate:
            return workflow_id, tuple(await api.list_jobs(workflow_id))

    return dict(await asyncio.gather(*(one(i) for i in dict.fromkeys(workflow_ids))))


async def plan_live(
    api: ApiClient,
    definitions: Sequence[Definition],
    *,
    now: datetime,
    prune: bool = False,
    protect: Sequence[str] = (),
    api_url: str | None = None,
) -> Plan:
    """The plan that makes the live account match ``definitions``."""
    workflows = await api.list_workflows()
    jobs = await read_jobs(api, jobs_needed(definitions, workflows))
    return compute_plan(definitions, workflows, jobs, now=now, prune=prune, protect=protect, api_url=api_url)
