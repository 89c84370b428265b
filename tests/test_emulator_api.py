"""Every emulator endpoint and each status it documents, over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import LEAD_FOLLOW_UP
from wfsync.emulator import DEV_KEY
from wfsync.emulator.server import EmulatorServer


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/workflows", json={**LEAD_FOLLOW_UP, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["data"]
    return created


def wait_for(api: httpx.Client, job_id: str, statuses: set[str], timeout: float = 5) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = api.get(f"/v1/workflows/jobs/{job_id}").json()["data"]
        if job["status"] in statuses or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


class TestWorkflows:
    def test_create_returns_201_with_server_fields(self, api: httpx.Client) -> None:
        created = create(api)
        assert {key: created[key] for key in LEAD_FOLLOW_UP} == LEAD_FOLLOW_UP
        assert len(created["id"]) == 24 and int(created["id"], 16) >= 0
        assert created["createdAt"] == created["updatedAt"]
        assert created["createdAt"].endswith("Z")
        assert {"organizationId", "status", "__v"} <= set(created)

    def test_create_with_only_a_title(self, api: httpx.Client) -> None:
        response = api.post("/v1/workflows", json={"title": "Bare"})
        assert response.status_code == 201
        assert "callbackUrl" not in response.json()["data"]

    def test_create_400_lists_every_field_error(self, api: httpx.Client) -> None:
        response = api.post(
            "/v1/workflows",
            json={
                "titel": "x",
                "callbackUrl": "ftp://x",
                "webhook": {},
                "endCall": {"phrases": []},
            },
        )
        assert response.status_code == 400
        assert response.json() == {
            "statusCode": 400,
            "error": "Bad Request",
            "message": [
                "callbackUrl must be an absolute http(s) URL, not 'ftp://x'",
                "endCall.phrases must hold at least 1 item",
                "property titel should not exist (did you mean 'title'?)",
                "title is required",
                "webhook.url is required",
            ],
        }
        assert api.get("/v1/workflows").json()["data"] == []

    @pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"", b'"title"'])
    def test_create_400_on_a_body_that_is_not_an_object(self, api: httpx.Client, body: bytes) -> None:
        response = api.post("/v1/workflows", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert response.json()["message"]

    def test_duplicate_titles_are_allowed_as_on_the_platform(self, api: httpx.Client) -> None:
        first, second = create(api), create(api)
        assert first["id"] != second["id"]
        assert [w["title"] for w in api.get("/v1/workflows").json()["data"]] == ["Lead follow-up"] * 2

    def test_get_one(self, api: httpx.Client) -> None:
        created = create(api)
        response = api.get(f"/v1/workflows/{created['id']}")
        assert response.status_code == 200
        assert response.json()["data"] == created

    def test_get_unknown_is_404(self, api: httpx.Client) -> None:
        response = api.get("/v1/workflows/665e4a34c65bb95f2f2d72e1")
        assert response.status_code == 404
        assert response.json()["message"] == "Workflow 665e4a34c65bb95f2f2d72e1 not found"

    def test_patch_changes_only_what_it_names(self, api: httpx.Client) -> None:
        created = create(api)
        time.sleep(0.002)
        response = api.patch(f"/v1/workflows/{created['id']}", json={"endCall": {"phrases": ["bye"]}})
        assert response.status_code == 200
        updated = response.json()["data"]
        assert updated["endCall"] == {"phrases": ["bye"]}
        assert updated["title"] == created["title"] and updated["webhook"] == created["webhook"]
        assert updated["updatedAt"] > created["updatedAt"] and updated["__v"] == 1
        assert updated["createdAt"] == created["createdAt"]

    def test_patch_null_removes_an_optional_field(self, api: httpx.Client) -> None:
        created = create(api)
        updated = api.patch(f"/v1/workflows/{created['id']}", json={"callbackUrl": None}).json()["data"]
        assert "callbackUrl" not in updated

    def test_patch_400_and_404(self, api: httpx.Client) -> None:
        created = create(api)
        bad = api.patch(f"/v1/workflows/{created['id']}", json={"title": 5, "colour": "red"})
        assert bad.status_code == 400
        assert bad.json()["message"] == [
            "property colour should not exist",
            "title must be a string",
        ]
        assert api.patch(f"/v1/workflows/{created['id']}", json={}).status_code == 400
        assert api.patch("/v1/workflows/nope", json={"title": "x"}).status_code == 404
        assert api.get(f"/v1/workflows/{created['id']}").json()["data"] == created

    def test_delete_then_404(self, api: httpx.Client) -> None:
        created = create(api)
        response = api.delete(f"/v1/workflows/{created['id']}")
        assert response.status_code == 200 and response.json()["status"] is True
        assert api.get(f"/v1/workflows/{created['id']}").status_code == 404
        assert api.delete(f"/v1/workflows/{created['id']}").status_code == 404

    def test_unknown_route_and_method(self, api: httpx.Client) -> None:
        assert api.get("/v1/nothing").status_code == 404
        assert api.put("/v1/workflows").status_code == 405


class TestJobs:
    def test_run_is_201_with_the_documented_answer(self, api: httpx.Client) -> None:
        response = api.post(f"/v1/workflows/{create(api)['id']}/run")
        assert response.status_code == 201
        answer = response.json()
        assert answer["status"] is True and answer["message"] == "Workflow execution started"
        assert answer["jobId"].startswith("job_")

    def test_run_unknown_workflow_is_404(self, api: httpx.Client) -> None:
        assert api.post("/v1/workflows/nope/run").status_code == 404

    def test_a_run_moves_queued_running_completed(self, api: httpx.Client) -> None:
        job_id = api.post(f"/v1/workflows/{create(api)['id']}/run").json()["jobId"]
        seen = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            job = api.get(f"/v1/workflows/jobs/{job_id}").json()["data"]
            if not seen or seen[-1] != job["status"]:
                seen.append(job["status"])
            if job["status"] == "completed":
                break
            time.sleep(0.01)
        assert seen[0] in ("queued", "running") and seen[-1] == "completed"
        assert seen == [s for s in ("queued", "running", "completed") if s in seen]
        assert job["startedAt"] < job["finishedAt"]
        assert job["result"]["calls"], "a completed run made calls"

    def test_a_run_whose_webhook_cannot_answer_fails(self, api: httpx.Client) -> None:
        workflow = create(api, webhook={"url": "https://hooks.example.invalid/x"})
        job_id = api.post(f"/v1/workflows/{workflow['id']}/run").json()["jobId"]
        job = wait_for(api, job_id, {"completed", "failed"})
        assert job["status"] == "failed"
        assert "hooks.example.invalid" in job["error"]

    def test_job_unknown_is_404(self, api: httpx.Client) -> None:
        response = api.get("/v1/workflows/jobs/job_01hxyz")
        assert response.status_code == 404
        assert response.json()["message"] == "Job job_01hxyz not found"

    def test_schedule_is_201_and_listed_as_scheduled(self, api: httpx.Client) -> None:
        workflow = create(api)
        response = api.post(
            "/v1/workflows/schedule",
            json={
                "workFlowId": workflow["id"],
                "scheduledDate": "2099-07-01T10:00:00+01:00",
                "timezone": "GMT_plus_1",
            },
        )
        assert response.status_code == 201
        assert response.json()["scheduledDate"] == "2099-07-01T09:00:00.000Z"
        jobs = api.get(f"/v1/workflows/{workflow['id']}/jobs").json()["data"]
        assert [(j["status"], j["scheduledDate"], j["timezone"]) for j in jobs] == [
            ("scheduled", "2099-07-01T09:00:00.000Z", "GMT_plus_1")
        ]

    def test_schedule_400_names_each_problem(self, api: httpx.Client) -> None:
        response = api.post(
            "/v1/workflows/schedule",
            json={"workFlowId": "x", "scheduledDate": "next tuesday", "timezone": "CET"},
        )
        assert response.status_code == 400
        messages = response.json()["message"]
        assert len(messages) == 2
        assert messages[0].startswith("scheduledDate must be an ISO-8601 date-time with a zone")
        assert messages[1].startswith("timezone must be one of GMT, GMT_plus_1 to GMT_plus_14")

    def test_schedule_for_an_unknown_workflow_is_404(self, api: httpx.Client) -> None:
        response = api.post(
            "/v1/workflows/schedule",
            json={"workFlowId": "nope", "scheduledDate": "2099-01-01T00:00:00Z", "timezone": "GMT"},
        )
        assert response.status_code == 404
        assert response.json()["message"] == "Workflow nope not found"

    def test_a_past_schedule_is_due_at_once(self, api: httpx.Client) -> None:
        workflow = create(api)
        job_id = api.post(
            "/v1/workflows/schedule",
            json={
                "workFlowId": workflow["id"],
                "scheduledDate": "2020-01-01T00:00:00Z",
                "timezone": "GMT",
            },
        ).json()["jobId"]
        job = wait_for(api, job_id, {"completed"})
        assert job["status"] == "completed" and job["startedAt"] > "2026"

    def test_cancel_cancels_pending_jobs_only(self, api: httpx.Client) -> None:
        workflow = create(api)
        future = {"workFlowId": workflow["id"], "timezone": "GMT"}
        ids = [
            api.post(
                "/v1/workflows/schedule",
                json={**future, "scheduledDate": f"209{n}-01-01T00:00:00Z"},
            ).json()["jobId"]
            for n in (8, 9)
        ]
        done = api.post(f"/v1/workflows/{workflow['id']}/run").json()["jobId"]
        wait_for(api, done, {"completed"})
        response = api.post(f"/v1/workflows/{workflow['id']}/cancel")
        assert response.status_code == 201
        assert response.json()["data"]["cancelled"] == ids
        assert response.json()["message"] == "Cancelled 2 pending jobs"
        statuses = {
            j["jobId"]: j["status"] for j in api.get(f"/v1/workflows/{workflow['id']}/jobs").json()["data"]
        }
        assert statuses == {ids[0]: "cancelled", ids[1]: "cancelled", done: "completed"}
        assert api.post(f"/v1/workflows/{workflow['id']}/cancel").json()["data"]["cancelled"] == []
        assert api.post("/v1/workflows/nope/cancel").status_code == 404

    def test_deleting_a_workflow_cancels_its_schedules(self, api: httpx.Client) -> None:
        workflow = create(api)
        job_id = api.post(
            "/v1/workflows/schedule",
            json={
                "workFlowId": workflow["id"],
                "scheduledDate": "2099-01-01T00:00:00Z",
                "timezone": "GMT",
            },
        ).json()["jobId"]
        api.delete(f"/v1/workflows/{workflow['id']}")
        job = api.get(f"/v1/workflows/jobs/{job_id}").json()["data"]
        assert job["status"] == "cancelled" and job["error"] == "workflow deleted"

    def test_jobs_of_an_unknown_workflow_is_404(self, api: httpx.Client) -> None:
        assert api.get("/v1/workflows/nope/jobs").status_code == 404


class TestMonitoring:
    def run_many(self, api: httpx.Client, workflow_id: str, count: int) -> list[dict[str, Any]]:
        ids = [api.post(f"/v1/workflows/{workflow_id}/run").json()["jobId"] for _ in range(count)]
        return [wait_for(api, job_id, {"completed", "failed"}) for job_id in ids]

    def test_summary_counts_what_the_jobs_did(self, api: httpx.Client) -> None:
        workflow = create(api)
        jobs = self.run_many(api, workflow["id"], 5)
        calls = [call for job in jobs for call in job["result"]["calls"]]
        summary = api.get(f"/v1/workflows/{workflow['id']}/summary").json()["data"]
        assert summary["totalJobs"] == 5 and summary["jobs"]["completed"] == 5
        assert summary["successRate"] == 1.0
        assert summary["calls"]["total"] == len(calls)
        answered = [c for c in calls if c["outcome"] == "answered"]
        assert summary["calls"]["answered"] == len(answered)
        assert summary["talkTimeSeconds"] == sum(c["durationSeconds"] for c in answered)
        assert summary["lastRunAt"] == max(job["startedAt"] for job in jobs)

    def test_summary_of_a_workflow_without_jobs(self, api: httpx.Client) -> None:
        summary = api.get(f"/v1/workflows/{create(api)['id']}/summary").json()["data"]
        assert summary["totalJobs"] == 0 and summary["successRate"] is None
        assert summary["calls"]["total"] == 0

    def test_timeline_buckets_jobs_by_period(self, api: httpx.Client) -> None:
        workflow = create(api)
        jobs = self.run_many(api, workflow["id"], 3)
        for interval, width in (("day", 10), ("hour", 13), ("minute", 16)):
            data = api.get(
                f"/v1/workflows/{workflow['id']}/summary/timeline", params={"interval": interval}
            ).json()["data"]
            assert data["interval"] == interval
            assert sum(row["jobs"] for row in data["periods"]) == 3
            assert {row["period"] for row in data["periods"]} == {j["startedAt"][:width] for j in jobs}
        bad = api.get(f"/v1/workflows/{workflow['id']}/summary/timeline", params={"interval": "week"})
        assert bad.status_code == 400

    def test_report_as_json_and_csv(self, api: httpx.Client) -> None:
        workflow = create(api)
        jobs = self.run_many(api, workflow["id"], 2)
        report = api.get(f"/v1/workflows/{workflow['id']}/summary/report").json()["data"]
        assert [job["jobId"] for job in report["jobs"]] == [job["jobId"] for job in jobs]
        assert report["summary"]["totalJobs"] == 2 and report["workflow"]["id"] == workflow["id"]
        csv = api.get(f"/v1/workflows/{workflow['id']}/summary/report", params={"format": "csv"})
        assert csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.splitlines()
        assert lines[0].startswith("jobId,status") and len(lines) == 1 + sum(
            len(job["result"]["calls"]) for job in jobs
        )
        assert (
            api.get(f"/v1/workflows/{workflow['id']}/summary/report", params={"format": "pdf"}).status_code
            == 400
        )

    @pytest.mark.parametrize("path", ["summary", "summary/timeline", "summary/report"])
    def test_monitoring_of_an_unknown_workflow_is_404(self, api: httpx.Client, path: str) -> None:
        assert api.get(f"/v1/workflows/nope/{path}").status_code == 404


def test_state_in_a_file_survives_a_restart(start_emulator: Any, tmp_path: Any) -> None:
    db = tmp_path / "emulator.db"
    first: EmulatorServer = start_emulator(db=db)
    with httpx.Client(base_url=first.url, headers={"X-API-Key": "wfsync-dev-key"}) as api:
        created = create(api)
    first.stop()
    second: EmulatorServer = start_emulator(db=db)
    with httpx.Client(base_url=second.url, headers={"X-API-Key": "wfsync-dev-key"}) as api:
        assert api.get(f"/v1/workflows/{created['id']}").json()["data"] == created
        assert create(api)["id"] != created["id"]


def test_a_body_over_one_mebibyte_is_413(api: httpx.Client) -> None:
    response = api.post("/v1/workflows", json={"title": "x" * (1 << 20)})
    assert response.status_code == 413


def test_unknown_query_parameters_are_400(api: httpx.Client) -> None:
    response = api.get("/v1/workflows", params={"pgae": 2})
    assert response.status_code == 400
    assert response.json()["message"] == ["query parameter pgae should not exist"]


def test_head_is_answered_like_get(api: httpx.Client) -> None:
    assert api.head("/v1/workflows").status_code == 200
    response = api.options("/v1/workflows")
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD, POST"


def test_the_openapi_document_is_served_after_bodies_were_validated(
    start_emulator: Callable[..., EmulatorServer],
) -> None:
    # Validating a body compiles the schemas, which once rewrote the cached schema objects
    # the OpenAPI bundling reads: /openapi.json then failed with 500 (a RecursionError).
    from wfsync import schema

    schema.is_valid("schedule", {})
    schema.validate("workflow-patch", {})
    server = start_emulator()
    created = httpx.post(server.url + "/v1/workflows", json={"title": "t"}, headers={"X-API-Key": DEV_KEY})
    assert created.status_code == 201
    document = httpx.get(server.url + "/openapi.json")
    assert document.status_code == 200 and document.json()["openapi"] == "3.1.0"
