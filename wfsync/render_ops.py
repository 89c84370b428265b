"""Jobs, summaries and timelines as text for a terminal (they only read; they decide nothing).

Monitoring answers are undocumented, so these read them by name where they can (``period``,
``jobs``…) and fall back to whatever strings and numbers a row holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wfsync.operate import flatten
from wfsync.shapes import Job

__all__ = ["render_job", "render_jobs", "render_summary", "render_timeline"]

BAR = "█"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def render_jobs(jobs: Sequence[Job]) -> str:
    if not jobs:
        return "No jobs.\n"
    rows = [
        (j.id, j.status, j.scheduled_date or "", j.started_at or "", j.finished_at or "", j.error or "")
        for j in jobs
    ]
    return _table(("job", "status", "scheduled", "started", "finished", "error"), rows)


def render_job(job: Job) -> str:
    rows: list[tuple[str, Any]] = [
        ("job", job.id),
        ("status", job.status),
        ("workflow", job.workflow_id),
        ("scheduled", job.scheduled_date),
        ("timezone", job.timezone),
        ("started", job.started_at),
        ("finished", job.finished_at),
        ("error", job.error),
    ]
    calls = job.raw.get("result", {}).get("calls") if isinstance(job.raw.get("result"), Mapping) else None
    if isinstance(calls, list):
        rows.append(("calls", len(calls)))
    width = max(len(name) for name, _ in rows)
    return "".join(f"{name.ljust(width)}  {value}\n" for name, value in rows if value is not None)


def render_summary(title: str, figures: Any) -> str:
    rows = [(name, value) for name, value in flatten(figures) if name not in ("workflowId", "title")]
    width = max((len(name) for name, _ in rows), default=0)
    lines = [f"{title}", ""]
    for name, value in rows:
        shown = f"{value:.1%}" if name.endswith("Rate") and isinstance(value, float) else value
        lines.append(f"  {name.ljust(width)}  {'-' if shown is None else shown}")
    return "\n".join(lines) + "\n"


def _periods(timeline: Any) -> list[Mapping[str, Any]]:
    if isinstance(timeline, Mapping):
        for name in ("periods", "timeline", "data", "items"):
            if isinstance(timeline.get(name), list):
                return [row for row in timeline[name] if isinstance(row, Mapping)]
        return []
    return [row for row in timeline if isinstance(row, Mapping)] if isinstance(timeline, list) else []


def _pick(row: Mapping[str, Any], names: Sequence[str], kind: type) -> Any:
    for name in names:
        if isinstance(row.get(name), kind) and not isinstance(row.get(name), bool):
            return row[name]
    return next((v for v in row.values() if isinstance(v, kind) and not isinstance(v, bool)), None)


def render_timeline(title: str, timeline: Any, *, width: int = 30) -> str:
    """Jobs per period as a bar chart, with the other counts of each period beside it."""
    rows = _periods(timeline)
    interval = timeline.get("interval", "period") if isinstance(timeline, Mapping) else "period"
    if not rows:
        return f"{title}: no jobs yet.\n"
    labels = [str(_pick(row, ("period", "date", "bucket", "time"), str)) for row in rows]
    counts = [_pick(row, ("jobs", "count", "total"), int) or 0 for row in rows]
    peak = max(max(counts), 1)
    label_width, count_width = max(map(len, labels)), len(str(peak))
    lines = [f"{title}: jobs per {interval}", ""]
    for label, total, row in zip(labels, counts, rows, strict=True):
        bar = BAR * max(1 if total else 0, round(width * total / peak))
        extra = " · ".join(
            f"{k} {v}"
            for k, v in row.items()
            if isinstance(v, int) and not isinstance(v, bool) and k not in ("jobs", "count", "total")
        )
        lines.append(
            f"  {label.ljust(label_width)}  {bar.ljust(width)}  {str(total).rjust(count_width)}"
            + (f"  {extra}" if extra else "")
        )
    return "\n".join(lines) + "\n"
