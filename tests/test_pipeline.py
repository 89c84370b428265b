"""The pipeline `wfsync init` writes, run like code: every `run:` step executed by bash in a
simulated runner (GitHub's variables, a fake `gh` recording calls, the emulator as the API)
for each event a team meets: a pull request, one from a fork, a push to main, a dispatch
from a branch, a nightly run with drift and one back in sync.

The repository has no environments (one `default` matrix entry); a case with environments
is one more `Scenario` once `--env` lands.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.pipeline_runner import JobRun, Runner
from tests.test_notify import SECRET_PATH, Hook
from wfsync import __version__
from wfsync.comment import GITHUB_LIMIT
from wfsync.emulator import EmulatorConfig
from wfsync.emulator.config import SCOPES
from wfsync.emulator.server import EmulatorServer
from wfsync.pipeline import SOURCE, render_pipeline

ROOT = Path(__file__).parent.parent
API_KEY = "wfk-Sekr3t-API-8d1e"
TOKEN = "crm-Sekr3t-TOKEN-5a2b"
PR_PAYLOAD = {
    "pull_request": {"number": 42, "head": {"ref": "feature", "repo": {"full_name": "acme/call-flows"}}}
}
FORK_PAYLOAD = {
    "pull_request": {"number": 43, "head": {"ref": "patch-1", "repo": {"full_name": "mallory/call-flows"}}}
}


@dataclass
class Scenario:
    runner: Runner
    server: EmulatorServer
    hook: Hook

    def live_titles(self) -> list[str]:
        answer = httpx.get(
            f"{self.server.url}/v1/workflows", params={"limit": 100}, headers={"X-API-Key": API_KEY}
        )
        return sorted(w["title"] for w in answer.json()["data"])

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return httpx.request(method, f"{self.server.url}{path}", headers={"X-API-Key": API_KEY}, **kwargs)  # type: ignore[arg-type]


def validate_needs_values() -> bool:
    """Whether this tree's `validate` still wants ${NAME} values (offline validation, SPEC §2,
    lands on another branch). Until it does, the runner's machine provides a placeholder,
    never the secret, so the pipeline's other steps are still tested."""
    from click.testing import CliRunner

    from wfsync.cli import main

    env = {"CRM_HOOK_TOKEN": None}
    result = CliRunner(env=env).invoke(main, ["validate", str(ROOT / "examples" / "workflows")])
    return "is not set" in result.output


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "examples", repo)
    (repo / ".github/workflows/wfsync.yml").write_text(render_pipeline(repo), encoding="utf-8")
    hook = Hook()
    with EmulatorServer(EmulatorConfig(keys={API_KEY: SCOPES})) as server:
        runner = Runner(
            repo=repo,
            home=tmp_path / "github",
            secrets={"WFSYNC_API_KEY": API_KEY, "CRM_HOOK_TOKEN": TOKEN, "WFSYNC_NOTIFY_URL": hook.url},
            variables={"WFSYNC_API_URL": server.url},
            base_env={"PYTHONPATH": str(ROOT), "WFSYNC_LOCK_DIR": str(tmp_path / "locks"), "NO_COLOR": "1"},
        )
        if validate_needs_values():
            runner.base_env["CRM_HOOK_TOKEN"] = "placeholder-until-offline-validate"
        yield Scenario(runner, server, hook)
    hook.close()


def ran(jobs: list[JobRun]) -> dict[str, str]:
    """job -> result, the way the Actions page lists them."""
    return {job.name + (f" ({job.matrix['name']})" if job.matrix else ""): job.result for job in jobs}


def show(event: str, jobs: list[JobRun], runner: Runner) -> None:
    """What each simulated run did: printed for `pytest -s` (the report quotes it)."""
    print(f"\n=== {event}")
    for job in jobs:
        print(f"  job {job.name} {job.matrix.get('name', '')}: {job.result}")
        for step in job.steps:
            print(f"    [{step.outcome}] {step.name}")
    gh = runner.gh
    print(
        f"  gh calls so far: {len(gh['calls'])}; comments: {len(gh['comments'])}; issues: "
        f"{[(i['number'], i['state'], i['edits']) for i in gh['issues']]}"
    )


def no_secret_anywhere(runner: Runner, jobs: list[JobRun]) -> None:
    texts = [s.output for job in jobs for s in job.steps] + [job.summary for job in jobs]
    gh = runner.gh
    texts += [c["body"] for c in gh["comments"]] + [i["body"] for i in gh["issues"]]
    texts += [p.read_text(errors="replace") for p in (runner.home / "artifacts").rglob("*") if p.is_file()]
    for text in texts:
        for secret in (API_KEY, TOKEN, SECRET_PATH):
            assert secret not in text


def step(jobs: list[JobRun], job: str, name: str) -> str:
    (found,) = [s for j in jobs if j.name == job for s in j.steps if s.name.startswith(name)]
    return found.outcome


