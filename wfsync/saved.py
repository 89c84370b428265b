"""Saved plans (``plan --out``): read back for ``apply --plan``, and checked against the
live state before anything is changed.

A saved plan holds no secret: values from the environment are saved as the ``${NAME}``
text that produced them and resolved again when the plan is read. Each workflow the
plan touches has a fingerprint of the live state it was computed from; a plan whose
fingerprints no longer match is refused as a whole, naming every workflow that changed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from wfsync.definitions import expand
from wfsync.errors import ConfigError, WfsyncError
from wfsync.plan import (
    Cancel,
    Change,
    Create,
    Delete,
    FieldDiff,
    Fingerprint,
    Plan,
    ScheduleRun,
    Update,
    fingerprint,
)
from wfsync.shapes import Job, LiveWorkflow

__all__ = ["StalePlan", "check_fresh", "jobs_to_check", "load_plan", "stale_workflows"]


class StalePlan(WfsyncError):
    """The live state changed since the plan was computed; ``changed`` names each workflow."""

    def __init__(self, changed: Sequence[str]) -> None:
        self.changed = list(changed)
        lines = "\n".join(f"  {line}" for line in self.changed)
        super().__init__(
            f"the saved plan is stale: the live state changed since it was computed, so nothing was "
            f"applied:\n{lines}\nRun wfsync plan again."
        )


def _resolve(node: Any, sensitive: Iterable[str], env: Mapping[str, str], where: str) -> Any:
    """``node`` (a body or patch) with the ``${NAME}`` text at each sensitive path resolved."""
    node = json.loads(json.dumps(node))
    for dotted in sensitive:
        parts: list[Any] = [int(p) if p.isdigit() else p for p in dotted.split(".")]
        parent = node
        for part in parts[:-1]:
            parent = parent[part]
        value, _, errors = expand(parent[parts[-1]], env)
        if errors:
            raise ConfigError(f"{where}: {'; '.join(errors)}")
        parent[parts[-1]] = value
    return node


def _change(data: Mapping[str, Any], env: Mapping[str, str], where: str) -> Change:
    action, title, workflow_id = data["action"], data["title"], data.get("id")
    if action == "create":
        body = _resolve(data["body"], data.get("sensitive", ()), env, where)
        secrets = {
            tuple(int(p) if p.isdigit() else p for p in d.split(".")): "" for d in data.get("sensitive", ())
        }
        return Create(title, None, body, secrets)
    if action == "update":
        patch = _resolve(data["patch"], data.get("sensitive", ()), env, where)
        diffs = tuple(
            FieldDiff(d["path"], d["old"], d["new"], d.get("sensitive", False)) for d in data["diffs"]
        )
        return Update(title, workflow_id, patch, diffs, data.get("renamed_from"))
    if action == "delete":
        return Delete(title, workflow_id)
    if action == "schedule":
        return ScheduleRun(title, workflow_id, data["scheduledDate"], data["timezone"], data.get("zone"))
    if action == "cancel":
        return Cancel(title, workflow_id, tuple(data.get("pending", ())), data.get("reason", ""))
    raise ValueError(f"unknown action {action!r}")


def load_plan(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Plan:
    """The plan saved at ``path``, its secrets resolved from ``env``; ConfigError if unusable."""
    env = os.environ if env is None else env
    where = os.fspath(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the plan: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigError(f"{where}: not a wfsync plan (invalid JSON: {exc})") from exc
    if not isinstance(data, dict) or data.get("format_version") != 1:
        raise ConfigError(f"{where}: not a wfsync plan of format_version 1")
    try:
        changes = tuple(_change(change, env, where) for change in data["changes"])
        fingerprints = {
            key: Fingerprint(value["id"], value["digest"], bool(value.get("schedules")))
            for key, value in data.get("fingerprints", {}).items()
        }
        return Plan(
            changes=changes,
            warnings=tuple(data.get("warnings", ())),
            fingerprints=fingerprints,
            live_count=int(data.get("live_count", 0)),
            api_url=data.get("api_url"),
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ConfigError(f"{where}: a damaged wfsync plan ({type(exc).__name__}: {exc})") from exc


async def check_fresh(api: Any, plan: Plan, api_name: str) -> None:
    """Refuse a saved plan made for another API, or one whose live state moved since."""
    from wfsync.live import read_jobs

    if plan.api_url != api_name:
        raise ConfigError(f"the saved plan is for {plan.api_url}, not {api_name}: nothing was applied")
    workflows = await api.list_workflows()
    changed = stale_workflows(plan, workflows, await read_jobs(api, jobs_to_check(plan)))
    if changed:
        raise StalePlan(changed)


def jobs_to_check(plan: Plan) -> list[str]:
    """The ids of the workflows whose pending schedules are part of their fingerprint."""
    return [f.workflow_id for f in plan.fingerprints.values() if f.schedules and f.workflow_id]


def stale_workflows(
    plan: Plan, workflows: Sequence[LiveWorkflow], jobs: Mapping[str, Sequence[Job]]
) -> list[str]:
    """Each workflow whose live state differs from the one the plan was computed from."""
    by_id = {w.id: w for w in workflows}
    titles = {w.title for w in workflows}
    changed = []
    for key, planned in sorted(plan.fingerprints.items()):
        title = (
            key.split("#", 1)[0] if planned.workflow_id and key.endswith(f"#{planned.workflow_id}") else key
        )
        if planned.workflow_id is None:
            if title in titles:
                changed.append(f"{title!r} now exists (the plan would create it)")
            continue
        live = by_id.get(planned.workflow_id)
        if live is None:
            changed.append(f"{title!r} ({planned.workflow_id}) no longer exists")
            continue
        pending = None
        if planned.schedules:
            pending = [str(j.instant) for j in jobs.get(live.id, ()) if j.status == "scheduled"]
        if fingerprint(live.body, live.id, pending).digest != planned.digest:
            changed.append(f"{title!r} ({planned.workflow_id}) changed")
    return changed
