"""On the httpx path (a proxy, credentials in the URL; wfsync.http11.suits), requests spread
over several small clients: httpcore's pool checks every connection it holds on each
request, so many connections live in many small pools, not one large one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest

from wfsync import http11
from wfsync.api import ApiClient
from wfsync.emulator import DEV_KEY
from wfsync.transport import SHARD_CONNECTIONS, Transport, shard_sizes

KEY = "sk-shard-5f0e2a9c77b1"


@pytest.fixture
def httpx_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """As when the URL cannot go through wfsync.http11 (a proxy, credentials)."""
    monkeypatch.setattr(http11, "suits", lambda url: False)


@pytest.mark.parametrize("connections", [1, 2, 3, 4, 5, 8, 12, 20, 34, 66, 130])
def test_shards_hold_the_connections_asked_for_each_small_and_even(connections: int) -> None:
    sizes = shard_sizes(connections)
    assert sum(sizes) == connections
    assert max(sizes) <= SHARD_CONNECTIONS
    assert max(sizes) - min(sizes) <= 1
    assert len(sizes) == -(-connections // SHARD_CONNECTIONS)  # no more clients than needed


def test_no_connections_asked_for_still_gives_one() -> None:
    assert shard_sizes(0) == [1]


class Recorder:
    """Clients whose answers wait until released, recording which client each request took."""

    def __init__(self, clients: int, expect: int) -> None:
        self.taken: list[int] = []
        self.expect = expect
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.clients = [
            httpx.AsyncClient(base_url="http://127.0.0.1:9", transport=httpx.MockTransport(self.handler(n)))
            for n in range(clients)
        ]

    def handler(self, shard: int) -> Any:
        async def handle(request: httpx.Request) -> httpx.Response:
            self.taken.append(shard)
            if len(self.taken) >= self.expect:
                self.arrived.set()
            await self.release.wait()
            if request.url.path == "/boom":
                raise httpx.ReadError("dropped", request=request)
            return httpx.Response(200, json={"shard": shard})

        return handle


def test_concurrent_requests_go_to_the_least_busy_client() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        recorder = Recorder(clients=3, expect=7)
        layer = Transport(recorder.clients)
        sent = [asyncio.create_task(layer.request("GET", "/v1/workflows")) for _ in range(7)]
        await recorder.arrived.wait()
        in_flight = list(layer._in_flight)
        recorder.release.set()
        await asyncio.gather(*sent)
        return in_flight, recorder.taken

    in_flight, taken = asyncio.run(scenario())
    assert sorted(in_flight) == [2, 2, 3]
    assert sorted(taken.count(n) for n in range(3)) == [2, 2, 3]


def test_one_request_at_a_time_keeps_to_the_first_client() -> None:
    # Its connection stays alive between requests; spreading a light load would open one
    # connection in every client for nothing.
    async def scenario() -> list[int]:
        recorder = Recorder(clients=3, expect=1)
        recorder.release.set()
        layer = Transport(recorder.clients)
        for _ in range(5):
            await layer.request("GET", "/v1/workflows")
        return recorder.taken

    assert asyncio.run(scenario()) == [0] * 5


def test_a_failed_request_frees_its_client() -> None:
    async def scenario() -> tuple[type[BaseException], list[int]]:
        recorder = Recorder(clients=2, expect=2)
        layer = Transport(recorder.clients)
        sent = [asyncio.create_task(layer.request("POST", "/boom")) for _ in range(2)]
        await recorder.arrived.wait()
        recorder.release.set()
        outcomes = await asyncio.gather(*sent, return_exceptions=True)
        assert all(isinstance(outcome, Exception) for outcome in outcomes)
        return type(outcomes[0]), layer._in_flight

    error, in_flight = asyncio.run(scenario())
    assert error.__name__ == "TransportError"
    assert in_flight == [0, 0]


def test_a_transport_needs_a_client() -> None:
    with pytest.raises(ValueError, match="at least one client"):
        Transport([])


@pytest.mark.usefixtures("httpx_path")
def test_connect_builds_small_clients_alike_that_all_carry_the_key() -> None:
    async def scenario() -> list[tuple[str, str | None, str | None]]:
        async with ApiClient.connect("http://127.0.0.1:9", KEY, connections=34) as api:
            return [
                (str(client.base_url), client.headers.get("x-api-key"), client.headers.get("user-agent"))
                for client in api.transport.clients
            ]

    clients = asyncio.run(scenario())
    assert len(clients) == len(shard_sizes(34)) > 1
    assert {base for base, _, _ in clients} == {"http://127.0.0.1:9"}
    assert {key for _, key, _ in clients} == {KEY}
    assert all(agent and agent.startswith("wfsync/") for _, _, agent in clients)


def test_connect_with_a_given_transport_builds_one_client() -> None:
    async def scenario() -> int:
        mock = httpx.MockTransport(lambda request: httpx.Response(200, json=[]))
        async with ApiClient.connect("http://127.0.0.1:9", KEY, connections=34, transport=mock) as api:
            return len(api.transport.clients)

    assert asyncio.run(scenario()) == 1


def test_connect_through_the_own_pool_builds_an_httpx_client_only_when_asked() -> None:
    # It serves what needs httpx (the doctor's response hook); the pool sends the rest.
    async def scenario() -> tuple[int, bool, tuple[str, str | None, str | None], bool]:
        async with ApiClient.connect("http://127.0.0.1:9", KEY, connections=34) as api:
            before = len(api.transport.clients)
            client = api.transport.http
            built = (str(client.base_url), client.headers.get("x-api-key"), client.headers.get("user-agent"))
            assert api.transport.http is client  # built once
        return before, api.transport.pool is not None, built, client.is_closed

    before, pooled, (base, key, agent), closed = asyncio.run(scenario())
    assert (before, pooled) == (0, True)
    assert (base, key) == ("http://127.0.0.1:9", KEY)
    assert agent and agent.startswith("wfsync/")
    assert closed  # closed with the API client


def test_a_command_through_the_pool_never_imports_httpx(start_emulator: Any) -> None:
    # ~0.1 s of start-up for every command; only a test's transport, a proxy, credentials
    # in the URL or the doctor's hook need it.
    server = start_emulator()
    probe = (
        "import asyncio, sys\n"
        "from wfsync.api import ApiClient\n"
        "async def main():\n"
        "    async with ApiClient.connect(sys.argv[1], sys.argv[2]) as api:\n"
        "        await api.list_workflows()\n"
        "asyncio.run(main())\n"
        "print('httpx' in sys.modules, 'urllib.request' in sys.modules)\n"
    )
    # Nor urllib.request (a tenth of start-up), when no *_proxy variable is set.
    env = {name: value for name, value in os.environ.items() if not name.lower().endswith("_proxy")}
    done = subprocess.run(
        [sys.executable, "-c", probe, server.url, DEV_KEY], capture_output=True, text=True, env=env
    )
    assert done.stdout.strip() == "False False", done.stderr[-2000:]


@pytest.mark.parametrize("path", ["http11", "httpx"])
def test_many_concurrent_writes_over_loopback_all_arrive(
    path: str, start_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Over real sockets: 40 creates at once through 18 connections (on the httpx path, 5
    # clients), each created once.
    server = start_emulator()
    if path == "httpx":
        monkeypatch.setattr(http11, "suits", lambda url: False)

    async def scenario() -> tuple[int, list[int]]:
        async with ApiClient.connect(server.url, DEV_KEY, connections=18) as api:
            assert (api.transport.pool is not None) == (path == "http11")
            await asyncio.gather(
                *(
                    api.create_workflow(
                        {"title": f"Shard {n:02d}", "callbackUrl": "https://crm.example.com/h"}
                    )
                    for n in range(40)
                )
            )
            listed = await api.list_workflows()
            return len(listed), list(api.transport._in_flight)

    count, in_flight = asyncio.run(scenario())
    assert count == 40
    assert in_flight == [0] * (len(shard_sizes(18)) if path == "httpx" else 0)
