"""Shared fixtures: an emulator served over real loopback HTTP, and clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from wfsync.emulator import DEV_KEY, EmulatorConfig, JobTiming
from wfsync.emulator.server import EmulatorServer

# Runs that finish within a test's patience, but slowly enough to see each state.
FAST_JOBS = JobTiming(queue_seconds=0.05, run_seconds=0.15)


class FakeClock:
    """A clock the test moves by hand (epoch seconds)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own cache of read definition files (wfsync.parsecache), never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., EmulatorServer]]:
    """Start emulators with any config; every one is stopped after the test."""
    servers: list[EmulatorServer] = []

    def start(config: EmulatorConfig | None = None, **kwargs: Any) -> EmulatorServer:
        server = EmulatorServer(config or EmulatorConfig(timing=FAST_JOBS), **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(timing=FAST_JOBS)) as server:
        yield server


@pytest.fixture
def emulator(shared_emulator: EmulatorServer) -> EmulatorServer:
    """The default emulator, empty at the start of each test."""
    shared_emulator.store.reset()
    shared_emulator.served.clear()
    return shared_emulator


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """An httpx client for the emulator, sending the development key."""
    with httpx.Client(base_url=emulator.url, headers={"X-API-Key": DEV_KEY}, timeout=10) as client:
        yield client


LEAD_FOLLOW_UP = {
    "title": "Lead follow-up",
    "callbackUrl": "https://client.example.com/hooks/workflow",
    "webhook": {"url": "https://client.example.com/hooks/workflow"},
    "endCall": {"phrases": ["goodbye", "end call"]},
}


def numbered_definitions(
    count: int, *, title: str = "Campaign {n:03d}", phrase: str = "bye", schedule_every: int = 5
) -> str:
    """A definitions file of ``count`` workflows; every ``schedule_every``-th has a schedule."""
    lines = ["workflows:"]
    for n in range(count):
        lines += [
            f"  - title: {title.format(n=n)}",
            f"    callbackUrl: https://crm.example.com/hooks/{n}",
            f"    endCall: {{phrases: [{phrase}, goodbye]}}",
        ]
        if n % schedule_every == 0:
            lines += [
                "    schedules:",
                f"      - {{scheduledDate: '2099-0{1 + n % 9}-0{1 + n % 7}T09:00:00Z', timezone: GMT}}",
            ]
    return "\n".join(lines) + "\n"
