"""Saved plans (``plan --out``): a record of what was reviewed, never a program.

``apply --plan FILE`` computes the plan afresh from the definitions on disk, the settings
and the live state, and goes on only when it is the same change set as the saved one
(same actions, workflow ids, bodies, schedules, and the same live state under each: every
change carries a digest of it). Otherwise it refuses as a whole, naming each workflow
that differs, whether the live state moved, the definitions changed or the file was
edited. Nothing in the file is ever sent: no body, no id, no value from the environment.

A saved plan holds no secret: values from the environment are saved as the ``${NAME}``
text that produced them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from wfsync import safejson
from wfsync.changes import Change, Key, PlanFileError, Reader, read_changes
from wfsync.errors import ConfigError, WfsyncError
from wfsync.plan import LiveRef, Plan, Selection

__all__ = ["MAX_PLAN_BYTES", "StalePlan", "check_saved", "differences", "read_plan", "read_plans"]

# A plan of 100,000 changes is about 60 MB; anything larger is not a plan wfsync wrote.
MAX_PLAN_BYTES = 256 * 1024 * 1024


class StalePlan(WfsyncError):
    """The saved plan is not what would be applied now; ``changed`` names each workflow."""

    def __init__(self, changed: Sequence[str]) -> None:
        self.changed = list(changed)
        lines = "\n".join(f"  {line}" for line in self.changed)
        super().__init__(
            "the saved plan is not what would be applied now (the live state or the definitions "
            f"changed since it was made, or the file was edited), so nothing was applied:\n{lines}\n"
            "Run wfsync plan again and review the new plan."
        )


def read_plans(path: str | os.PathLike[str]) -> list[Plan]:
    """The plans saved at ``path``: one per environment (or the one account's)."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_PLAN_BYTES:
                raise PlanFileError(f"{where}: {size:,} bytes is too large for a wfsync plan")
            text = handle.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the plan: {exc.strerror or exc}") from exc
    try:
        data = safejson.loads(text)
    except safejson.JsonDepthError:
        raise PlanFileError(f"{where}: not a wfsync plan (nested too deeply)") from None
    except ValueError as exc:
        raise PlanFileError(f"{where}: not a wfsync plan (invalid JSON: {exc})") from None
    top = Reader(data, where)
    if type(data.get("format_version")) is not int or data.get("format_version") != 1:
        raise PlanFileError(f"{where}: not a wfsync plan of format_version 1")
    if "environments" in data:
        return [read_plan(top.child("environments", n)) for n in range(len(top.items("environments")))]
    return [read_plan(top)]


def read_plan(reader: Reader) -> Plan:
    """One account's plan from its JSON form (the inverse of ``Plan.data``). What the file
    says twice (each change's key, the counts) must agree with itself, or it was edited."""
    plan = _read_plan(reader)
    for number, (change, written) in enumerate(zip(plan.changes, reader.items("changes"), strict=True)):
        if isinstance(written, dict) and written.get("key") != change.key.data:
            raise PlanFileError(f"{reader.where}.changes[{number}].key: does not match the change (edited?)")
    if "counts" in reader.data and reader.data["counts"] != plan.counts:
        raise PlanFileError(f"{reader.where}.counts: does not match the changes (edited?)")
    return plan


def _read_plan(reader: Reader) -> Plan:
    selection = reader.child("selection") if isinstance(reader.data.get("selection"), dict) else None
    refs = {
        name: tuple(
            LiveRef(ref.string("id"), ref.string("title"))
            for ref in (reader.child(name, n) for n in range(len(reader.items(name))))
        )
        for name in ("unmanaged", "protected")
    }
    return Plan(
        changes=read_changes(reader),
        unmanaged=refs["unmanaged"],
        protected=refs["protected"],
        warnings=reader.strings("warnings"),
        live_count=reader.integer("live_count") if "live_count" in reader.data else 0,
        api_url=reader.optional_string("api_url"),
        environment=reader.optional_string("environment"),
        prune=reader.flag("prune"),
        selection=Selection(
            selection.strings("only"), selection.strings("exclude"), selection.strings("within")
        )
        if selection
        else Selection(),
    )


def _canonical(change: Change) -> str:
    return json.dumps(change.data, sort_keys=True, ensure_ascii=False)


def _name(changes: Sequence[Change]) -> str:
    change = changes[0]
    return f"{json.dumps(change.title, ensure_ascii=False)}" + (
        f" ({change.workflow_id})" if change.workflow_id else " (new)"
    )


def differences(saved: Plan, fresh: Plan) -> list[str]:
    """One line for each workflow whose changes differ between the two plans."""
    problems = []
    if saved.api_url != fresh.api_url or saved.environment != fresh.environment:
        where = f"{saved.environment or 'the account'} at {saved.api_url}"
        now = f"{fresh.environment or 'the account'} at {fresh.api_url}"
        return [f"the plan is for {where}, not {now}"]
    mine = {change.key: change for change in saved.changes}
    theirs = {change.key: change for change in fresh.changes}
    if len(mine) != len(saved.changes):
        problems.append("the saved plan lists one change twice")
    by_workflow: dict[tuple[str | None, str | None], list[str]] = {}
    names: dict[tuple[str | None, str | None], str] = {}
    for key in sorted(set(mine) | set(theirs), key=lambda key: key.order):
        old, new = mine.get(key), theirs.get(key)
        if old is not None and new is not None and _canonical(old) == _canonical(new):
            continue
        workflow = (key.workflow_id, key.new_title)
        names.setdefault(workflow, _name([c for c in (new, old) if c is not None]))
        by_workflow.setdefault(workflow, []).append(_why(key, old, new))
    for workflow, reasons in sorted(by_workflow.items(), key=lambda item: names[item[0]]):
        problems.append(f"{names[workflow]}: {'; '.join(dict.fromkeys(reasons))}")
    return problems


def _why(key: Key, old: Change | None, new: Change | None) -> str:
    what = key.action + (f" at {key.instant}" if key.instant else "")
    if new is None:
        return f"the saved plan would {what} it, a plan made now would not"
    if old is None:
        return f"a plan made now would also {what} it"
    if old.live != new.live:
        return f"its live state changed since the plan was made ({what})"
    return f"the {what} is not the one reviewed"


def check_saved(saved: Plan, fresh: Plan) -> None:
    """Raise StalePlan unless ``fresh`` is the same change set as ``saved``."""
    found = differences(saved, fresh)
    if found:
        raise StalePlan(found)


def plan_data(plans: Sequence[Plan]) -> dict[str, Any]:
    """The JSON form of a saved plan: one account's, or several environments'."""
    if len(plans) == 1 and plans[0].environment is None:
        return plans[0].data
    return {"format_version": 1, "environments": [plan.data for plan in plans]}
