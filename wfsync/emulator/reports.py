"""Monitoring figures computed from the jobs the emulator really ran (pure functions)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wfsync.emulator.simulate import OUTCOMES

__all__ = ["INTERVALS", "report", "report_csv", "summary", "timeline"]

# Period name -> how many characters of an ISO instant name the period.
INTERVALS = {"minute": 16, "hour": 13, "day": 10, "month": 7}
_STATUSES = ("scheduled", "queued", "running", "completed", "failed", "cancelled")


def _calls(jobs: Iterable[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    return [call for job in jobs for call in (job.get("result") or {}).get("calls", [])]


def _figures(jobs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    statuses = Counter(job["status"] for job in jobs)
    calls = _calls(jobs)
    outcomes = Counter(call["outcome"] for call in calls)
    answered = [call for call in calls if call["outcome"] == "answered"]
    finished = statuses["completed"] + statuses["failed"]
    talk = sum(int(call["durationSeconds"]) for call in answered)
    return {
        "totalJobs": len(jobs),
        "jobs": {status: statuses[status] for status in _STATUSES},
        "successRate": round(statuses["completed"] / finished, 4) if finished else None,
        "calls": {"total": len(calls), **{outcome: outcomes[outcome] for outcome in OUTCOMES}},
        "answerRate": round(len(answered) / len(calls), 4) if calls else None,
        "talkTimeSeconds": talk,
        "averageCallSeconds": round(talk / len(answered), 1) if answered else None,
    }


def summary(workflow: Mapping[str, Any], jobs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts of jobs by status and of calls by outcome, with rates."""
    started = [job["startedAt"] for job in jobs if job.get("startedAt")]
    upcoming = sorted(job["scheduledDate"] for job in jobs if job["status"] == "scheduled")
    return {
        "workflowId": workflow["id"],
        "title": workflow.get("title"),
        **_figures(jobs),
        "lastRunAt": max(started) if started else None,
        "nextScheduledAt": upcoming[0] if upcoming else None,
    }


def _moment(job: Mapping[str, Any]) -> str:
    return str(job.get("startedAt") or job.get("scheduledDate") or job["createdAt"])


def timeline(jobs: Sequence[Mapping[str, Any]], interval: str) -> list[dict[str, Any]]:
    """Per period (``minute``/``hour``/``day``/``month``): jobs by status and calls."""
    width = INTERVALS[interval]
    periods: dict[str, list[Mapping[str, Any]]] = {}
    for job in jobs:
        periods.setdefault(_moment(job)[:width], []).append(job)
    rows = []
    for period in sorted(periods):
        figures = _figures(periods[period])
        rows.append(
            {
                "period": period,
                "jobs": figures["totalJobs"],
                **{status: count for status, count in figures["jobs"].items() if count},
                "calls": figures["calls"]["total"],
                "answered": figures["calls"]["answered"],
            }
        )
    return rows


def report(
    workflow: Mapping[str, Any], jobs: Sequence[Mapping[str, Any]], generated_at: str
) -> dict[str, Any]:
    """The summary plus every job with its calls: the document a team files away."""
    return {
        "generatedAt": generated_at,
        "workflow": dict(workflow),
        "summary": summary(workflow, jobs),
        "jobs": [
            {
                key: job.get(key)
                for key in (
                    "jobId",
                    "type",
                    "status",
                    "scheduledDate",
                    "startedAt",
                    "finishedAt",
                    "error",
                )
            }
            | {"calls": (job.get("result") or {}).get("calls", [])}
            for job in jobs
        ],
    }


def report_csv(jobs: Sequence[Mapping[str, Any]]) -> str:
    """One line per call (and per job without calls), for a spreadsheet."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "jobId",
            "status",
            "startedAt",
            "finishedAt",
            "callId",
            "to",
            "outcome",
            "durationSeconds",
            "endedBy",
        ]
    )
    for job in jobs:
        head = [
            job["jobId"],
            job["status"],
            job.get("startedAt") or "",
            job.get("finishedAt") or "",
        ]
        calls = (job.get("result") or {}).get("calls") or [{}]
        for call in calls:
            fields = ("callId", "to", "outcome", "durationSeconds", "endedBy")
            writer.writerow(head + ["" if call.get(key) is None else call[key] for key in fields])
    return buffer.getvalue()
