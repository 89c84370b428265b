"""Carrying out a plan, in-process against a scripted API: order, dependencies, lost
answers, partial failure and bounded concurrency."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from wfsync.apply import LOOKUP_ROUNDS, apply_plan
from wfsync.changes import Cancel, Create, Delete, ScheduleRun, Update
from wfsync.errors import ForbiddenError, NotFoundError, RequestError, ServerError, TransportError
from wfsync.plan import Plan
from wfsync.shapes import Job, LiveWorkflow

LOST = TransportError("POST", "/v1/workflows", None, ["the connection was dropped"])


class FakeApi:
    """The client's interface over an in-memory account, with scripted trouble."""

    def __init__(self) -> None:
        self.workflows: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, list[Job]] = {}
        self.calls: list[tuple[str, str]] = []
        self.ids = (f"id{n}" for n in itertools.count(1))
        self.trouble: dict[tuple[str, str], list[Exception | str]] = {}  # (call, title/id) -> queue
        self.in_flight = self.most_in_flight = 0

    async def _enter(self, call: str, key: str) -> str | None:
        self.calls.append((call, key))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.001)
        self.in_flight -= 1
        queue = self.trouble.get((call, key))
        if queue:
            what = queue.pop(0)
            if isinstance(what, Exception):
                raise what
            return what
        return None

    async def create_workflow(self, body: Mapping[str, Any]) -> LiveWorkflow:
        trouble = await self._enter("create", body["title"])
        new_id = next(self.ids)
        if trouble != "not-stored":
            self.workflows[new_id] = dict(body)
        if trouble in ("stored-then-lost", "not-stored"):
            raise LOST
        return LiveWorkflow(new_id, body["title"], body)

    async def update_workflow(self, workflow_id: str, patch: Mapping[str, Any]) -> None:
        await self._enter("update", workflow_id)
        if workflow_id not in self.workflows:
            raise NotFoundError("PATCH", f"/v1/workflows/{workflow_id}", 404)
        self.workflows[workflow_id].update(patch)

    async def delete_workflow(self, workflow_id: str) -> None:
        await self._enter("delete", workflow_id)
        if self.workflows.pop(workflow_id, None) is None:
            raise NotFoundError("DELETE", f"/v1/workflows/{workflow_id}", 404)

    async def list_workflows(
        self, known: Mapping[str, Mapping[str, Any]] | None = None
    ) -> list[LiveWorkflow]:
        await self._enter("list", "")
        return [LiveWorkflow(i, b["title"], b) for i, b in self.workflows.items()]

    async def schedule(self, workflow_id: str, instant: str, timezone: str) -> str:
        trouble = await self._enter("schedule", workflow_id)
        from datetime import datetime

        job = Job(
            f"job-{len(self.calls)}", "scheduled", workflow_id, instant, datetime.fromisoformat(instant)
        )
        self.jobs.setdefault(workflow_id, []).append(job)
        if trouble == "stored-then-lost":
            raise LOST
        return job.id

    async def list_jobs(self, workflow_id: str) -> list[Job]:
        await self._enter("jobs", workflow_id)
        return list(self.jobs.get(workflow_id, []))

    async def cancel(self, workflow_id: str) -> list[str]:
        await self._enter("cancel", workflow_id)
        pending = [j for j in self.jobs.get(workflow_id, []) if j.status == "scheduled"]
        self.jobs[workflow_id] = [j for j in self.jobs.get(workflow_id, []) if j.status != "scheduled"]
        return [j.id for j in pending]


def run(api: FakeApi, *changes: Any, parallelism: int = 10) -> Any:
    seen: list[Any] = []
    report = asyncio.run(
        apply_plan(
            api,
            Plan(tuple(changes)),
            parallelism=parallelism,
            report=seen.append,
        )
    )
    assert len(seen) == len(changes), "every change is reported once"
    return report


def titles(api: FakeApi) -> list[str]:
    return sorted(body["title"] for body in api.workflows.values())


