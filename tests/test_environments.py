"""One repository, several accounts: plan and apply per environment, end to end against
one emulator per account over loopback (each with its own key)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import FAST_JOBS
from wfsync.cli import main
from wfsync.emulator import EmulatorConfig
from wfsync.emulator.server import EmulatorServer

BOTH = frozenset({"workflows:read", "workflows:write"})
DEFINITIONS = """\
workflows:
  - title: Lead follow-up
    callbackUrl: https://${var.HOOK_HOST}/hooks/lead
  - title: Acme onboarding
    endCall: {phrases: [bye]}
  - title: Billing reminder
    endCall: {phrases: [goodbye]}
"""


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def titles(server: EmulatorServer) -> list[str]:
    return sorted(w["title"] for w in server.store.list_workflows(0, 1000)[0])


@pytest.fixture
def accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_emulator: Any
) -> dict[str, EmulatorServer]:
    servers = {
        name: start_emulator(EmulatorConfig(keys={f"key-{name}-7c1d": BOTH}, timing=FAST_JOBS))
        for name in ("staging", "production", "acme")
    }
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.delenv("WFSYNC_API_URL", raising=False)
    for name in servers:
        monkeypatch.setenv(f"{name.upper()}_KEY", f"key-{name}-7c1d")
    lines = ["paths: [workflows]", "vars: {HOOK_HOST: hooks.example.com}", "environments:"]
    for name, server in servers.items():
        lines += [f"  {name}:", f"    api_url: {server.url}", f"    api_key_env: {name.upper()}_KEY"]
    lines += ["    only: ['Acme *', 'Lead follow-up']", "    vars: {HOOK_HOST: acme-hooks.example.com}"]
    Path("wfsync.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    Path("workflows").mkdir()
    Path("workflows/w.yaml").write_text(DEFINITIONS, encoding="utf-8")
    return servers


def test_a_command_without_env_lists_the_environments(accounts: dict[str, EmulatorServer]) -> None:
    result = cli("plan")
    assert result.exit_code == 1
    assert (
        "choose the environments with --env NAME" in result.output
        and "staging, production, acme" in result.output
    )


def test_plan_shows_a_section_and_a_total_per_environment(accounts: dict[str, EmulatorServer]) -> None:
    result = cli("plan", "--env", "*", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    for name, server in accounts.items():
        assert f"== {name} ({server.url}) ==" in result.output
    assert "  staging: Plan: 3 to create" in result.output
    assert "  acme: Plan: 2 to create" in result.output, "acme manages only its titles"
    assert "https://acme-hooks.example.com/hooks/lead" in result.output, "its own vars, shown"
    data = json.loads(cli("plan", "--env", "prod*", "--env", "acme", "--json").output)
    assert [env["environment"] for env in data["environments"]] == ["production", "acme"]
    markdown = cli("plan", "--env", "*", "--markdown").output
    assert markdown.count("<!-- wfsync-plan:staging -->") == 1 and "<!-- wfsync-plan:acme -->" in markdown


def test_apply_stops_after_a_failed_environment_unless_keep_going(
    accounts: dict[str, EmulatorServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGING_KEY", "key-wrong-0000")  # staging refuses the key
    result = cli("apply", "--env", "*", "--auto-approve")
    assert result.exit_code == 1
    assert "  staging: failed: " in result.output and "401 Unauthorized" in result.output
    assert (
        "  production: not applied: an environment before it failed (--keep-going goes on)" in result.output
    )
    assert titles(accounts["production"]) == [] and titles(accounts["acme"]) == []
    going = cli("apply", "--env", "*", "--auto-approve", "--keep-going", "--parallel-envs", "2")
    assert going.exit_code == 1
    assert titles(accounts["production"]) == ["Acme onboarding", "Billing reminder", "Lead follow-up"]
    assert titles(accounts["acme"]) == ["Acme onboarding", "Lead follow-up"]
    assert "[acme] created " in going.output, "lines of environments applied at once are marked"
    lead = next(w for w in accounts["acme"].store.list_workflows(0, 10)[0] if w["title"] == "Lead follow-up")
    assert lead["callbackUrl"] == "https://acme-hooks.example.com/hooks/lead"


def test_a_saved_plan_holds_its_environments_and_applies_them(
    accounts: dict[str, EmulatorServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("plan", "--env", "staging", "--env", "acme", "--out", "plan.json").exit_code == 0
    refused = cli("apply", "--plan", "plan.json", "--env", "production", "--auto-approve")
    assert (
        refused.exit_code == 1 and "the plan is for acme, staging; this selects production" in refused.output
    )
    applied = cli("apply", "--plan", "plan.json", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert len(titles(accounts["staging"])) == 3 and len(titles(accounts["acme"])) == 2
    assert titles(accounts["production"]) == []


def test_one_account_commands_need_one_environment(accounts: dict[str, EmulatorServer]) -> None:
    result = cli("jobs", "Lead follow-up", "--env", "*")
    assert result.exit_code == 1
    assert (
        "this command works on one environment, and --env selects staging, production, acme" in result.output
    )


def test_plan_notify_posts_only_when_an_environment_changes_state(
    accounts: dict[str, EmulatorServer],
) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from wfsync.emulator.server import AppServer

    posted: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        posted.append(await request.json())
        return Response("ok")

    with AppServer(Starlette(routes=[Route("/hook/T0KEN-secret-77", hook, methods=["POST"])])) as chat:
        url = f"{chat.url}/hook/T0KEN-secret-77"
        first = cli("plan", "--env", "staging", "--notify", url)
        assert first.exit_code == 0 and len(posted) == 1 and "drifted" in json.dumps(posted[0])
        assert cli("plan", "--env", "staging", "--notify", url).exit_code == 0
        assert len(posted) == 1, "still drifted: nothing to say"
        assert cli("apply", "--env", "staging", "--auto-approve").exit_code == 0
        back = cli("plan", "--env", "staging", "--notify", url)
        assert len(posted) == 2 and "in sync" in json.dumps(posted[1])
        assert "T0KEN-secret-77" not in first.output + back.output


def test_init_sets_up_environments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("init", "repo", "--environments", "staging,production").exit_code == 0
    settings = Path("repo/wfsync.yaml").read_text(encoding="utf-8")
    assert (
        "  staging:\n    api_key_env: STAGING_WFSYNC_KEY" in settings and "default_env: staging" in settings
    )
    monkeypatch.chdir(tmp_path / "repo")
    result = cli("validate")
    assert result.exit_code == 0 and "valid for environments staging, production" in result.output
    assert cli("init", "other", "--environments", "prod uction").exit_code == 1


def test_status_covers_every_selected_environment(accounts: dict[str, EmulatorServer]) -> None:
    assert cli("apply", "--env", "acme", "--auto-approve").exit_code == 0
    result = cli("status", "--env", "*", "--html", "status.html")
    assert result.exit_code == 0, result.output
    assert "staging: drifted (3 to create)" in result.output and "acme: in sync" in result.output
    page = Path("status.html").read_text(encoding="utf-8")
    assert all(name in page for name in accounts) and "key-staging-7c1d" not in page


def test_an_account_without_its_key_fails_alone(
    accounts: dict[str, EmulatorServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRODUCTION_KEY")
    result = cli("plan", "--env", "*")
    assert result.exit_code == 1
    assert "  staging: Plan: 3 to create" in result.output and "  acme: Plan: 2 to create" in result.output
    assert "PRODUCTION_KEY" in result.output.split("Totals:")[1]
    going = cli("apply", "--env", "*", "--auto-approve", "--keep-going")
    assert going.exit_code == 1 and len(titles(accounts["acme"])) == 2
