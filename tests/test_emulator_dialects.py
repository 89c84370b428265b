"""The other answer forms SPEC §1 allows, which the emulator produces on request."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from wfsync.emulator import DEV_KEY, Dialect, EmulatorConfig
from wfsync.emulator.server import EmulatorServer

Start = Callable[..., EmulatorServer]


def client(server: EmulatorServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": DEV_KEY})


def test_items_envelope_with_mongo_ids(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(dialect=Dialect(envelope="items", id_key="_id")))
    with client(server) as api:
        created = api.post("/v1/workflows", json={"title": "a"}).json()
        assert "_id" in created and "id" not in created and created["title"] == "a"
        listing = api.get("/v1/workflows").json()
        assert listing == {"items": [created], "page": 1, "limit": 20, "total": 1, "totalPages": 1}
        assert api.get(f"/v1/workflows/{created['_id']}").json() == created


def test_bare_arrays_without_totals(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(dialect=Dialect(envelope="bare", total=False)))
    with client(server) as api:
        for n in range(3):
            api.post("/v1/workflows", json={"title": f"w{n}"})
        assert [w["title"] for w in api.get("/v1/workflows", params={"limit": 2}).json()] == [
            "w0",
            "w1",
        ]
        assert [w["title"] for w in api.get("/v1/workflows", params={"limit": 2, "page": 2}).json()] == ["w2"]


def test_capped_pages_serve_fewer_than_asked(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(dialect=Dialect(page_cap=7, total=False)))
    with client(server) as api:
        for n in range(10):
            api.post("/v1/workflows", json={"title": f"w{n}"})
        first = api.get("/v1/workflows", params={"limit": 100}).json()
        assert len(first["data"]) == 7 and first["pagination"] == {"page": 1, "limit": 7}
        assert len(api.get("/v1/workflows", params={"limit": 100, "page": 2}).json()["data"]) == 3


@pytest.mark.parametrize(
    ("errors", "check"),
    [
        ("string", lambda r: r.json() == {"status": False, "message": "title is required"}),
        (
            "text",
            lambda r: r.headers["content-type"].startswith("text/plain") and r.text == "title is required",
        ),
    ],
)
def test_error_bodies(start_emulator: Start, errors: str, check: Callable[[httpx.Response], bool]) -> None:
    server = start_emulator(EmulatorConfig(dialect=Dialect(errors=errors)))  # type: ignore[arg-type]
    with client(server) as api:
        response = api.post("/v1/workflows", json={})
        assert response.status_code == 400 and check(response)


@pytest.mark.parametrize(
    ("writes", "expected_patch", "expected_delete"),
    [
        ("status", (200, {"status": True, "message": "Workflow updated successfully"}), 200),
        (
            "update-result",
            (200, {"status": True, "data": {"acknowledged": True, "matchedCount": 1, "modifiedCount": 1}}),
            200,
        ),
        ("empty", (204, None), 204),
    ],
)
def test_write_answers(
    start_emulator: Start, writes: str, expected_patch: tuple[int, object], expected_delete: int
) -> None:
    server = start_emulator(EmulatorConfig(dialect=Dialect(writes=writes)))  # type: ignore[arg-type]
    with client(server) as api:
        made = api.post("/v1/workflows", json={"title": "a"}).json()["data"]
        patched = api.patch(f"/v1/workflows/{made['id']}", json={"title": "b"})
        assert (patched.status_code, patched.json() if patched.content else None) == expected_patch
        scheduled = api.post(
            "/v1/workflows/schedule",
            json={"workFlowId": made["id"], "scheduledDate": "2099-01-01T00:00:00Z", "timezone": "GMT"},
        )
        assert "jobId" not in scheduled.text, "this form names no job"
        assert api.delete(f"/v1/workflows/{made['id']}").status_code == expected_delete
        assert server.store.get_workflow(made["id"]) is None


def test_bare_write_answers_are_the_object(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(dialect=Dialect(writes="bare")))
    with client(server) as api:
        made = api.post("/v1/workflows", json={"title": "a"}).json()["data"]
        patched = api.patch(f"/v1/workflows/{made['id']}", json={"title": "b"}).json()
        assert patched["id"] == made["id"] and patched["title"] == "b" and "data" not in patched


def test_unique_titles_ignore_case_on_create_and_rename(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(dialect=Dialect(unique_titles=True)))
    with client(server) as api:
        first = api.post("/v1/workflows", json={"title": "Lead"}).json()["data"]
        other = api.post("/v1/workflows", json={"title": "Other"}).json()["data"]
        again = api.post("/v1/workflows", json={"title": "lEAD"})
        assert (
            again.status_code == 409 and again.json()["message"] == "A workflow titled 'lEAD' already exists"
        )
        assert api.patch(f"/v1/workflows/{other['id']}", json={"title": "LEAD"}).status_code == 409
        assert api.patch(f"/v1/workflows/{first['id']}", json={"title": "lead"}).status_code == 200


def test_defaults_are_stored_for_fields_left_out(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(dialect=Dialect(defaults=True)))
    with client(server) as api:
        made = api.post("/v1/workflows", json={"title": "a", "callbackUrl": "https://x.example.com/"}).json()
        stored = made["data"]
        assert stored["callbackUrl"] == "https://x.example.com/"
        assert stored["webhook"] == {} and stored["endCall"] == {"phrases": []}


def test_bullmq_jobs_and_dates_in_an_offset(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(dialect=Dialect(jobs="bullmq", offset_minutes=330)))
    with client(server) as api:
        made = api.post("/v1/workflows", json={"title": "a"}).json()["data"]
        assert made["createdAt"].endswith("+05:30")
        job_id = api.post(
            "/v1/workflows/schedule",
            json={"workFlowId": made["id"], "scheduledDate": "2099-01-01T00:00:00Z", "timezone": "GMT"},
        ).json()["jobId"]
        job = api.get(f"/v1/workflows/jobs/{job_id}").json()
        assert job["status"] is True and "status" not in job["data"]
        assert job["data"]["state"] == "delayed"
        assert job["data"]["scheduledDate"] == "2099-01-01T05:30:00.000+05:30"
        listed = api.get(f"/v1/workflows/{made['id']}/jobs").json()["data"]
        assert [j["state"] for j in listed] == ["delayed"]
