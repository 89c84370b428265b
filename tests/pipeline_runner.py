"""A simulated GitHub Actions runner for the pipeline `wfsync init` writes.

It reads the workflow file, picks the jobs an event runs (evaluating ``if:`` with GitHub's
expression rules for the subset the pipeline uses), expands matrices, and executes every
``run:`` step with bash and GitHub's environment variables (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
GITHUB_REF…), so the shell the users will run is the shell tested. ``uses:`` steps are
stood in for: checkout and setup-python do nothing (the workspace is a fresh copy of the
repository), upload-artifact and the cache keep files in folders the test can read.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent


class Missing:
    """A missing context value: GitHub's null, which equals '' in comparisons."""

    def __getattr__(self, name: str) -> Missing:
        return self

    def __getitem__(self, key: Any) -> Missing:
        return self

    def __eq__(self, other: object) -> bool:
        return other in ("", None, 0) or isinstance(other, Missing)

    def __hash__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return ""


class Context(dict):  # type: ignore[type-arg]
    def __getattr__(self, name: str) -> Any:
        return wrap(self.get(name, Missing()))

    def __getitem__(self, key: Any) -> Any:
        return wrap(self.get(key, Missing()))


def wrap(value: Any) -> Any:
    return Context(value) if isinstance(value, dict) and not isinstance(value, Context) else value


_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(&&|\|\||==|!=|!|\(|\)|\[|\]|,|\.)|([A-Za-z_][\w-]*)|(\d+))")


def to_python(expression: str) -> str:
    out, position = [], 0
    expression = expression.strip()
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        assert match, f"cannot read {expression[position:]!r}"
        position = match.end()
        string, operator, name, number = match.groups()
        if string is not None:
            out.append(repr(string[1:-1].replace("''", "'")))
        elif operator is not None:
            out.append({"&&": " and ", "||": " or ", "!": " not "}.get(operator, operator))
        elif name is not None:
            follows = expression[position:].lstrip()[:1]
            if out and out[-1] == ".":
                out.append(name.replace("-", "_"))
            elif follows == "(":
                out.append(f"fn_{name}")
            else:
                out.append({"true": "True", "false": "False", "null": "None"}.get(name, f"ctx[{name!r}]"))
        else:
            out.append(number)
    return "".join(out)


def evaluate(expression: str, ctx: Mapping[str, Any], status: Mapping[str, bool]) -> Any:
    functions = {
        "fn_always": lambda: True,
        "fn_success": lambda: status["success"],
        "fn_failure": lambda: not status["success"],
        "fn_cancelled": lambda: False,
    }
    return eval(to_python(expression), {"__builtins__": {}}, {"ctx": Context(ctx), **functions})


def interpolate(text: Any, ctx: Mapping[str, Any], status: Mapping[str, bool]) -> Any:
    if not isinstance(text, str):
        return text
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m.group(1), ctx, status)), text)


def condition(text: Any, ctx: Mapping[str, Any], status: Mapping[str, bool]) -> bool:
    if text is None:
        return status["success"]
    expression = str(text).strip()
    expression = expression.removeprefix("${{").removesuffix("}}")
    if not re.search(r"\b(always|success|failure|cancelled)\(\)", expression):
        expression = f"success() && ({expression})"
    return bool(evaluate(expression, ctx, status))


@dataclass
class StepRun:
    job: str
    name: str
    outcome: str  # success, failure, skipped
    output: str = ""


@dataclass
class JobRun:
    name: str
    matrix: dict[str, Any]
    result: str  # success, failure, skipped
    steps: list[StepRun] = field(default_factory=list)
    summary: str = ""


