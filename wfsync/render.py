"""Plans as text for people, JSON for machines and markdown for pull requests.

Renderers only read a plan and return text; they decide nothing. One function lists a
plan's lines and the three formats are built from it, so they always agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from wfsync.body import leaf_values
from wfsync.changes import Cancel, Change, Create, ScheduleRun, Update, templated
from wfsync.operate import SmokeResult
from wfsync.plan import LiveRef, Plan
from wfsync.schedules import local_time
from wfsync.sync import ApplyResult

__all__ = [
    "MARKER",
    "fleet_data",
    "heading",
    "render_apply",
    "render_fleet_apply",
    "render_json",
    "render_markdown",
    "render_plans",
    "render_text",
    "render_totals",
    "smoke_line",
    "summary_line",
]

# The hidden first line of a markdown plan: a CI step finds its earlier comment by it.
MARKER = "<!-- wfsync-plan -->"

_STYLE = {
    "create": ("+", "green"),
    "update": ("~", "yellow"),
    "delete": ("-", "red"),
    "schedule": (">", "cyan"),
    "cancel": ("x", "magenta"),
}
_ANSI = {"green": 32, "yellow": 33, "red": 31, "cyan": 36, "magenta": 35, "bold": 1, "dim": 2}
_VERBS = {
    "create": "to create",
    "update": "to update",
    "cancel": "to cancel",
    "schedule": "to schedule",
    "delete": "to delete",
}


def _paint(text: str, style: str, color: bool) -> str:
    return f"\x1b[{_ANSI[style]}m{text}\x1b[0m" if color else text


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _short(workflow_id: str | None) -> str:
    return f" ({workflow_id})" if workflow_id else ""


def _head(change: Change) -> str:
    title = _value(change.title)
    if isinstance(change, Update) and change.former_title is not None:
        return f"update {title}{_short(change.workflow_id)}, renamed from {_value(change.former_title)}"
    if isinstance(change, ScheduleRun):
        target = _short(change.workflow_id) if change.workflow_id else " (once created)"
        if change.zone:  # written as a local time: show it, then the instant the platform gets
            local = local_time(change.instant, change.zone)
            return f"schedule {title}{target} at {local} = {change.instant} ({change.timezone})"
        return f"schedule {title}{target} at {change.instant} ({change.timezone})"
    if isinstance(change, Cancel):
        runs = len(change.pending)
        listed = f": {', '.join(change.pending)}" if change.pending else ""
        return (
            f"cancel {title}{_short(change.workflow_id)}: {runs} pending run{'s' * (runs != 1)}"
            f"{listed} ({change.reason})"
        )
    return f"{change.action} {title}{_short(change.workflow_id)}"


def _details(change: Change) -> Iterator[str]:
    if isinstance(change, Create):
        # Values from the environment are shown as written: ${NAME}, never the value.
        for leaf, value in leaf_values(templated(change.body, change.secrets)):
            yield f"{leaf.name}: {_value(value)}"
    elif isinstance(change, Update):
        for diff in change.diffs:
            if diff.sensitive:
                yield f"{diff.path}: (sensitive) -> {_value(diff.data['new'])}"
            elif diff.new is None:
                yield f"{diff.path}: {_value(diff.old)} -> (removed)"
            elif diff.old is None:
                yield f"{diff.path}: (none) -> {_value(diff.new)}"
            else:
                delta = _set_change(diff.old, diff.new)
                yield f"{diff.path}: {_value(diff.old)} -> {_value(diff.new)}{delta}"


def _set_change(old: Any, new: Any) -> str:
    """For lists that compare as sets (phrases): what was added and removed."""
    if not (isinstance(old, list) and isinstance(new, list)):
        return ""
    try:
        added = [item for item in dict.fromkeys(new) if item not in set(old)]
        removed = [item for item in dict.fromkeys(old) if item not in set(new)]
    except TypeError:
        return ""
    parts = [f"+{_value(item)}" for item in added] + [f"-{_value(item)}" for item in removed]
    return f"  ({', '.join(parts)})" if parts else ""


def _change_lines(plan: Plan, color: bool) -> Iterator[str]:
    for change in plan.changes:
        symbol, style = _STYLE[change.action]
        yield _paint(f"{symbol} {_head(change)}", style, color)
        for detail in _details(change):
            yield f"    {detail}"


def summary_line(plan: Plan) -> str:
    """``Plan: 1 to create, 2 to update, 0 to cancel, 0 to schedule, 1 to delete.``"""
    if plan.empty:
        return "No changes: the live workflows match the definitions."
    counts = plan.counts
    return "Plan: " + ", ".join(f"{counts[a]} {_VERBS[a]}" for a in _VERBS) + "."


# Workflows listed by name under "unmanaged" or "protected"; --json lists them all.
LISTED = 20


def _refs(heading: str, refs: Sequence[LiveRef]) -> Iterator[str]:
    yield ""
    yield f"{heading}: {len(refs)}"
    yield from (f"  {_value(ref.title)} ({ref.id})" for ref in refs[:LISTED])
    if len(refs) > LISTED:
        yield f"  … and {len(refs) - LISTED} more (--json lists them all)"


def _footer(plan: Plan) -> Iterator[str]:
    if plan.unmanaged:
        yield from _refs("Unmanaged, left alone (no definition; --prune would delete them)", plan.unmanaged)
    if plan.protected:
        yield from _refs("Protected, never deleted (a protect glob matches)", plan.protected)
    if plan.warnings:
        yield ""
        yield "Warnings:"
        yield from (f"  {warning}" for warning in plan.warnings)


def render_text(plan: Plan, *, color: bool = False) -> str:
    """The plan as a person reads it in a terminal or a CI log."""
    lines = []
    if not plan.empty:
        where = f" at {plan.api_url}" if plan.api_url else ""
        live = f"{plan.live_count:,} live workflow{'s' * (plan.live_count != 1)}"
        lines += [f"wfsync will make these changes{where} ({live}):", ""]
        lines += _change_lines(plan, color)
    lines += _footer(plan)
    lines += ["", _paint(summary_line(plan), "bold", color)]
    return "\n".join(lines).lstrip("\n") + "\n"


def render_json(plan: Plan) -> str:
    """The plan as data: what ``--json`` prints and ``--out`` saves (never a secret value)."""
    return json.dumps(plan.data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def marker(environment: str | None) -> str:
    """The hidden first line a CI step finds its comment by: one per environment."""
    return MARKER if environment is None else f"<!-- wfsync-plan:{environment} -->"


def render_markdown(plan: Plan) -> str:
    """The plan as a pull-request comment: counts first, details folded, a hidden marker."""
    where = f" ({plan.environment})" if plan.environment else ""
    lines = [
        marker(plan.environment),
        f"### wfsync plan{where}: {summary_line(plan).removeprefix('Plan: ')}",
        "",
    ]
    if not plan.empty:
        counts = plan.counts
        lines += [
            "| " + " | ".join(_VERBS[a] for a in _VERBS) + " |",
            "|" + "---:|" * len(_VERBS),
            "| " + " | ".join(str(counts[a]) for a in _VERBS) + " |",
            "",
        ]
        lines += ["<details><summary>Changes</summary>", "", "```diff"]
        lines += [line.replace("```", "`\u200b``") for line in _change_lines(plan, color=False)]
        lines += ["```", "", "</details>"]
    extra = list(_footer(plan))
    if extra:
        lines += ["", "<details><summary>Unmanaged, protected and warnings</summary>", "", "```"]
        lines += [line for line in extra if line]
        lines += ["```", "", "</details>"]
    return "\n".join(lines) + "\n"


# -- apply -------------------------------------------------------------------------------------


def smoke_line(result: SmokeResult) -> str:
    job = f"job {result.job.id} " if result.job else ""
    return f"smoke run of {_value(result.title)}: {job}{'completed' if result.ok else result.problem}"


def render_apply(result: ApplyResult, *, color: bool = False) -> str:
    """What an apply did, after its per-change lines: the summary, smoke runs, verification."""
    if result.report is None:
        return ""
    report = result.report
    lines = [_paint(report.summary_line(), "bold" if report.ok else "red", color)]
    if result.smoked is not None:
        failed = sum(1 for smoked in result.smoked if not smoked.ok)
        lines.append(
            _paint(
                f"Smoke runs: {len(result.smoked) - failed} of {len(result.smoked)} completed.",
                "red" if failed else "bold",
                color,
            )
        )
    settled = result.convergence
    if settled is not None:
        lines += [f"Warning: {note}" for note in settled.normalised]
        if settled.left:
            lines.append(_paint("Not verified: after the apply, this is still left:", "red", color))
            lines += [f"  {item}" for item in settled.left]
    if result.remaining is not None and not result.remaining.empty:
        lines.append(render_text(result.remaining, color=color).rstrip())
    elif (settled is not None and not settled.left) or (report.ok and result.remaining is not None):
        made_good = "" if report.ok else " (what failed above was made good meanwhile)"
        lines.append(f"Verified: the live workflows match the definitions{made_good}.")
    return "\n".join(lines) + "\n"


# -- environments ------------------------------------------------------------------------------


def heading(name: str | None, api_url: str, *, color: bool = False) -> str:
    """``== staging (https://api.example.com) ==``: where an environment's section starts."""
    return _paint(f"== {name} ({api_url}) ==", "bold", color)


def render_plans(
    sections: Sequence[tuple[str | None, str, Any]], *, named: bool, markdown: bool, color: bool = False
) -> str:
    """The plans of a command: (environment, API, plan or error) each. With environments,
    each is headed by its name and API and the totals close the text; markdown gives each
    environment its own comment (its own marker). The one account's error is not shown
    here: it is the command's."""
    parts = []
    for name, api_url, result in sections:
        if named and not markdown:
            parts.append(heading(name, api_url, color=color) + "\n")
        if not isinstance(result, Plan):
            parts.append(f"Error: {result}\n" if named else "")
        elif markdown:
            parts.append(render_markdown(result))
        else:
            parts.append(render_text(result, color=color))
    if named and not markdown:
        parts.append(render_totals([(name, result) for name, _, result in sections], color=color) + "\n")
    return "".join(parts)


def render_totals(results: Sequence[tuple[str | None, Any]], *, color: bool = False) -> str:
    """One line per environment after their plans: ``staging: Plan: 1 to create, …``."""
    lines = ["", _paint("Totals:", "bold", color)]
    for name, result in results:
        said = summary_line(result) if isinstance(result, Plan) else f"failed: {result}"
        lines.append(f"  {name}: {said}")
    return "\n".join(lines)


def render_fleet_apply(results: Sequence[tuple[str | None, Any]], *, keep_going: bool) -> str:
    """One line per environment after an apply across several."""
    lines = ["", "Environments:"]
    for name, result in results:
        if result is None:
            said = "not applied: an environment before it failed" + (
                "" if keep_going else " (--keep-going goes on)"
            )
        elif isinstance(result, ApplyResult):
            said = result.report.summary_line() if result.report else "no changes"
            if result.report and not result.ok and result.report.ok:
                said += " Not verified."
        else:
            said = f"failed: {result}"
        lines.append(f"  {name}: {said}")
    return "\n".join(lines) + "\n"


def fleet_data(results: Sequence[tuple[str | None, Any]]) -> dict[str, Any]:
    """An apply across environments as JSON: each one's outcome, or why it has none."""
    environments = []
    for name, result in results:
        entry: dict[str, Any] = {"name": name}
        if isinstance(result, ApplyResult):
            entry |= {"ok": result.ok, **(result.report.data if result.report else {"results": []})}
            entry["ok"] = result.ok
        else:
            entry |= {"ok": False, "error": None if result is None else str(result), "applied": False}
        environments.append(entry)
    return {"format_version": 1, "environments": environments}