def test_phases_run_in_dependency_order() -> None:
    api = FakeApi()
    api.workflows = {"a": {"title": "A"}, "b": {"title": "B"}}
    report = run(
        api,
        Delete("B", "b"),
        ScheduleRun("A", "a", "2027-01-01T00:00:00.000Z", "GMT"),
        Cancel("A", "a", (), "r"),
        Update("A", "a", {"callbackUrl": "https://x.example.com"}),
        Create("C", None, {"title": "C"}),
        ScheduleRun("C", None, "2027-01-01T00:00:00.000Z", "GMT"),
    )
    assert report.ok, report.data
    order = [call for call, _ in api.calls]
    assert order.index("cancel") > max(order.index("create"), order.index("update"))
    assert order.index("schedule") > order.index("cancel"), "a workflow's cancel comes before its schedules"
    assert order[-1] == "delete"
    assert [j.workflow_id for j in api.jobs["id1"]] == ["id1"], "the new id reached the schedule"
    assert report.summary_line() == (
        "Apply complete: 1 created, 1 updated, 1 cancelled, 2 scheduled, 1 deleted, 0 failed."
    )


def test_a_lost_create_answer_is_looked_up_not_repeated() -> None:
    api = FakeApi()
    api.trouble[("create", "A")] = ["stored-then-lost"]
    report = run(
        api, Create("A", None, {"title": "A"}), ScheduleRun("A", None, "2027-01-01T00:00:00.000Z", "GMT")
    )
    assert report.ok and titles(api) == ["A"]
    assert "its answer was lost; found in the listing" in report.outcomes[0].detail
    assert [c for c, _ in api.calls].count("create") == 1
    assert api.jobs["id1"], "the schedule used the adopted id"


def test_a_create_that_never_happened_is_sent_again() -> None:
    api = FakeApi()
    api.trouble[("create", "A")] = ["not-stored", ServerError("POST", "/v1/workflows", 500)]
    report = run(api, Create("A", None, {"title": "A"}))
    assert report.ok and titles(api) == ["A"]
    assert [c for c, _ in api.calls].count("create") == 3


def test_a_create_that_keeps_failing_ends_failed_and_its_schedule_skipped() -> None:
    api = FakeApi()
    api.trouble[("create", "A")] = ["not-stored"] * (LOOKUP_ROUNDS + 1)
    report = run(
        api,
        Create("A", None, {"title": "A"}),
        ScheduleRun("A", None, "2027-01-01T00:00:00.000Z", "GMT"),
        Create("B", None, {"title": "B"}),
    )
    statuses = [(o.change.title, o.change.action, o.status) for o in report.outcomes]
    assert statuses == [("A", "create", "failed"), ("A", "schedule", "skipped"), ("B", "create", "done")]
    assert report.outcomes[1].detail == "its workflow was not created"
    assert titles(api) == ["B"] and not report.ok
    assert report.counts["failed"] == 1 and report.counts["skipped"] == 1


def test_a_failed_cancel_skips_the_schedules_after_it() -> None:
    api = FakeApi()
    api.workflows = {"a": {"title": "A"}}
    api.trouble[("cancel", "a")] = [ServerError("POST", "/v1/workflows/a/cancel", 503)]
    cancel = Cancel("A", "a", (), "r")
    report = run(api, cancel, ScheduleRun("A", "a", "2027-01-01T00:00:00.000Z", "GMT", after=(cancel.key,)))
    assert [o.status for o in report.outcomes] == ["failed", "skipped"]
    assert report.outcomes[1].detail == "the cancel before it failed"
    assert "a" not in api.jobs, "nothing was scheduled on top of the runs still pending"


def test_a_lost_schedule_answer_is_checked_against_the_jobs() -> None:
    api = FakeApi()
    api.workflows = {"a": {"title": "A"}}
    api.trouble[("schedule", "a")] = ["stored-then-lost"]
    report = run(api, ScheduleRun("A", "a", "2027-01-01T00:00:00.000Z", "GMT"))
    assert report.ok and len(api.jobs["a"]) == 1


