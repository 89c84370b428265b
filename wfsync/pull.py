"""Adopting an account: the live workflows (and their pending schedules) as definition
files, one per workflow, that ``wfsync plan`` then finds in sync.

File names are the titles made safe: lower case, letters and digits kept (any script),
everything else a single dash; two titles that make the same name get -2, -3….
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from wfsync.schema import utc_instant
from wfsync.shapes import Job, LiveWorkflow

__all__ = ["definition_files", "file_name"]

HEADER = (
    "# Pulled from the live account by `wfsync pull`. Review before committing: URLs may hold\n"
    "# secrets; move them to ${ENV} references.\n"
)
MAX_NAME = 60


def file_name(title: str) -> str:
    """A readable, safe file stem for a title (``"Lead follow-up / EU"`` -> ``lead-follow-up-eu``)."""
    text = unicodedata.normalize("NFKC", title).casefold()
    stem = re.sub(r"[^\w]+|_+", "-", text).strip("-")[:MAX_NAME].strip("-")
    return stem or "workflow"


def _escaped(value: Any) -> Any:
    """``value`` with every ``${`` written ``$${``, so that reading it back is not a reference."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def _entry(workflow: LiveWorkflow, jobs: Sequence[Job]) -> dict[str, Any]:
    # The body is already the managed fields, in the schema's order (wfsync.body.project).
    entry: dict[str, Any] = {name: _escaped(value) for name, value in workflow.body.items()}
    pending = sorted((job.at, job.timezone or "GMT") for job in jobs if job.status == "scheduled" and job.at)
    if pending:
        entry["schedules"] = [{"scheduledDate": utc_instant(at), "timezone": zone} for at, zone in pending]
    return entry


def definition_files(
    workflows: Sequence[LiveWorkflow], jobs: Mapping[str, Sequence[Job]], schema_line: str | None = None
) -> dict[str, str]:
    """{file name: YAML text} for every workflow, in listing order."""
    files: dict[str, str] = {}
    taken: set[str] = set()
    for workflow in workflows:
        stem = file_name(workflow.title)
        name, number = f"{stem}.yaml", 1
        while name.casefold() in taken:
            number += 1
            name = f"{stem}-{number}.yaml"
        taken.add(name.casefold())
        document = {"workflows": [_entry(workflow, jobs.get(workflow.id, ()))]}
        text = yaml.safe_dump(
            document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
        )
        files[name] = (f"{schema_line}\n" if schema_line else "") + HEADER + text
    return files
