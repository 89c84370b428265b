"""Applies started at the same moment on different machines (separate homes, so no shared
lock) against one account: they end with no workflow and no pending schedule twice.

The emulator holds the first listing of each runner until every runner has asked for it,
so each one plans against the empty account and creates everything: the duplicates are
certain, not left to timing, and the verification rounds must resolve them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import numbered_definitions
from wfsync.emulator import DEV_KEY, EmulatorConfig, Faults, JobTiming
from wfsync.emulator.app import create_app
from wfsync.emulator.server import AppServer
from wfsync.emulator.store import Store

SLOW_JOBS = JobTiming(queue_seconds=600, run_seconds=600)  # nothing runs during the test
WORKFLOWS = 40


class FirstListingsTogether:
    """ASGI middleware: the first ``count`` listings wait until all of them have arrived."""

    def __init__(self, app: Any, count: int) -> None:
        self.app, self.count = app, count
        self.arrived = 0
        self.met = False
        self._all: asyncio.Event | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        first_page = (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] == "/v1/workflows"
            and (not query or b"page=1" in query.split(b"&"))
        )
        if first_page and self.arrived < self.count:
            self._all = self._all or asyncio.Event()
            self.arrived += 1
            if self.arrived == self.count:
                self.met = True
                self._all.set()
            await asyncio.wait_for(self._all.wait(), timeout=60)
        await self.app(scope, receive, send)


def runner(url: str, home: Path) -> subprocess.Popen[str]:
    """One CI runner: its own home and lock folder, the same definitions and account."""
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "WFSYNC_LOCK_DIR": str(home / "locks"), "WFSYNC_API_KEY": DEV_KEY}
    return subprocess.Popen(
        [sys.executable, "-m", "wfsync", "apply", "--api-url", url, "--auto-approve", "--parallelism", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


@pytest.mark.parametrize(
    ("runners", "faults"),
    [
        (2, Faults(latency=0.005)),
        (3, Faults(latency=0.005)),
        (2, Faults(latency=0.005, error_500=0.05, error_429=0.05, retry_after=0, drop_create=0.1)),
        (3, Faults(latency=0.005, error_500=0.05, error_429=0.05, retry_after=0, drop_create=0.1)),
    ],
    ids=["2-runners", "3-runners", "2-runners-faults", "3-runners-faults"],
)
def test_runners_started_at_once_leave_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runners: int, faults: Faults
) -> None:
    config = EmulatorConfig(faults=faults, seed=runners, timing=SLOW_JOBS)
    store = Store(":memory:", seed=config.seed, timing=config.timing)
    gate = FirstListingsTogether(create_app(config, store), runners)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "w.yaml").write_text(
        numbered_definitions(WORKFLOWS, title="Flow {n:03d}", schedule_every=3), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    with AppServer(gate) as server:
        processes = [runner(server.url, tmp_path / f"home{n}") for n in range(runners)]
        outputs = [process.communicate(timeout=240)[0] for process in processes]
        assert gate.met, "every runner planned against the empty account"
        workflows = store.list_workflows(0, 10_000)[0]
        titles = Counter(w["title"] for w in workflows)
        pending = Counter(
            (w["id"], job["scheduledDate"])
            for w in workflows
            for job in store.all_jobs(w["id"])
            if job["status"] == "scheduled"
        )
    assert [t for t, n in titles.items() if n > 1] == [], "no workflow twice"
    assert set(titles) == {f"Flow {n:03d}" for n in range(WORKFLOWS)}
    assert [key for key, n in pending.items() if n > 1] == [], "no pending schedule twice"
    assert len(pending) == len(range(0, WORKFLOWS, 3)), "every schedule pending"
    assert sum(output.count("verify: deleted") for output in outputs) >= WORKFLOWS - 1, (
        "the copies were found and removed by the verification rounds"
    )
    for process, output in zip(processes, outputs, strict=True):
        if process.returncode == 0:
            assert "Verified: the live workflows match the definitions" in output
        else:  # a runner that cannot prove the account is right says what is left
            assert process.returncode == 1 and ("Not verified" in output or "FAILED" in output), output


class LaggingListing:
    """ASGI middleware: a workflow appears in listings only from the third listing after
    its create (an eventually consistent read replica)."""

    def __init__(self, app: Any, lag: int = 2) -> None:
        self.app, self.lag = app, lag
        self.hidden: dict[str, int] = {}  # id -> listings still to hide it from
        self.creates = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/workflows":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        start: dict[str, Any] = {}

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if scope["method"] == "POST" and start.get("status") == 201:
            self.creates += 1
            created = json.loads(body)
            self.hidden[created.get("data", created)["id"]] = self.lag
        elif scope["method"] == "GET" and start.get("status") == 200:
            page = json.loads(body)
            page["data"] = [w for w in page["data"] if self.hidden.get(w["id"], 0) <= 0]
            for workflow_id in self.hidden:
                self.hidden[workflow_id] -= 1
            body = json.dumps(page).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def test_a_listing_that_lags_behind_creates_never_makes_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from wfsync.cli import main

    config = EmulatorConfig(timing=SLOW_JOBS)
    store = Store(":memory:", timing=config.timing)
    (tmp_path / "w.yaml").write_text(
        "workflows:\n  - title: Alpha\n  - title: Beta\n"
        "    schedules: [{scheduledDate: '2099-01-01T09:00:00Z', timezone: GMT}]\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
    monkeypatch.setenv("WFSYNC_LOCK_DIR", str(tmp_path / "locks"))
    lagging = LaggingListing(create_app(config, store))
    with AppServer(lagging) as server:
        result = CliRunner().invoke(main, ["apply", "w.yaml", "--api-url", server.url, "--auto-approve"])
    titles = Counter(w["title"] for w in store.list_workflows(0, 100)[0])
    assert titles == {"Alpha": 1, "Beta": 1}, result.output
    assert lagging.creates == 2, "each create sent once: a lagging listing is read again, not believed"
    assert result.exit_code == 0 and "Verified" in result.output, result.output