def test_a_pull_request_gets_one_plan_comment_updated_in_place(scenario: Scenario) -> None:
    runner = scenario.runner
    jobs = runner.run("pull_request", ref="refs/pull/42/merge", payload=PR_PAYLOAD)
    show("pull request with changes", jobs, runner)
    assert ran(jobs) == {
        "validate": "success",
        "plan (default)": "success",
        "refuse": "skipped",
        "apply": "skipped",
        "drift": "skipped",
        "status": "skipped",
    }
    assert step(jobs, "validate", "Explain the missing plan") == "skipped"
    (comment,) = runner.gh["comments"]
    assert comment["body"].startswith("<!-- wfsync-plan -->\n### wfsync plan: 7 to create")
    assert runner.artifact(1, "wfsync-plan-default").joinpath("plan-default.json").is_file()
    assert scenario.live_titles() == []  # a plan never writes
    # exactly this version, from its own repository: no package index involved
    pip = (runner.home / "pip.log").read_text().splitlines()
    assert set(pip) == {f"install wfsync @ git+{SOURCE}@v{__version__}"}

    again = runner.run("pull_request", ref="refs/pull/42/merge", payload=PR_PAYLOAD)
    (comment,) = runner.gh["comments"]  # still one comment, edited
    assert comment["edits"] == 1 and ran(again)["plan (default)"] == "success"
    no_secret_anywhere(runner, jobs + again)


def test_a_pull_request_from_a_fork_is_validated_with_a_notice(scenario: Scenario) -> None:
    runner = scenario.runner
    # GitHub gives a fork's pull request no secrets at all.
    jobs = runner.run("pull_request", ref="refs/pull/43/merge", payload=FORK_PAYLOAD, secrets={})
    show("pull request from a fork", jobs, runner)
    assert ran(jobs)["validate"] == "success" and ran(jobs)["plan"] == "skipped"
    notice = next(s for s in jobs[0].steps if s.name == "Explain the missing plan")
    assert notice.outcome == "success" and "::notice title=wfsync::No plan" in notice.output
    assert "fork or Dependabot" in jobs[0].summary
    assert runner.gh["calls"] == [] and runner.gh["comments"] == []

    bot = runner.run(
        "pull_request", ref="refs/pull/44/merge", payload=PR_PAYLOAD, actor="dependabot[bot]", secrets={}
    )
    assert ran(bot)["plan"] == "skipped" and runner.gh["comments"] == []


def test_a_push_to_main_applies_the_reviewed_plan(scenario: Scenario) -> None:
    runner = scenario.runner
    runner.run("pull_request", ref="refs/pull/42/merge", payload=PR_PAYLOAD)
    runner.set_gh(merged={"a" * 40: "feature"})  # the merge commit of pull request 42
    jobs = runner.run("push", ref="refs/heads/main", sha="a" * 40)
    show("push to main (merge of the pull request)", jobs, runner)
    assert ran(jobs)["apply (default)"] == "success", [s.output for j in jobs for s in j.steps]
    (apply,) = [j for j in jobs if j.name == "apply"]
    assert "will be applied if it still holds" in apply.steps[3].output
    assert "Apply complete: 7 created" in apply.steps[4].output
    assert len(scenario.live_titles()) == 7
    no_secret_anywhere(runner, jobs)


def test_a_push_without_a_reviewed_plan_applies_a_fresh_one_shown_in_the_summary(scenario: Scenario) -> None:
    runner = scenario.runner
    jobs = runner.run("push", ref="refs/heads/main", sha="b" * 40)
    show("push to main without a pull request", jobs, runner)
    (apply,) = [j for j in jobs if j.name == "apply"]
    assert apply.result == "success" and "No reviewed plan" in apply.steps[4].output
    assert "7 to create" in apply.summary
    assert len(scenario.live_titles()) == 7


def test_a_stale_reviewed_plan_is_refused(scenario: Scenario) -> None:
    runner = scenario.runner
    runner.run("pull_request", ref="refs/pull/42/merge", payload=PR_PAYLOAD)
    scenario.api("POST", "/v1/workflows", json={"title": "Lead follow-up"})  # made by hand meanwhile
    runner.set_gh(merged={"c" * 40: "feature"})
    jobs = runner.run("push", ref="refs/heads/main", sha="c" * 40)
    (apply,) = [j for j in jobs if j.name == "apply"]
    assert apply.result == "failure" and "no longer holds and nothing was applied" in apply.steps[4].output
    assert scenario.live_titles() == ["Lead follow-up"]


