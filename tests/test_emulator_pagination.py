"""The listing's pages: `page` from 1, `limit` default 20 and at most 100."""

from __future__ import annotations

import httpx
import pytest

from wfsync.emulator.server import EmulatorServer


def fill(emulator: EmulatorServer, count: int) -> list[str]:
    return [emulator.store.create_workflow({"title": f"wf {n:04d}"})["id"] for n in range(count)]


def page(api: httpx.Client, **params: object) -> dict:
    response = api.get("/v1/workflows", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_empty(api: httpx.Client) -> None:
    assert page(api) == {
        "status": True,
        "message": "Workflows retrieved successfully",
        "data": [],
        "pagination": {"page": 1, "limit": 20, "total": 0, "totalPages": 0},
    }


def test_default_limit_is_20(emulator: EmulatorServer, api: httpx.Client) -> None:
    fill(emulator, 25)
    first = page(api)
    assert len(first["data"]) == 20
    assert first["pagination"] == {"page": 1, "limit": 20, "total": 25, "totalPages": 2}
    assert len(page(api, page=2)["data"]) == 5


def test_exact_multiple_of_the_limit(emulator: EmulatorServer, api: httpx.Client) -> None:
    ids = fill(emulator, 30)
    pages = [page(api, page=n, limit=10) for n in (1, 2, 3, 4)]
    assert [len(p["data"]) for p in pages] == [10, 10, 10, 0]
    assert pages[0]["pagination"]["totalPages"] == 3
    assert [w["id"] for p in pages for w in p["data"]] == ids


def test_limit_over_the_maximum_is_served_as_100(emulator: EmulatorServer, api: httpx.Client) -> None:
    fill(emulator, 150)
    first = page(api, limit=500)
    assert len(first["data"]) == 100 and first["pagination"]["limit"] == 100
    assert len(page(api, page=2, limit=500)["data"]) == 50


def test_page_past_the_end_is_empty(emulator: EmulatorServer, api: httpx.Client) -> None:
    fill(emulator, 3)
    assert page(api, page=99)["data"] == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("page", "0"),
        ("page", "-1"),
        ("page", "x"),
        ("limit", "0"),
        ("limit", "1.5"),
        ("page", "²"),
        ("page", "99999999999"),
    ],
)
def test_bad_page_or_limit_is_400(api: httpx.Client, name: str, value: str) -> None:
    response = api.get("/v1/workflows", params={name: value})
    assert response.status_code == 400
    assert response.json()["message"] == [f"{name} must be an integer from 1 to 2147483647, not {value!r}"]


def test_jobs_listing_is_paginated_the_same_way(emulator: EmulatorServer, api: httpx.Client) -> None:
    workflow_id = fill(emulator, 1)[0]
    for _ in range(25):
        emulator.store.schedule_run(workflow_id, 4_000_000_000, "GMT")
    first = api.get(f"/v1/workflows/{workflow_id}/jobs").json()
    assert len(first["data"]) == 20 and first["pagination"]["total"] == 25
    assert len(api.get(f"/v1/workflows/{workflow_id}/jobs", params={"page": 2}).json()["data"]) == 5