def test_independent_changes_run_whatever_fails() -> None:
    api = FakeApi()
    api.workflows = {"a": {"title": "A"}, "b": {"title": "B"}}
    api.trouble[("update", "a")] = [
        RequestError("PATCH", "/v1/workflows/a", 400, ["title must not be empty"])
    ]
    report = run(
        api,
        Update("A", "a", {"title": ""}),
        Update("B", "b", {"callbackUrl": "https://x.example.com"}),
        Create("C", None, {"title": "C"}),
    )
    assert [o.status for o in report.outcomes] == ["failed", "done", "done"]
    assert "title must not be empty" in report.outcomes[0].detail


def test_a_delete_of_something_already_gone_is_done() -> None:
    report = run(FakeApi(), Delete("Gone", "zz"))
    assert report.ok and report.outcomes[0].detail == "already gone"


def test_an_update_of_a_workflow_deleted_meanwhile_fails_clearly() -> None:
    report = run(FakeApi(), Update("Gone", "zz", {"title": "x"}))
    assert (
        report.outcomes[0].status == "failed" and report.outcomes[0].detail == "the workflow no longer exists"
    )


def test_a_missing_write_scope_stops_every_write() -> None:
    api = FakeApi()
    api.trouble[("create", "A")] = [
        ForbiddenError("POST", "/v1/workflows", 403, ["lacks workflows:write"], scope="workflows:write")
    ]
    report = run(api, *(Create(t, None, {"title": t}) for t in "ABCDE"), parallelism=1)
    assert [o.status for o in report.outcomes] == ["failed", "skipped", "skipped", "skipped", "skipped"]
    assert report.outcomes[1].detail == "the API key lacks the workflows:write scope"
    assert titles(api) == [] and [c for c, _ in api.calls] == ["create"]


@pytest.mark.parametrize("parallelism", [1, 3, 10])
def test_concurrency_is_bounded(parallelism: int) -> None:
    api = FakeApi()
    report = run(
        api, *(Create(f"w{n}", None, {"title": f"w{n}"}) for n in range(40)), parallelism=parallelism
    )
    assert report.ok and api.most_in_flight == parallelism


def test_the_results_as_data() -> None:
    api = FakeApi()
    report = run(api, Create("A", None, {"title": "A"}))
    assert report.data == {
        "ok": True,
        "counts": {
            "created": 1,
            "updated": 0,
            "cancelled": 0,
            "scheduled": 0,
            "deleted": 0,
            "failed": 0,
            "skipped": 0,
        },
        "results": [{"action": "create", "title": "A", "id": "id1", "status": "done", "detail": "id id1"}],
    }


def test_an_interrupted_apply_skips_what_it_had_not_started() -> None:
    import os
    import signal

    api = FakeApi()
    original = api.create_workflow

    async def create_then_signal(body: Mapping[str, Any]) -> LiveWorkflow:
        if body["title"] == "w2":
            os.kill(os.getpid(), signal.SIGUSR1)
            await asyncio.sleep(0.01)
        return await original(body)

    api.create_workflow = create_then_signal  # type: ignore[method-assign]
    changes = [Create(f"w{n}", None, {"title": f"w{n}"}) for n in range(6)]
    report = asyncio.run(
        apply_plan(
            api,
            Plan(tuple(changes)),
            parallelism=1,
            stop_on=(signal.SIGUSR1,),
        )
    )
    assert [o.status for o in report.outcomes] == ["done", "done", "done", "skipped", "skipped", "skipped"]
    assert report.outcomes[3].detail == "apply was interrupted before it"


def test_a_refused_create_fails_at_once() -> None:
    api = FakeApi()
    api.trouble[("create", "A")] = [RequestError("POST", "/v1/workflows", 400, ["title must not be empty"])]
    report = run(api, Create("A", None, {"title": "A"}))
    assert report.outcomes[0].status == "failed" and [c for c, _ in api.calls] == ["create"]


def test_when_the_lookup_itself_fails_the_lost_create_is_reported() -> None:
    api = FakeApi()
    api.trouble[("create", "A")] = ["stored-then-lost"]
    api.trouble[("list", "")] = [ServerError("GET", "/v1/workflows", 503)]
    report = run(api, Create("A", None, {"title": "A"}))
    assert report.outcomes[0].status == "failed"
    assert report.outcomes[0].detail.startswith(
        "its answer was lost and the check failed: GET /v1/workflows: 503"
    )