def test_a_dispatch_from_a_branch_is_refused(scenario: Scenario) -> None:
    runner = scenario.runner
    jobs = runner.run("workflow_dispatch", ref="refs/heads/feature")
    show("dispatch from a branch", jobs, runner)
    assert ran(jobs)["refuse"] == "failure" and ran(jobs)["apply"] == "skipped"
    assert "applies only from main" in jobs[[j.name for j in jobs].index("refuse")].steps[0].output
    assert scenario.live_titles() == []
    from_main = runner.run("workflow_dispatch", ref="refs/heads/main")
    assert ran(from_main)["refuse"] == "skipped" and ran(from_main)["apply (default)"] == "success"


def test_the_nightly_run_tracks_drift_in_one_issue_and_tells_on_change(scenario: Scenario) -> None:
    runner = scenario.runner
    runner.run("push", ref="refs/heads/main")
    nightly = runner.run("schedule", ref="refs/heads/main")
    show("nightly, in sync", nightly, runner)
    assert ran(nightly) == {
        "validate": "skipped",
        "plan": "skipped",
        "refuse": "skipped",
        "apply": "skipped",
        "drift (default)": "success",
        "status": "success",
    }
    assert runner.gh["issues"] == [] and scenario.hook.posts == []
    assert runner.artifact(runner.run_count, "wfsync-status").joinpath("wfsync-status.html").is_file()

    # Someone changes the account by hand.
    (live,) = [w for w in scenario.api("GET", "/v1/workflows").json()["data"] if w["title"] == "Demo booking"]
    scenario.api(
        "PATCH", f"/v1/workflows/{live['id']}", json={"callbackUrl": "https://changed.example.com/x"}
    )
    drifted = runner.run("schedule", ref="refs/heads/main")
    show("nightly, drifted", drifted, runner)
    assert ran(drifted)["drift (default)"] == "success"
    (issue,) = runner.gh["issues"]
    assert issue["state"] == "open" and issue["body"].startswith("<!-- wfsync-drift:default -->")
    assert "1 to update" in issue["body"] and "changed.example.com" in issue["body"]
    (post,) = scenario.hook.posts
    assert "*default* has drifted" in post["text"] and "1 to update" in post["text"]

    runner.run("schedule", ref="refs/heads/main")  # still drifted: the same issue, nobody told again
    (issue,) = runner.gh["issues"]
    assert issue["edits"] == 1 and len(scenario.hook.posts) == 1

    runner.run("workflow_dispatch", ref="refs/heads/main")  # main applied again by hand
    back = runner.run("schedule", ref="refs/heads/main")
    show("nightly, back in sync", back, runner)
    (issue,) = runner.gh["issues"]
    assert issue["state"] == "closed" and "Back in sync" in issue["closing_comment"]
    assert len(scenario.hook.posts) == 2 and "back in sync" in scenario.hook.posts[1]["text"]
    no_secret_anywhere(runner, nightly + drifted + back)


def test_a_failing_nightly_plan_fails_the_job_and_leaves_issues_alone(scenario: Scenario) -> None:
    runner = scenario.runner
    runner.secrets["WFSYNC_API_KEY"] = "wrong-key-0000"
    jobs = runner.run("schedule", ref="refs/heads/main")
    (drift,) = [j for j in jobs if j.name == "drift"]
    assert drift.result == "failure" and "401" in drift.steps[4].output
    assert runner.gh["issues"] == [] and scenario.hook.posts == []


def test_a_plan_too_large_for_a_comment_is_cut_and_kept_whole_as_an_artifact(scenario: Scenario) -> None:
    runner = scenario.runner
    lines = ["workflows:"]
    for n in range(1000):
        lines += [
            f"  - title: Imported {n:04d}",
            f"    callbackUrl: https://crm.example.com/hooks/{n}",
            "    endCall: {phrases: [goodbye, end call, not interested]}",
        ]
    (runner.repo / "workflows" / "imported.yaml").write_text("\n".join(lines) + "\n")
    jobs = runner.run("pull_request", ref="refs/pull/42/merge", payload=PR_PAYLOAD)
    assert ran(jobs)["plan (default)"] == "success"
    (comment,) = runner.gh["comments"]
    full = runner.artifact(1, "wfsync-plan-default").joinpath("plan-default.md").read_text()
    print(f"\n1,007 creates: the plan is {len(full):,} characters; the comment {len(comment['body']):,}")
    assert len(full) > GITHUB_LIMIT >= len(comment["body"])
    assert "1007 to create" in comment["body"].splitlines()[1]
    assert "artifact wfsync-plan-default" in comment["body"].splitlines()[-1]
    assert json.loads(runner.artifact(1, "wfsync-plan-default").joinpath("plan-default.json").read_text())


def test_examples_hold_the_pipeline_init_would_write() -> None:
    text = (ROOT / "examples/.github/workflows/wfsync.yml").read_text(encoding="utf-8")
    assert text == render_pipeline(ROOT / "examples"), "run: wfsync init examples --pipeline --force"
    assert os.environ.get("CRM_HOOK_TOKEN", "") not in text or not os.environ.get("CRM_HOOK_TOKEN")
