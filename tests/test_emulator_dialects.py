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