def test_a_lost_create_that_finds_copies_keeps_the_one_every_runner_keeps() -> None:
    api = FakeApi()
    api.workflows = {"id9": {"title": "A"}}  # another apply made one meanwhile
    api.trouble[("create", "A")] = ["stored-then-lost"]
    report = run(api, Create("A", None, {"title": "A"}), ScheduleRun("A", None, "2027-01-01T00:00:00.000Z"))
    assert report.outcomes[0].status == "done" and report.outcomes[0].workflow_id == "id1"
    assert report.outcomes[0].detail == "id id1 (its answer was lost; 2 copies found)"
    assert list(api.jobs) == ["id1"], "the schedule went to the copy that is kept (the smallest id)"


@pytest.mark.parametrize("action", ["cancel", "delete", "update"])
def test_other_failures_are_reported_with_the_reason(action: str) -> None:
    api = FakeApi()
    api.workflows = {"a": {"title": "A"}}
    api.trouble[(action, "a")] = [ServerError("X", "/v1/workflows/a", 500, ["boom"])]
    change = {
        "cancel": Cancel("A", "a"),
        "delete": Delete("A", "a"),
        "update": Update("A", "a", {"title": "B"}),
    }
    report = run(api, change[action])
    assert (
        report.outcomes[0].status == "failed"
        and "500 Internal Server Error: boom" in report.outcomes[0].detail
    )


def test_a_schedule_without_a_workflow_is_skipped() -> None:
    report = run(FakeApi(), ScheduleRun("Nowhere", None, "2027-01-01T00:00:00.000Z", "GMT"))
    assert (
        report.outcomes[0].status == "skipped" and report.outcomes[0].detail == "its workflow was not created"
    )


def test_a_refused_schedule_fails() -> None:
    api = FakeApi()
    api.trouble[("schedule", "a")] = [RequestError("POST", "/v1/workflows/schedule", 400, ["bad date"])]
    report = run(api, ScheduleRun("A", "a", "2027-01-01T00:00:00.000Z", "GMT"))
    assert report.outcomes[0].status == "failed" and "bad date" in report.outcomes[0].detail


def test_lost_schedules_whose_check_fails_or_never_shows() -> None:
    api = FakeApi()
    api.trouble[("schedule", "a")] = [LOST]
    api.trouble[("jobs", "a")] = [ServerError("GET", "/v1/workflows/a/jobs", 503)]
    report = run(api, ScheduleRun("A", "a", "2027-01-01T00:00:00.000Z", "GMT"))
    assert report.outcomes[0].detail.startswith("its answer was lost and the check failed")
    api = FakeApi()
    api.trouble[("schedule", "b")] = [LOST] * (LOOKUP_ROUNDS + 1)
    report = run(api, ScheduleRun("B", "b", "2027-01-01T00:00:00.000Z", "GMT"))
    assert report.outcomes[0].status == "failed"
    assert report.outcomes[0].detail == f"no answer to the schedule after {LOOKUP_ROUNDS} tries"


def test_a_conflict_on_a_create_is_the_servers_refusal() -> None:
    """A server that keeps titles unique refuses with 409: reported with its reason, sent once,
    never looked up as a lost answer."""
    api = FakeApi()
    api.workflows = {"x": {"title": "a"}}
    api.trouble[("create", "A")] = [
        RequestError("POST", "/v1/workflows", 409, ["title exists (case ignored)"])
    ]
    report = run(api, Create("A", None, {"title": "A"}))
    (outcome,) = report.outcomes
    assert outcome.status == "failed" and "409 Conflict: title exists (case ignored)" in outcome.detail
    assert api.calls == [("create", "A")], "no lookup, no second POST"


def test_a_dropped_create_answer_gives_exactly_one_post() -> None:
    api = FakeApi()
    api.trouble[("create", "A")] = ["stored-then-lost"]
    report = run(api, Create("A", None, {"title": "A"}))
    assert report.ok and report.outcomes[0].workflow_id == "id1" and titles(api) == ["A"]
    assert [call for call, _ in api.calls] == ["create", "list"]
