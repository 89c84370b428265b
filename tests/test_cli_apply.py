"""`wfsync apply` end to end against the emulator over loopback, faults included."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import numbered_definitions as definitions
from wfsync.cli import main
from wfsync.emulator import DEV_KEY, EmulatorConfig, Faults, JobTiming
from wfsync.emulator.server import EmulatorServer


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "workflows").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
    return tmp_path


def use(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    monkeypatch.setenv("WFSYNC_API_URL", server.url)
    return server


def write(text: str) -> None:
    Path("workflows/w.yaml").write_text(text, encoding="utf-8")


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def live_titles(server: EmulatorServer) -> list[str]:
    return [w["title"] for w in server.store.list_workflows(0, 100_000)[0]]


def snapshot(server: EmulatorServer) -> Any:
    workflows = server.store.list_workflows(0, 100_000)[0]
    return workflows, [server.store.all_jobs(w["id"]) for w in workflows]


def test_apply_then_plan_shows_nothing(
    project: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(emulator, monkeypatch)
    write(definitions(12))
    hand = emulator.store.create_workflow({"title": "Made by hand"})
    result = cli("apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        "Apply complete: 12 created, 0 updated, 0 cancelled, 3 scheduled, 0 deleted, 0 failed.\n"
        "Verified: the live workflows match the definitions.\n"
    )
    assert 'created "Campaign 000": id ' in result.output, "one line per change in a log"
    assert cli("plan", "--detailed-exitcode").exit_code == 0
    assert emulator.store.get_workflow(hand["id"]) is not None, "unmanaged: left alone"
    again = cli("apply", "--auto-approve")
    assert again.exit_code == 0 and again.output.endswith(
        "No changes: the live workflows match the definitions.\n"
    )


def test_updates_renames_schedules_and_prune(
    project: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(emulator, monkeypatch)
    write(definitions(6))
    assert cli("apply", "--auto-approve").exit_code == 0
    renamed = definitions(6, phrase="ciao").replace("Campaign 005", "Campaign five")
    renamed = renamed.replace(
        "  - title: Campaign five\n",
        "  - title: Campaign five\n    lifecycle: {formerTitles: [Campaign 005]}\n",
    )
    renamed = renamed.replace("2099-01-01T09:00:00Z", "2099-02-02T09:00:00Z")  # move Campaign 000's schedule
    write(renamed)
    old_id = next(w["id"] for w in emulator.store.list_workflows(0, 100)[0] if w["title"] == "Campaign 005")
    emulator.store.create_workflow({"title": "Stray"})
    result = cli("apply", "--auto-approve", "--prune", "--verify")
    assert result.exit_code == 0, result.output
    assert "6 updated, 1 cancelled, 1 scheduled, 1 deleted, 0 failed" in result.output
    assert "Verified: the live workflows match the definitions." in result.output
    assert emulator.store.get_workflow(old_id)["title"] == "Campaign five", "renamed in place: same id"
    jobs = emulator.store.all_jobs(
        next(w["id"] for w in emulator.store.list_workflows(0, 100)[0] if w["title"] == "Campaign 000")
    )
    assert [(j["status"], j["scheduledDate"]) for j in jobs] == [
        ("cancelled", "2099-01-01T09:00:00.000Z"),
        ("scheduled", "2099-02-02T09:00:00.000Z"),
    ]


def test_chaos_converges_within_two_applies(
    project: Path, start_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """500s, 429s and dropped create answers at high rates, together."""
    faults = Faults(latency=0.002, error_500=0.15, error_429=0.1, retry_after=0, drop_create=0.3)
    server = use(
        start_emulator(EmulatorConfig(faults=faults, seed=11, timing=JobTiming(60, 60))), monkeypatch
    )
    bystander = server.store.create_workflow({"title": "Not ours"})
    existing = [
        server.store.create_workflow({"title": f"Campaign {n:03d}", "endCall": {"phrases": ["old"]}})
        for n in range(0, 80, 2)
    ]
    write(definitions(80))
    outputs = []
    for _ in range(2):
        result = cli("apply", "--auto-approve", "--force", "--parallelism", "10")
        outputs.append(result.output)
        if result.exit_code == 0:
            break
    assert result.exit_code == 0, "\n---\n".join(outputs)
    print("\n---\n".join(outputs))  # shown with -s: what the faults did
    titles = live_titles(server)
    assert not [t for t, n in Counter(titles).items() if n > 1], "no duplicate titles"
    assert len(titles) == 81 and "Not ours" in titles and server.store.get_workflow(bystander["id"])
    assert all(server.store.get_workflow(w["id"]) for w in existing), "updated in place, never replaced"
    final = cli("plan", "--detailed-exitcode")
    assert final.exit_code == 0, final.output
    scheduled = [
        j
        for w in server.store.list_workflows(0, 1000)[0]
        for j in server.store.all_jobs(w["id"])
        if j["status"] == "scheduled"
    ]
    assert len(scheduled) == 16, "each schedule pending once"


def test_a_stale_saved_plan_is_refused_whole(
    project: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(emulator, monkeypatch)
    write(definitions(3))
    target = emulator.store.create_workflow({"title": "Campaign 001", "endCall": {"phrases": ["old"]}})
    assert cli("plan", "--out", "plan.json").exit_code == 0
    emulator.store.update_workflow(target["id"], {"callbackUrl": "https://someone.else.example.com"})
    emulator.store.create_workflow({"title": "Campaign 002"})
    before = snapshot(emulator)
    result = cli("apply", "--plan", "plan.json", "--auto-approve")
    assert result.exit_code == 1
    assert "the saved plan is not what would be applied now" in result.output
    assert "so nothing was applied" in result.output
    assert f'"Campaign 001" ({target["id"]}): its live state changed since the plan was made' in result.output
    assert '"Campaign 002" (new): the saved plan would create it, a plan made now would not' in result.output
    assert snapshot(emulator) == before


def test_a_fresh_saved_plan_applies_and_resolves_secrets(
    project: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(emulator, monkeypatch)
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-value")
    write("workflows:\n  - title: A\n    webhook: {url: 'https://h.example.com/${HOOK_TOKEN}'}\n")
    assert cli("plan", "--out", "plan.json").exit_code == 0
    assert "s3cr3t-value" not in Path("plan.json").read_text(encoding="utf-8")
    result = cli("apply", "--plan", "plan.json", "--auto-approve")
    assert result.exit_code == 0, result.output
    (workflow,) = emulator.store.list_workflows(0, 10)[0]
    assert workflow["webhook"]["url"] == "https://h.example.com/s3cr3t-value"
    monkeypatch.delenv("HOOK_TOKEN")
    emulator.store.reset()
    refused = cli("apply", "--plan", "plan.json", "--auto-approve")
    assert refused.exit_code == 1 and "environment variable HOOK_TOKEN is not set" in refused.output


def test_a_plan_for_another_api_is_refused(
    project: Path, emulator: EmulatorServer, start_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(emulator, monkeypatch)
    write(definitions(2))
    assert cli("plan", "--out", "plan.json").exit_code == 0
    other = use(start_emulator(), monkeypatch)
    result = cli("apply", "--plan", "plan.json", "--auto-approve")
    assert result.exit_code == 1
    assert f"the plan is for the account at {emulator.url}, not the account at {other.url}" in result.output
    assert "nothing was applied" in result.output
    assert live_titles(other) == []


def test_a_read_only_key_changes_nothing(
    project: Path, start_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = use(start_emulator(EmulatorConfig(keys={"reader": frozenset({"workflows:read"})})), monkeypatch)
    monkeypatch.setenv("WFSYNC_API_KEY", "reader")
    write(definitions(5))
    result = cli("apply", "--auto-approve")
    assert result.exit_code == 1
    assert result.output.endswith(
        "Error: PATCH /v1/workflows/000000000000000000000000: 403 Forbidden: Forbidden: this API key "
        "lacks the workflows:write scope (the API key needs the workflows:write scope)\n"
    ), "one line naming the scope, before any change is tried"
    assert "FAILED" not in result.output and "SKIPPED" not in result.output
    assert live_titles(server) == []
    assert server.served.get("POST create_workflow", 0) == 0


def test_without_a_terminal_apply_needs_auto_approve(
    project: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(emulator, monkeypatch)
    write(definitions(2))
    result = cli("apply")
    assert result.exit_code == 1
    assert result.output.endswith(
        "Plan: 2 to create, 0 to update, 0 to cancel, 1 to schedule, 0 to delete.\n"
        "Error: refusing to apply without confirmation: not a terminal; pass --auto-approve\n"
    )
    assert live_titles(emulator) == []
    write("workflows: []\n")
    nothing = cli("apply")
    assert nothing.exit_code == 0, "nothing to do needs no confirmation"
    assert nothing.output.endswith("No changes: the live workflows match the definitions.\n")


def test_json_results(project: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    use(emulator, monkeypatch)
    write(definitions(2))
    result = CliRunner().invoke(main, ["apply", "--auto-approve", "--json"])
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["counts"]["created"] == 2
    assert [(r["action"], r["status"]) for r in data["results"]] == [
        ("create", "done"),
        ("schedule", "done"),
        ("create", "done"),
    ]
    assert "Apply complete" in result.stderr


def test_an_unsafe_apply_changes_nothing(
    project: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(emulator, monkeypatch)
    for n in range(10):
        emulator.store.create_workflow({"title": f"Old {n}"})
    write(definitions(1))
    result = cli("apply", "--auto-approve", "--prune")
    assert result.exit_code == 1 and "force required" in result.output
    assert len(live_titles(emulator)) == 10


def on_a_terminal(args: list[str], answer: bytes, env: dict[str, str]) -> tuple[int, str]:
    """Run wfsync in a pseudo-terminal, type ``answer`` at its prompt; (exit status, screen)."""
    import os
    import pty
    import select
    import sys
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: wfsync with the terminal as stdin and stdout
        os.execvpe(sys.executable, [sys.executable, "-m", "wfsync", *args], env)
    screen, answered, deadline = b"", False, time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        if not answered and b"[y/N]" in screen:
            os.write(fd, answer)
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), screen.decode("utf-8", "replace")


def test_colour_on_a_terminal_and_none_with_no_color(project: Path, emulator: EmulatorServer) -> None:
    import os

    write(definitions(1))
    env = {**os.environ, "WFSYNC_API_URL": emulator.url, "WFSYNC_API_KEY": DEV_KEY, "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    status, screen = on_a_terminal(["plan"], b"", env)
    assert status == 0 and "\x1b[32m+ create" in screen and "\x1b[1mPlan: " in screen
    status, screen = on_a_terminal(["plan"], b"", env | {"NO_COLOR": "1"})
    assert status == 0 and "\x1b[" not in screen and "+ create" in screen


def test_on_a_terminal_apply_asks_and_shows_progress(project: Path, emulator: EmulatorServer) -> None:
    import os

    write(definitions(3))
    env = {**os.environ, "WFSYNC_API_URL": emulator.url, "WFSYNC_API_KEY": DEV_KEY, "NO_COLOR": "1"}
    status, screen = on_a_terminal(["apply"], b"n\n", env)
    assert (
        status == 1
        and "Apply 4 changes to" in screen
        and "apply cancelled: nothing was changed" in screen
    )
    assert live_titles(emulator) == []
    status, screen = on_a_terminal(["apply"], b"y\n", env)
    assert status == 0, screen
    assert "[########################] 4/4" in screen, "a live bar below the lines"
    assert 'created "Campaign 000": id ' in screen, "each created workflow's id, kept above the bar"
    assert 'scheduled "Campaign 000" at 2099-01-01T09:00:00.000Z (GMT): job ' in screen
    assert "Apply complete: 3 created" in screen and len(live_titles(emulator)) == 3


def test_a_saved_plan_whose_only_live_change_is_a_pending_schedule_is_refused(
    project: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(emulator, monkeypatch)
    target = emulator.store.create_workflow({"title": "A", "endCall": {"phrases": ["old"]}})
    write(
        "workflows:\n  - title: A\n    endCall: {phrases: [new]}\n"
        "    schedules: [{scheduledDate: '2099-01-01T09:00:00Z', timezone: GMT}]\n"
    )
    assert cli("plan", "--out", "plan.json").exit_code == 0
    # Someone schedules the same run meanwhile: the body is unchanged, only the jobs moved.
    from datetime import UTC, datetime

    emulator.store.schedule_run(target["id"], datetime(2099, 1, 1, 9, tzinfo=UTC).timestamp(), "GMT")
    before = snapshot(emulator)
    result = cli("apply", "--plan", "plan.json", "--auto-approve")
    assert result.exit_code == 1 and "so nothing was applied" in result.output
    assert f'"A" ({target["id"]})' in result.output
    assert snapshot(emulator) == before
