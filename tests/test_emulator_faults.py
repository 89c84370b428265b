"""Injected faults: latency, 500s, 429s with Retry-After, and dropped create answers."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from wfsync.emulator import DEV_KEY, EmulatorConfig, Faults
from wfsync.emulator.server import EmulatorServer

Start = Callable[..., EmulatorServer]


def client(server: EmulatorServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": DEV_KEY}, timeout=5)


def test_latency_delays_every_request(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(faults=Faults(latency=0.05)))
    with client(server) as api:
        api.get("/v1/workflows")  # connect first
        started = time.perf_counter()
        for _ in range(4):
            assert api.get("/v1/workflows").status_code == 200
        assert time.perf_counter() - started >= 4 * 0.05


def test_latency_overlaps_across_concurrent_requests(start_emulator: Start) -> None:
    """The delay is asynchronous: 20 concurrent requests take about one latency, not 20."""
    import asyncio

    server = start_emulator(EmulatorConfig(faults=Faults(latency=0.2)))

    async def burst() -> float:
        async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": DEV_KEY}) as api:
            started = time.perf_counter()
            answers = await asyncio.gather(*(api.get("/v1/workflows") for _ in range(20)))
            assert {a.status_code for a in answers} == {200}
            return time.perf_counter() - started

    assert asyncio.run(burst()) < 20 * 0.2 / 4


def test_every_request_500_changes_nothing(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(faults=Faults(error_500=1.0)))
    with client(server) as api:
        response = api.post("/v1/workflows", json={"title": "x"})
        assert response.status_code == 500
        assert response.json()["message"] == "Internal server error (injected fault)"
    assert server.store.list_workflows(0, 10)[1] == 0


def test_429_carries_retry_after(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(faults=Faults(error_429=1.0, retry_after=2)))
    with client(server) as api:
        response = api.get("/v1/workflows")
        assert response.status_code == 429 and response.headers["Retry-After"] == "2"


def test_shares_are_about_right_and_repeatable(start_emulator: Start) -> None:
    config = EmulatorConfig(faults=Faults(error_500=0.2, error_429=0.1), seed=7)
    seen = []
    for _ in range(2):
        server = start_emulator(config)
        with client(server) as api:
            seen.append([api.get("/v1/workflows").status_code for _ in range(400)])
    assert seen[0] == seen[1], "the same seed gives the same faults"
    counts = Counter(seen[0])
    assert 50 <= counts[500] <= 110 and 20 <= counts[429] <= 65 and counts[200] > 200


def test_a_dropped_create_is_stored_but_never_answered(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(faults=Faults(drop_create=1.0)))
    with client(server) as api:
        with pytest.raises(httpx.RemoteProtocolError):
            api.post("/v1/workflows", json={"title": "Lead follow-up"})
        listing = api.get("/v1/workflows").json()["data"]
    assert [w["title"] for w in listing] == ["Lead follow-up"]


def test_drop_create_touches_only_creates(start_emulator: Start) -> None:
    server = start_emulator(EmulatorConfig(faults=Faults(drop_create=1.0)))
    workflow = server.store.create_workflow({"title": "x"})
    with client(server) as api:
        assert api.get("/v1/workflows").status_code == 200
        assert api.patch(f"/v1/workflows/{workflow['id']}", json={"title": "y"}).status_code == 200
        assert api.post(f"/v1/workflows/{workflow['id']}/run").status_code == 201
