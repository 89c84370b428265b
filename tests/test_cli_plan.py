"""`wfsync plan` end to end: the real command against the emulator over loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from wfsync.cli import main
from wfsync.emulator import DEV_KEY, Dialect, EmulatorConfig
from wfsync.emulator.server import EmulatorServer

DEFINITIONS = """\
workflows:
  - title: Lead follow-up
    callbackUrl: https://crm.example.com/hooks
    webhook: {url: "https://crm.example.com/hooks/${HOOK_TOKEN}"}
    endCall: {phrases: [goodbye, end call]}
  - title: Payment reminder
    endCall: {phrases: [bye]}
    schedules:
      - {scheduledDate: "2099-04-01T09:00:00Z", timezone: GMT}
  - title: Leads
    lifecycle: {formerTitles: [Leads old]}
"""
SECRET = "t0k3n-9f8e7d"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> Path:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "w.yaml").write_text(DEFINITIONS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_URL", emulator.url)
    monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
    monkeypatch.setenv("HOOK_TOKEN", SECRET)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def plan(*args: str) -> Result:
    return CliRunner().invoke(main, ["plan", *args], catch_exceptions=False)


def seed(server: EmulatorServer, title: str, **fields: Any) -> dict[str, Any]:
    return server.store.create_workflow({"title": title, **fields})


def test_a_first_plan_creates_everything(project: Path) -> None:
    result = plan()
    assert result.exit_code == 0, result.output
    assert (
        result.output.splitlines()[-1]
        == "Plan: 3 to create, 0 to update, 0 to cancel, 1 to schedule, 0 to delete."
    )
    assert '+ create "Lead follow-up"' in result.output and (
        'webhook.url: "https://crm.example.com/hooks/${HOOK_TOKEN}"' in result.output
    )
    assert '> schedule "Payment reminder" (once created) at 2099-04-01T09:00:00.000Z (GMT)' in result.output
    assert SECRET not in result.output and "\x1b[" not in result.output, "no secret; no colour in a pipe"
    assert plan("--detailed-exitcode").exit_code == 2


def test_in_sync_is_no_changes_and_exit_0(project: Path, emulator: EmulatorServer) -> None:
    seed(
        emulator,
        "Lead follow-up",
        callbackUrl="https://crm.example.com/hooks",
        webhook={"url": f"https://crm.example.com/hooks/{SECRET}"},
        endCall={"phrases": ["end call", "goodbye"]},
    )
    payment = seed(emulator, "Payment reminder", endCall={"phrases": ["bye"]})
    emulator.store.schedule_run(payment["id"], 4_078_717_200, "GMT")  # 2099-04-01T09:00:00Z
    seed(emulator, "Leads")
    result = plan("--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert result.output == "No changes: the live workflows match the definitions.\n"


def test_one_paginated_listing_and_jobs_only_where_schedules_matter(
    project: Path, emulator: EmulatorServer
) -> None:
    for n in range(250):
        seed(emulator, f"Other {n}")
    seed(emulator, "Payment reminder", endCall={"phrases": ["bye"]})
    plan()
    # Three pages for 251 workflows, and jobs only for the one definition with schedules.
    assert emulator.served == {"GET list_workflows": 3, "GET list_jobs": 1}


def test_updates_renames_and_unmanaged(project: Path, emulator: EmulatorServer) -> None:
    seed(
        emulator,
        "Lead follow-up",
        callbackUrl="https://old.example.com/hooks",
        webhook={"url": f"https://crm.example.com/hooks/{SECRET}"},
        endCall={"phrases": ["goodbye", "end call"]},
    )
    old = seed(emulator, "Leads old")
    hand = seed(emulator, "Made by hand")
    result = plan()
    assert result.exit_code == 0, result.output
    assert '~ update "Lead follow-up"' in result.output
    assert 'callbackUrl: "https://old.example.com/hooks" -> "https://crm.example.com/hooks"' in result.output
    assert f'~ update "Leads" ({old["id"]}), renamed from "Leads old"' in result.output
    assert 'title: "Leads old" -> "Leads"' in result.output
    assert f'"Made by hand" ({hand["id"]})' in result.output.split("Unmanaged")[1]


def test_prune_and_protect(project: Path, emulator: EmulatorServer) -> None:
    Path("wfsync.yaml").write_text('protect: ["Billing *"]\n', encoding="utf-8")
    gone = seed(emulator, "Old campaign")
    seed(emulator, "Billing EU")
    result = plan("--prune")
    assert f'- delete "Old campaign" ({gone["id"]})' in result.output
    assert "Protected, never deleted (a protect glob matches): 1" in result.output
    assert '"Billing EU"' in result.output.split("Protected")[1]


def test_json_out_and_markdown(project: Path, emulator: EmulatorServer, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    os.environ["GITHUB_STEP_SUMMARY"] = str(summary)
    try:
        result = plan("--json", "--out", "plan.json")
    finally:
        del os.environ["GITHUB_STEP_SUMMARY"]
    data = json.loads(result.output)
    assert data["format_version"] == 1 and data["api_url"] == emulator.url
    assert [c["action"] for c in data["changes"]] == ["create", "create", "create", "schedule"]
    assert data["counts"]["create"] == 3
    saved = Path("plan.json").read_text(encoding="utf-8")
    assert json.loads(saved) == data
    for text in (saved, result.output):
        assert SECRET not in text and DEV_KEY not in text
    assert "${HOOK_TOKEN}" in saved, "a saved plan keeps the reference, never the value"
    markdown = summary.read_text(encoding="utf-8")
    assert markdown.startswith("earlier step\n<!-- wfsync-plan -->\n### wfsync plan: 3 to create")
    assert plan("--markdown").output.startswith("<!-- wfsync-plan -->\n")


def test_an_unsafe_plan_is_shown_then_fails(project: Path, emulator: EmulatorServer) -> None:
    for n in range(10):
        seed(emulator, f"Old {n}")
    result = CliRunner().invoke(main, ["plan", "--prune"])
    assert result.exit_code == 1
    assert result.output.count("- delete") == 10
    assert result.output.rstrip().endswith(
        "Error: unsafe plan: it would delete 10 of 10 live workflows (100%), over the limit of 30% "
        "(safety.max_delete_share); force required: run again with --force"
    )
    assert CliRunner().invoke(main, ["plan", "--prune", "--force"]).exit_code == 0


def test_an_ambiguous_title_is_an_error(project: Path, emulator: EmulatorServer) -> None:
    seed(emulator, "Leads")
    seed(emulator, "Leads")
    result = CliRunner().invoke(main, ["plan"])
    assert result.exit_code == 1
    assert "2 live workflows are titled 'Leads'" in result.output and "never picks one" in result.output


def test_bad_definitions_stop_before_any_write(project: Path, emulator: EmulatorServer) -> None:
    # The listing may be on its way while the files are read (it overlaps them); nothing
    # but reads, and the definitions' problems are the whole answer, as if nothing had started.
    Path("workflows/w.yaml").write_text("workflows:\n  - titel: x\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["plan"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: workflows/w.yaml:2:5: property titel should not exist (did you mean 'title'?)\n"
        "workflows/w.yaml:2:5: title is required\n2 problems in the definitions\n"
    )
    assert set(emulator.served) <= {"GET list_workflows"}


def test_bad_definitions_come_before_a_missing_key(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WFSYNC_API_KEY")
    monkeypatch.delenv("INDIGENIUS_API_KEY", raising=False)
    Path("workflows/w.yaml").write_text("workflows:\n  - titel: x\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["plan"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: workflows/w.yaml:2:5: property titel should not exist")


def test_no_key_says_what_to_do(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WFSYNC_API_KEY")
    monkeypatch.delenv("INDIGENIUS_API_KEY", raising=False)
    result = CliRunner().invoke(main, ["plan"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: no API key: set WFSYNC_API_KEY (or INDIGENIUS_API_KEY) in the environment, "
        "or try wfsync with --sandbox\n"
    )


def test_the_other_key_variable_works(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WFSYNC_API_KEY")
    monkeypatch.setenv("INDIGENIUS_API_KEY", DEV_KEY)
    assert plan().exit_code == 0


@pytest.mark.parametrize(
    "dialect",
    [
        Dialect(envelope="items", id_key="_id"),
        Dialect(envelope="bare", total=False, page_cap=9),
        Dialect(page_cap=7, errors="text"),
        Dialect(envelope="bare", id_key="_id", errors="string"),
    ],
    ids=["items+_id", "bare+capped+no-total", "capped+text-errors", "bare+_id+string-errors"],
)
def test_every_response_form_end_to_end(
    project: Path, start_emulator: Any, dialect: Dialect, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: EmulatorServer = start_emulator(EmulatorConfig(dialect=dialect))
    monkeypatch.setenv("WFSYNC_API_URL", server.url)
    for n in range(30):
        seed(server, f"Other {n}")
    seed(server, "Leads old")
    payment = seed(server, "Payment reminder", endCall={"phrases": ["bye"]})
    server.store.schedule_run(payment["id"], 4_100_000_000, "GMT")
    data = json.loads(plan("--json", "--prune", "--force").output)
    actions = [(c["action"], c["title"]) for c in data["changes"]]
    assert ("update", "Leads") in actions and ("create", "Lead follow-up") in actions
    assert ("cancel", "Payment reminder") in actions and ("schedule", "Payment reminder") in actions
    assert sum(1 for a, _ in actions if a == "delete") == 30
    assert data["live_count"] == 32


def test_sandbox_needs_no_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("WFSYNC_API_KEY", "INDIGENIUS_API_KEY", "WFSYNC_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CRM_HOOK_TOKEN", "demo")
    examples = Path(__file__).parent.parent / "examples"
    result = plan(str(examples), "--sandbox")
    assert result.exit_code == 0, result.output
    assert "sandbox:.wfsync/sandbox.db" in result.output and "to create" in result.output
    assert (tmp_path / ".wfsync" / "sandbox.db").exists()


def test_the_key_never_appears_in_any_output(project: Path, emulator: EmulatorServer) -> None:
    """Success and failure, with --debug, in a real process: the key shows nowhere."""
    key = "sk-wfsync-test-7c1d2e3f"
    env = {**os.environ, "WFSYNC_API_KEY": key}
    runs = [
        ["plan", "--debug"],  # refused key: 401
        ["plan", "--debug", "--json", "--out", "p.json"],
        ["plan", "--debug", "--api-url", "http://127.0.0.1:9"],  # nothing listening
    ]
    for args in runs:
        done = subprocess.run(
            [sys.executable, "-m", "wfsync", *args], capture_output=True, text=True, env=env
        )
        assert key not in done.stdout and key not in done.stderr, args
        assert "Traceback" not in done.stderr, done.stderr
    first = subprocess.run(
        [sys.executable, "-m", "wfsync", "plan", "--debug"], capture_output=True, text=True, env=env
    )
    assert (
        first.returncode == 1
        and "401 Unauthorized" in first.stderr
        and "check WFSYNC_API_KEY" in first.stderr
    )
    assert "GET /v1/workflows" in first.stderr, "--debug logs the request"
