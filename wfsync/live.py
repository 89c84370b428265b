"""Reading jobs of many workflows at once, bounded (plans read the jobs of just the
workflows whose definitions manage schedules; nothing else is read one workflow at a time)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from wfsync.api import WorkflowsApi
from wfsync.shapes import Job

__all__ = ["JOB_CONCURRENCY", "read_jobs"]

JOB_CONCURRENCY = 10


async def read_jobs(api: WorkflowsApi, workflow_ids: Iterable[str]) -> dict[str, tuple[Job, ...]]:
    """The jobs of each workflow, at most JOB_CONCURRENCY listings at a time."""
    gate = asyncio.Semaphore(JOB_CONCURRENCY)

    async def one(workflow_id: str) -> tuple[str, tuple[Job, ...]]:
        async with gate:
            return workflow_id, tuple(await api.list_jobs(workflow_id))

    return dict(await asyncio.gather(*(one(i) for i in dict.fromkeys(workflow_ids))))
