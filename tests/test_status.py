"""`wfsync status`: in sync / drifted / failing per environment; per workflow a week of runs,
pending schedules and the last error, read from the API; a self-contained page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from wfsync.api import ApiClient
from wfsync.cli import main
from wfsync.definitions import load_definitions
from wfsync.emulator import EmulatorConfig, Store
from wfsync.emulator.config import SCOPES
from wfsync.emulator.server import EmulatorServer
from wfsync.status import DAYS, Day, EnvStatus, WorkflowStatus, days_from_timeline, gather
from wfsync.status_page import render_page

KEY = "stat-Sekr3t-KEY-41c9"
TOKEN = "stat-Sekr3t-TOKEN-d00d"
DEFINITIONS = """\
workflows:
  - title: Lead follow-up
    callbackUrl: https://crm.example.com/hooks/done
    webhook: {url: "https://crm.example.com/hooks/${STATUS_HOOK_TOKEN}"}
    endCall: {phrases: [goodbye]}
  - title: Payment reminder
    callbackUrl: https://pay.example.com/hooks/done
    endCall: {phrases: [thank you]}
  - title: Survey
    callbackUrl: https://survey.invalid/hooks/done
    endCall: {phrases: [bye]}
"""


@dataclass
class Account:
    """An emulated account with a week of runs behind it."""

    server: EmulatorServer
    ids: dict[str, str]

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.server.url}{path}", params=params, headers={"X-API-Key": KEY})
        return answer.json()


def week_of_runs(folder: Path, *, seed: int, drift: bool = False) -> Account:
    """A store whose workflows ran for the last seven days (some fail), with schedules pending."""
    clock = [time.time() - DAYS * 86400]
    store = Store(folder / f"account-{seed}.db", seed=seed, fail_share=0.2, clock=lambda: clock[0])
    bodies = load_definitions([folder / "workflows"], env={"STATUS_HOOK_TOKEN": TOKEN})
    ids = {}
    for definition in bodies:
        body = dict(definition.body)
        if drift and definition.title == "Payment reminder":
            body["callbackUrl"] = "https://changed-by-hand.example.com/x"
        ids[definition.title] = store.create_workflow(body)["id"]
    for day in range(DAYS):
        for hour, title in enumerate(ids):
            for _ in range((seed + day + hour) % 4):
                clock[0] = time.time() - (DAYS - 1 - day) * 86400 - (hour + 1) * 600
                store.start_run(ids[title])
                clock[0] += 5
                store.tick()
    clock[0] = time.time()
    store.schedule_run(ids["Lead follow-up"], time.time() + 3 * 86400, "GMT")
    store.schedule_run(ids["Lead follow-up"], time.time() + 5 * 86400, "GMT_plus_1")
    store.schedule_run(ids["Payment reminder"], time.time() + 86400, "GMT")

    def now() -> float:
        return time.time()

    store.clock = now
    server = EmulatorServer(EmulatorConfig(keys={KEY: SCOPES}), store=store).start()
    return Account(server, ids)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "flows.yaml").write_text(DEFINITIONS)
    return tmp_path


def environment_status(
    account: Account, name: str, definitions: Any, problem: str | None = None
) -> EnvStatus:
    async def run() -> EnvStatus:
        async with ApiClient.connect(account.server.url, KEY) as api:
            return await gather(
                api,
                name=name,
                api_url=account.server.url,
                definitions=definitions,
                problem=problem,
                now=datetime.now(UTC),
            )

    return asyncio.run(run())


@pytest.fixture
def three_environments(repo: Path) -> Iterator[tuple[list[EnvStatus], list[Account]]]:
    """staging in sync, production drifted, acme failing (its definitions do not load)."""
    definitions = load_definitions([repo / "workflows"], env={"STATUS_HOOK_TOKEN": TOKEN})
    accounts = [
        week_of_runs(repo, seed=1),
        week_of_runs(repo, seed=2, drift=True),
        week_of_runs(repo, seed=3),
    ]
    try:
        statuses = [
            environment_status(accounts[0], "staging", definitions),
            environment_status(accounts[1], "production", definitions),
            environment_status(
                accounts[2], "acme", None, "the definitions do not load: flows.yaml:4:15: STATUS_HOOK_TOKEN"
            ),
        ]
        yield statuses, accounts
    finally:
        for account in accounts:
            account.server.stop()


def test_states_and_figures_equal_what_the_api_gave(three_environments: Any) -> None:
    statuses, accounts = three_environments
    assert [s.state for s in statuses] == ["in sync", "drifted", "failing"]
    assert statuses[1].counts == {"update": 1}
    assert statuses[2].error and "do not load" in statuses[2].error
    for status, account in zip(statuses, accounts, strict=True):
        assert [w.title for w in status.workflows] == sorted(account.ids)
        for workflow in status.workflows:
            answer = account.get(f"/v1/workflows/{workflow.id}/summary/timeline", interval="day")
            given = {row["period"]: row for row in answer["data"]["periods"]}
            assert len(workflow.days) == DAYS
            for day in workflow.days:
                row = given.get(day.date, {})
                assert (day.completed, day.failed, day.total) == (
                    row.get("completed", 0),
                    row.get("failed", 0),
                    row.get("jobs", 0),
                )
    lead = statuses[0].workflows[0]
    assert (
        lead.title == "Lead follow-up"
        and len(lead.pending) == 2
        and lead.pending == tuple(sorted(lead.pending))
    )
    survey = statuses[0].workflows[2]
    assert survey.last_error and "survey.invalid" in survey.last_error  # its webhook host cannot answer


def test_days_from_timeline_reads_the_forms_it_may_get() -> None:
    today = datetime(2026, 11, 28, 12, tzinfo=UTC)
    rows = [
        {"period": "2026-11-27", "jobs": 5, "completed": 3, "failed": 1},
        {"date": "2026-11-28T00", "total": 2},
    ]
    for answer in (rows, {"periods": rows}, {"data": rows}):
        days = days_from_timeline(answer, today)
        assert days[0].date == (today - timedelta(days=DAYS - 1)).date().isoformat()
        assert days[-2] == Day("2026-11-27", 3, 1, 1) and days[-1] == Day("2026-11-28", 0, 0, 2)
    for nonsense in (
        None,
        "text",
        {"periods": "x"},
        [1, {"period": 7}, {"period": "2026-11-27", "jobs": -3}],
    ):
        assert sum(d.total for d in days_from_timeline(nonsense, today)) == 0


def test_the_page_escapes_what_the_api_says() -> None:
    hostile = '<script>alert("x")</script>'
    env = EnvStatus(
        name="prod",
        api_url="https://api.example",
        state="failing",
        error=hostile,
        workflows=(
            WorkflowStatus(hostile, "id1", (Day("2026-11-28", 1, 1, 0),), (hostile,), hostile, hostile),
        ),
    )
    page = render_page([env], "now")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch


def test_the_command_writes_the_page_and_never_a_secret(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    account = week_of_runs(repo, seed=4)
    try:
        monkeypatch.chdir(repo)
        monkeypatch.setenv("WFSYNC_API_KEY", KEY)
        monkeypatch.setenv("STATUS_HOOK_TOKEN", TOKEN)
        monkeypatch.setenv("WFSYNC_API_URL", account.server.url)
        result = CliRunner().invoke(main, ["status", "--html", "page.html"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[0] == "default: in sync"
        page = (repo / "page.html").read_text()
        assert 'data-state="in sync"' in page and page.count('class="workflow"') == 3
        monkeypatch.delenv("STATUS_HOOK_TOKEN")
        failing = CliRunner().invoke(main, ["status"], catch_exceptions=False)
        assert failing.exit_code == 0 and "default: failing (the definitions do not load" in failing.output
        for text in (result.output, page, failing.output):
            assert KEY not in text and TOKEN not in text
    finally:
        account.server.stop()


def test_an_unreachable_api_is_one_line(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("WFSYNC_API_KEY", KEY)
    monkeypatch.setenv("STATUS_HOOK_TOKEN", TOKEN)
    monkeypatch.setenv("WFSYNC_TIMEOUT", "2")
    result = CliRunner().invoke(main, ["status", "--api-url", "http://127.0.0.1:9"], catch_exceptions=False)
    assert (
        result.exit_code == 0
        and result.output.startswith("default: failing (")
        and "Traceback" not in result.output
    )
