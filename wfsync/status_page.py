"""The status page: one self-contained HTML file (inline CSS and SVG, no script, nothing
fetched) showing each environment and, per workflow, a week of runs as a small bar chart,
its pending schedules and its last error.

Every figure is also in a ``data-`` attribute, so tools (and the browser test) can read
the page without parsing its prose. Every text from the API is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from wfsync.status import Day, EnvStatus, WorkflowStatus

__all__ = ["render_page"]

_VERBS = ("create", "update", "cancel", "schedule", "delete")
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;
color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 4px}.when{color:#59636e;margin:0 0 20px}
section{border:1px solid #d1d9e0;border-radius:8px;padding:12px 16px;margin:0 0 16px}
h2{font-size:16px;margin:0 0 8px;display:flex;gap:10px;align-items:center}
.badge{font-size:12px;border-radius:10px;padding:1px 8px;color:#fff}
.in-sync{background:#1a7f37}.drifted{background:#bf8700}.failing{background:#cf222e}
.url{color:#59636e;font-weight:normal;font-size:12px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-top:1px solid #eef1f4;vertical-align:top}
th{font-size:12px;color:#59636e;font-weight:600}.error{color:#cf222e}.muted{color:#59636e}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:middle}
"""
_COLOURS = {"completed": "#1a7f37", "failed": "#cf222e", "other": "#8c959f"}


def _chart(days: Sequence[Day]) -> str:
    """A bar per day, stacked completed / failed / other, scaled to the week's busiest day."""
    width, height, gap = 14, 36, 3
    peak = max((day.total for day in days), default=0) or 1
    bars = []
    for index, day in enumerate(days):
        x = index * (width + gap)
        y = float(height)
        parts = []
        for kind in ("completed", "failed", "other"):
            count = getattr(day, kind)
            if not count:
                continue
            size = height * count / peak
            y -= size
            parts.append(
                f'<rect x="{x}" y="{y:.2f}" width="{width}" height="{size:.2f}" fill="{_COLOURS[kind]}"/>'
            )
        title = f"{day.date}: {day.completed} completed, {day.failed} failed, {day.other} other"
        bars.append(
            f'<g class="day" data-date="{day.date}" data-completed="{day.completed}" '
            f'data-failed="{day.failed}" data-total="{day.total}"><title>{title}</title>'
            f'<rect x="{x}" y="0" width="{width}" height="{height}" fill="#f6f8fa"/>{"".join(parts)}</g>'
        )
    total_width = len(days) * (width + gap) - gap
    return (
        f'<svg class="chart" role="img" aria-label="runs per day" width="{total_width}" height="{height}" '
        f'viewBox="0 0 {total_width} {height}" xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg>'
    )


def _workflow_row(workflow: WorkflowStatus) -> str:
    week = sum(day.total for day in workflow.days)
    failed = sum(day.failed for day in workflow.days)
    pending = (
        "<br>".join(f'<span class="pending">{escape(at)}</span>' for at in workflow.pending)
        or '<span class="muted">none</span>'
    )
    error = (
        f'<span class="error last-error">{escape(workflow.last_error)}</span>'
        f'<br><span class="muted">{escape(workflow.last_error_at or "")}</span>'
        if workflow.last_error
        else '<span class="muted">none</span>'
    )
    return (
        f'<tr class="workflow" data-title="{escape(workflow.title)}" data-runs="{week}" '
        f'data-failed="{failed}" '
        f'data-pending="{len(workflow.pending)}"><td>{escape(workflow.title)}</td>'
        f'<td>{_chart(workflow.days)}<br><span class="muted">{week} runs, {failed} failed</span></td>'
        f"<td>{pending}</td><td>{error}</td></tr>"
    )


def _section(env: EnvStatus) -> str:
    css = env.state.replace(" ", "-")
    if env.state == "drifted":
        detail = ", ".join(f"{env.counts[v]} to {v}" for v in _VERBS if env.counts.get(v))
    elif env.state == "failing":
        detail = env.error or "failing"
    else:
        detail = "the live workflows match the definitions"
    counts = " ".join(f'data-{verb}="{env.counts.get(verb, 0)}"' for verb in _VERBS)
    rows = "".join(_workflow_row(w) for w in env.workflows)
    table = (
        "<table><tr><th>workflow</th><th>runs, last 7 days</th><th>pending schedules</th>"
        f"<th>last error</th></tr>{rows}</table>"
        if env.workflows
        else '<p class="muted">No live workflows.</p>'
    )
    return (
        f'<section class="env" data-env="{escape(env.name)}" data-state="{escape(env.state)}" {counts}>'
        f'<h2>{escape(env.name)} <span class="badge {css}">{escape(env.state)}</span>'
        f'<span class="url">{escape(env.api_url)}</span></h2>'
        f'<p class="detail{" error" if env.state == "failing" else ""}">{escape(detail)}</p>{table}</section>'
    )


def render_page(environments: Sequence[EnvStatus], generated_at: str) -> str:
    """The page for ``environments``, stamped ``generated_at``."""
    legend = "".join(f'<span style="background:{colour}"></span>{kind}' for kind, colour in _COLOURS.items())
    body = "".join(_section(env) for env in environments)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No script, no fetch: a page kept as a CI artifact must render offline, alone.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>wfsync status</title><style>{_CSS}</style></head><body>"
        f'<h1>wfsync status</h1><p class="when">Generated {escape(generated_at)} '
        f'<span class="legend">{legend}</span></p>{body}</body></html>\n'
    )
