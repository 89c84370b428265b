"""Operating workflows end to end: run, jobs, job, cancel, summary, pull, smoke runs and
timezones, against the emulator over loopback."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from wfsync.cli import main
from wfsync.definitions import load_definitions, platform_timezone
from wfsync.emulator import DEV_KEY, EmulatorConfig, JobTiming
from wfsync.emulator.server import EmulatorServer
from wfsync.pull import file_name


@pytest.fixture
def api_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> EmulatorServer:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_URL", emulator.url)
    monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
    return emulator


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def wait_done(server: EmulatorServer, workflow_id: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        jobs = server.store.all_jobs(workflow_id)
        if len(jobs) >= count and all(j["status"] in ("completed", "failed") for j in jobs):
            return
        time.sleep(0.05)
    raise AssertionError("jobs did not finish")


class TestRun:
    def test_run_prints_the_job(self, api_env: EmulatorServer) -> None:
        workflow = api_env.store.create_workflow({"title": "Lead follow-up"})
        result = cli("run", "Lead follow-up")
        assert result.exit_code == 0
        (job,) = api_env.store.all_jobs(workflow["id"])
        assert result.output == f"Started a run of 'Lead follow-up' ({workflow['id']}): job {job['jobId']}\n"

    def test_wait_follows_each_status_to_success(self, api_env: EmulatorServer) -> None:
        workflow = api_env.store.create_workflow({"title": "Lead follow-up"})
        result = cli("run", workflow["id"], "--wait")  # an id works as well as a title
        assert result.exit_code == 0, result.output
        statuses = [line.split()[-1] for line in result.output.splitlines()[1:-1]]
        assert statuses[-1] == "completed" and statuses == sorted(set(statuses), key=statuses.index)
        assert result.output.splitlines()[-1].endswith("completed.")

    def test_a_failing_job_exits_1_with_its_reason(self, api_env: EmulatorServer) -> None:
        api_env.store.create_workflow({"title": "Broken", "webhook": {"url": "https://h.example.invalid/x"}})
        result = cli("run", "Broken", "--wait")
        assert result.exit_code == 1
        assert "failed: webhook https://h.example.invalid/x did not answer" in result.output.splitlines()[-2]
        assert result.output.splitlines()[-1].startswith("Error: job job_")

    def test_a_wait_that_times_out(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_emulator: Any
    ) -> None:
        server = start_emulator(EmulatorConfig(timing=JobTiming(queue_seconds=0.05, run_seconds=60)))
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("WFSYNC_API_URL", server.url)
        monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
        server.store.create_workflow({"title": "Slow"})
        started = time.monotonic()
        result = cli("run", "Slow", "--wait", "--timeout", "0.5")
        assert result.exit_code == 1 and time.monotonic() - started < 5
        assert "is still running after 0.5 s (it goes on without us)" in result.output

    def test_json(self, api_env: EmulatorServer) -> None:
        api_env.store.create_workflow({"title": "Lead follow-up"})
        data = json.loads(cli("run", "Lead follow-up", "--wait", "--json").output)
        assert (
            data["status"] == "completed" and data["timedOut"] is False and data["jobId"].startswith("job_")
        )

    def test_unknown_and_ambiguous_titles(self, api_env: EmulatorServer) -> None:
        api_env.store.create_workflow({"title": "Lead follow-up"})
        unknown = cli("run", "lead")
        assert unknown.exit_code == 1
        assert (
            unknown.output
            == "Error: no workflow is titled 'lead' or has that id; did you mean 'Lead follow-up'?\n"
        )
        api_env.store.create_workflow({"title": "Lead follow-up"})
        ambiguous = cli("run", "Lead follow-up")
        assert ambiguous.exit_code == 1 and "2 workflows are titled 'Lead follow-up'" in ambiguous.output
        assert "or delete the extra with `wfsync delete --id ID`" in ambiguous.output


class TestJobsAndCancel:
    def test_jobs_table_job_and_cancel(self, api_env: EmulatorServer) -> None:
        workflow = api_env.store.create_workflow({"title": "Reminder"})
        later = api_env.store.schedule_run(workflow["id"], 4_100_000_000, "GMT_plus_1")
        api_env.store.start_run(workflow["id"])
        table = cli("jobs", "Reminder").output.splitlines()
        assert table[0].split() == ["job", "status", "scheduled", "started", "finished", "error"]
        assert any(later["jobId"] in line and "scheduled" in line for line in table[2:])
        one = cli("job", later["jobId"]).output
        assert f"job        {later['jobId']}" in one and "timezone   GMT_plus_1" in one
        cancelled = cli("cancel", "Reminder")
        assert cancelled.exit_code == 0 and cancelled.output.startswith("Cancelled ")
        assert later["jobId"] in cancelled.output
        assert cli("cancel", "Reminder").output == "Nothing was pending for 'Reminder'.\n"
        assert json.loads(cli("jobs", "Reminder", "--json").output)[0]["status"] == "cancelled"

    def test_an_unknown_job_is_a_clear_error(self, api_env: EmulatorServer) -> None:
        result = cli("job", "job_nope")
        assert result.exit_code == 1
        assert (
            result.output == "Error: GET /v1/workflows/jobs/job_nope: 404 Not Found: Job job_nope not found\n"
        )


class TestSummary:
    @pytest.fixture
    def busy(self, api_env: EmulatorServer) -> dict[str, Any]:
        workflow = api_env.store.create_workflow({"title": "Campaign", "endCall": {"phrases": ["bye"]}})
        for _ in range(30):
            api_env.store.start_run(workflow["id"])
        wait_done(api_env, workflow["id"], 30)
        return workflow

    def test_summary_table(self, api_env: EmulatorServer, busy: dict[str, Any]) -> None:
        output = cli("summary", "Campaign").output
        assert output.startswith("Campaign\n\n")
        assert "  totalJobs           30" in output and "jobs.completed      30" in output
        assert "successRate         100.0%" in output

    def test_timeline_chart(self, api_env: EmulatorServer, busy: dict[str, Any]) -> None:
        output = cli("summary", "Campaign", "--timeline", "--interval", "hour").output
        lines = output.splitlines()
        assert lines[0] == "Campaign: jobs per hour"
        bars = [line for line in lines[2:] if "█" in line]
        assert bars and sum(int(line.split("█")[-1].split()[0]) for line in bars) == 30
        assert "completed" in bars[0] and "calls" in bars[0]

    def test_report_to_a_file(self, api_env: EmulatorServer, busy: dict[str, Any]) -> None:
        result = cli("summary", "Campaign", "--report", "--out", "report.json")
        assert result.output == "Saved the report of 'Campaign' to report.json.\n"
        report = json.loads(Path("report.json").read_text(encoding="utf-8"))
        assert len(report["jobs"]) == 30 and report["summary"]["totalJobs"] == 30

    def test_json(self, api_env: EmulatorServer, busy: dict[str, Any]) -> None:
        assert json.loads(cli("summary", "Campaign", "--json").output)["totalJobs"] == 30


AWKWARD = [
    "Café ☎ rappel — 日本語",
    "Leads / EU: \"hot\" 'ones'",
    "Leads: EU hot ones",  # the same file name as the one above
    "yes",
    "2027-07-01T09:00:00Z",
    "costs ${BUDGET} and $${x}",
    "  spaced  ",
    "#hash & tab\tand\nnewline",
    "../../etc/passwd",
]


def test_pull_round_trip_on_awkward_titles(api_env: EmulatorServer) -> None:
    for title in AWKWARD:
        workflow = api_env.store.create_workflow(
            {
                "title": title,
                "callbackUrl": "https://x.example.com/${literal}",
                "endCall": {"phrases": ["ok", "no"]},
            }
        )
    api_env.store.schedule_run(workflow["id"], 4_100_000_000, "GMT_plus_2")
    result = cli("pull", "adopted")
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in Path("adopted").iterdir())
    assert len(files) == len(AWKWARD) and all("/" not in f and not f.startswith(".") for f in files)
    assert "leads-eu-hot-ones.yaml" in files and "leads-eu-hot-ones-2.yaml" in files
    plan = cli("plan", "adopted", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert plan.output == "No changes: the live workflows match the definitions.\n"
    pulled = load_definitions(["adopted"], env={})
    assert {d.title for d in pulled} == set(AWKWARD)
    scheduled = [d for d in pulled if d.schedules]
    assert [(s.instant, s.timezone) for s in scheduled[0].schedules] == [
        ("2099-12-03T16:53:20.000Z", "GMT_plus_2")
    ]


def test_pull_never_overwrites_without_force(api_env: EmulatorServer) -> None:
    api_env.store.create_workflow({"title": "Lead follow-up"})
    Path("adopted").mkdir()
    Path("adopted/lead-follow-up.yaml").write_text("mine\n", encoding="utf-8")
    refused = cli("pull", "adopted")
    assert refused.exit_code == 1 and "1 file exists in adopted: lead-follow-up.yaml" in refused.output
    assert Path("adopted/lead-follow-up.yaml").read_text(encoding="utf-8") == "mine\n"
    assert cli("pull", "adopted", "--force").exit_code == 0
    assert "Lead follow-up" in Path("adopted/lead-follow-up.yaml").read_text(encoding="utf-8")


def test_file_names() -> None:
    assert file_name("Lead follow-up / EU") == "lead-follow-up-eu"
    assert file_name("Café") == "café" and file_name("日本語") == "日本語"
    assert file_name("///") == "workflow" and len(file_name("x" * 500)) == 60


@pytest.mark.parametrize(
    ("zone", "at", "expected"),
    [
        ("Europe/Berlin", "2027-01-15T08:00:00+00:00", "GMT_plus_1"),
        ("Europe/Berlin", "2027-07-15T07:00:00+00:00", "GMT_plus_2"),
        ("Europe/Berlin", "2027-03-28T00:59:00+00:00", "GMT_plus_1"),  # a minute before the change
        ("Europe/Berlin", "2027-03-28T01:00:00+00:00", "GMT_plus_2"),
        ("America/New_York", "2027-07-15T12:00:00+00:00", "GMT_minus_4"),
        ("Pacific/Kiritimati", "2027-07-15T12:00:00+00:00", "GMT_plus_14"),
        ("UTC", "2027-07-15T12:00:00+00:00", "GMT"),
        ("GMT_minus_3", "2027-07-15T12:00:00+00:00", "GMT_minus_3"),
    ],
)
def test_iana_zones_become_the_platforms(zone: str, at: str, expected: str) -> None:
    assert platform_timezone(zone, datetime.fromisoformat(at)) == (expected, None)


def test_zones_the_platform_cannot_say() -> None:
    moment = datetime(2027, 7, 15, 12, tzinfo=UTC)
    assert "UTC+05:30" in str(platform_timezone("Asia/Kolkata", moment)[1])
    assert "unknown timezone 'Mars/Olympus'" in str(platform_timezone("Mars/Olympus", moment)[1])


def test_the_plan_shows_both_zones(api_env: EmulatorServer) -> None:
    Path("w.yaml").write_text(
        "workflows:\n  - title: Berlin\n    schedules:\n"
        "      - {scheduledDate: '2027-07-15T09:00:00+02:00', timezone: Europe/Berlin}\n",
        encoding="utf-8",
    )
    output = cli("plan", "w.yaml").output
    assert "at 2027-07-15 09:00 Europe/Berlin = 2027-07-15T07:00:00.000Z (GMT_plus_2)" in output
    assert cli("apply", "w.yaml", "--auto-approve").exit_code == 0
    (workflow,) = api_env.store.list_workflows(0, 10)[0]
    assert [j["timezone"] for j in api_env.store.all_jobs(workflow["id"])] == ["GMT_plus_2"]
    assert cli("plan", "w.yaml", "--detailed-exitcode").exit_code == 0


def test_apply_smoke_runs_what_changed(api_env: EmulatorServer) -> None:
    Path("w.yaml").write_text(
        "workflows:\n  - title: Good\n    webhook: {url: 'https://ok.example.com/h'}\n"
        "  - title: Broken\n    webhook: {url: 'https://h.example.invalid/h'}\n",
        encoding="utf-8",
    )
    result = cli("apply", "w.yaml", "--auto-approve", "--smoke")
    assert result.exit_code == 1
    assert (
        'smoke run of "Good": job job_' in result.output and "Smoke runs: 1 of 2 completed." in result.output
    )
    assert (
        "Error: 1 smoke run failed: 'Broken': the run failed: webhook https://h.example.invalid/h"
        in result.output
    )
    Path("w.yaml").write_text(
        "workflows:\n  - title: Good\n    webhook: {url: 'https://ok.example.com/h2'}\n"
        "  - title: Broken\n    webhook: {url: 'https://h.example.invalid/h'}\n",
        encoding="utf-8",
    )
    again = cli("apply", "w.yaml", "--auto-approve", "--smoke")
    assert again.exit_code == 0, again.output
    assert "Smoke runs: 1 of 1 completed." in again.output, "only what changed is run"