@dataclass
class Runner:
    """One repository on one simulated GitHub: artifacts and caches persist across runs."""

    repo: Path  # the repository's files, copied for every job
    home: Path  # where artifacts, caches and the fake gh's state live
    secrets: dict[str, str]
    variables: dict[str, str]
    repository: str = "acme/call-flows"
    run_count: int = 0
    base_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bin = self.home / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        (self.home / "artifacts").mkdir(exist_ok=True)
        (self.home / "cache").mkdir(exist_ok=True)
        self.gh_state = self.home / "gh.json"
        self.gh_state.write_text(
            json.dumps(
                {
                    "calls": [],
                    "comments": [],
                    "issues": [],
                    "merged": {},
                    "runs": [],
                    "artifacts": str(self.home / "artifacts"),
                }
            )
        )
        gh = self.bin / "gh"
        gh.write_text(f'#!/bin/sh\nexec {sys.executable} {HERE / "fakegh.py"} "$@"\n')
        pip = self.bin / "pip"
        # setup-python's pip, recording what is installed instead of reaching an index.
        pip.write_text(f'#!/bin/sh\necho "$@" >> {self.home / "pip.log"}\n')
        for tool in (gh, pip):
            tool.chmod(0o755)

    @property
    def gh(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.gh_state.read_text())
        return state

    def set_gh(self, **changes: Any) -> None:
        state = self.gh
        state.update(changes)
        self.gh_state.write_text(json.dumps(state))

    def artifact(self, run: int, name: str) -> Path:
        return self.home / "artifacts" / str(run) / name

    def run(
        self,
        event: str,
        *,
        ref: str,
        payload: dict[str, Any] | None = None,
        actor: str = "dev",
        sha: str = "0" * 40,
        secrets: dict[str, str] | None = None,
    ) -> list[JobRun]:
        """Run the pipeline for one event; returns every job (matrix entries apart)."""
        workflow = yaml.safe_load((self.repo / ".github/workflows/wfsync.yml").read_text())
        triggers = workflow.get("on", workflow.get(True))
        assert event in triggers, f"the pipeline does not run on {event}"
        self.run_count += 1
        run_id = self.run_count
        branch = (payload or {}).get("pull_request", {}).get("head", {}).get("ref") or ref.removeprefix(
            "refs/heads/"
        )
        state = self.gh
        state["runs"].append({"id": run_id, "branch": branch, "event": event})
        self.gh_state.write_text(json.dumps(state))
        github = {
            "event_name": event,
            "ref": ref,
            "sha": sha,
            "actor": actor,
            "repository": self.repository,
            "token": "ghs_faketoken",
            "server_url": "https://github.com",
            "run_id": str(run_id),
            "event": payload or {},
        }
        results: dict[str, str] = {}
        runs: list[JobRun] = []
        for name, job in workflow["jobs"].items():
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            ok = all(results.get(n) == "success" for n in needs)
            base = {
                "github": github,
                "vars": self.variables,
                "secrets": secrets if secrets is not None else self.secrets,
            }
            if not condition(job.get("if"), base, {"success": ok}):
                results[name] = "skipped"
                runs.append(JobRun(name, {}, "skipped"))
                continue
            matrix = (job.get("strategy") or {}).get("matrix", {}).get("include") or [{}]
            outcome = "success"
            for entry in matrix:
                done = self._job(name, job, workflow.get("env", {}), {**base, "matrix": entry}, run_id)
                runs.append(done)
                if done.result != "success":
                    outcome = "failure"
            results[name] = outcome
        return runs

    def _job(
        self, name: str, job: dict[str, Any], workflow_env: dict[str, Any], ctx: dict[str, Any], run_id: int
    ) -> JobRun:
        workspace = self.home / "work" / f"{run_id}-{name}-{ctx['matrix'].get('name', '')}"
        shutil.copytree(self.repo, workspace)
        summary = workspace.parent / f"{workspace.name}.summary"
        summary.write_text("")
        done = JobRun(name, dict(ctx["matrix"]), "success")
        steps: dict[str, Any] = {}
        ctx = {**ctx, "steps": steps}
        success = True
        for index, step in enumerate(job["steps"]):
            label = step.get("name") or step.get("uses") or step["run"].splitlines()[0]
            if not condition(step.get("if"), ctx, {"success": success}):
                done.steps.append(StepRun(name, label, "skipped"))
                continue
            status = {"success": success}
            env = {
                k: str(interpolate(v, ctx, status))
                for k, v in {**workflow_env, **job.get("env", {}), **step.get("env", {})}.items()
            }
            outputs: dict[str, str] = {}
            if "uses" in step:
                with_ = {k: interpolate(v, ctx, status) for k, v in (step.get("with") or {}).items()}
                ok, text = self._uses(step["uses"], with_, workspace, run_id)
            else:
                ok, text, outputs = self._shell(
                    interpolate(step["run"], ctx, status), env, workspace, summary, ctx["github"], index
                )
            done.steps.append(StepRun(name, label, "success" if ok else "failure", text))
            if step.get("id"):
                steps[step["id"]] = {"outputs": outputs, "outcome": "success" if ok else "failure"}
            success = success and ok
        done.result = "success" if success else "failure"
        done.summary = summary.read_text()
        return done

    def _shell(
        self,
        script: str,
        env: dict[str, str],
        workspace: Path,
        summary: Path,
        github: dict[str, Any],
        index: int,
    ) -> tuple[bool, str, dict[str, str]]:
        output = workspace.parent / f"{workspace.name}.output{index}"
        output.write_text("")
        full_env = {
            **self.base_env,
            "PATH": f"{self.bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
            "HOME": str(self.home),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_REF": github["ref"],
            "GITHUB_SHA": github["sha"],
            "GITHUB_REPOSITORY": github["repository"],
            "GITHUB_RUN_ID": github["run_id"],
            "GITHUB_ACTOR": github["actor"],
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(self.home / "tmp"),
            "FAKE_GH_STATE": str(self.gh_state),
            **env,
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=workspace,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        return done.returncode == 0, done.stdout + done.stderr, outputs

    def _uses(self, action: str, with_: dict[str, Any], workspace: Path, run_id: int) -> tuple[bool, str]:
        name = action.split("@")[0]
        if name in ("actions/checkout", "actions/setup-python"):
            return True, ""
        if name == "actions/upload-artifact":
            files = [p for p in workspace.iterdir() if fnmatch.fnmatch(p.name, str(with_["path"]))]
            if not files:
                return with_.get("if-no-files-found") == "ignore", "no files"
            target = self.artifact(run_id, str(with_["name"]))
            target.mkdir(parents=True, exist_ok=True)
            for file in files:
                shutil.copy(file, target / file.name)
            return True, f"uploaded {[f.name for f in files]}"
        cache = self.home / "cache"
        if name == "actions/cache/restore":
            keys = [str(with_["key"]), *str(with_.get("restore-keys", "")).split()]
            for key in keys:
                found = [p for p in cache.iterdir() if p.name.startswith(key)]
                if found:
                    newest = max(found, key=lambda p: p.stat().st_mtime_ns)
                    path = workspace / str(with_["path"])
                    path.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(newest, path)
                    return True, f"restored {newest.name}"
            return True, "cache miss"
        if name == "actions/cache/save":
            path = workspace / str(with_["path"])
            if path.exists():
                shutil.copy(path, cache / str(with_["key"]))
                return True, "saved"
            return True, "nothing to save"
        raise AssertionError(f"the simulated runner does not know {action}")
