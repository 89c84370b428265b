"""``wfsync doctor --write``: a temporary workflow taken through every write, then removed.

It is created with a distinctive title (``wfsync doctor probe <time> <random>``), created
again with the same title (are titles unique?), read back (does the server fill in
defaults?), PATCHed, given a run a year ahead that is then cancelled, and deleted. Whatever
a refusal or a lost answer leaves behind is deleted at the end, found by its id or its
title; what cannot be is named in the report. Each answer's form becomes a finding.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from wfsync import shapes
from wfsync.api import path_segment
from wfsync.doctor import WRITE_FORMS, answer_id, id_key, jobs_of, no_answer, one_of, write_form
from wfsync.errors import WfsyncError

if TYPE_CHECKING:
    from wfsync.doctor_probe import Probe

__all__ = ["PROBE_TITLE", "write_phase"]

PROBE_TITLE = "wfsync doctor probe"


async def write_phase(probe: Probe) -> None:
    """Take a temporary workflow through every write; whatever it leaves is deleted after."""
    title = (
        f"{PROBE_TITLE} {datetime.fromtimestamp(probe.clock(), UTC):%Y%m%dT%H%M%SZ} {secrets.token_hex(3)}"
    )
    created: list[str] = []
    try:
        await _steps(probe, title, created)
    finally:
        await _clean_up(probe, title, created)


async def _steps(probe: Probe, title: str, created: list[str]) -> None:
    body = {
        "title": title,
        "callbackUrl": "https://wfsync-doctor.invalid/callback",
        "endCall": {"phrases": [PROBE_TITLE]},
    }
    exchange, error = await probe.ask("create", "POST", "/v1/workflows", body=body)
    whole = False
    if exchange is not None and exchange.status == 400:
        # The webhook is left out to see whether the server fills in a default; a server
        # that requires it says 400, and the create is made whole instead.
        probe.add("create", f"without a webhook: refused: {error}", "doctor sends one", "note")
        body["webhook"] = {"url": "https://wfsync-doctor.invalid/webhook"}
        exchange, error = await probe.ask("create-whole", "POST", "/v1/workflows", body=body)
        whole = True
    if exchange is None or exchange.status >= 300:
        if exchange is not None and exchange.status == 403:
            probe.add(
                "write scope",
                "the key lacks workflows:write (403)",
                "plan and pull work; apply, run and cancel need a key with workflows:write",
                "problem",
            )
        elif exchange is None:
            action = "it may have been made: wfsync looks before creating again, as the clean-up does"
            probe.add("create", no_answer(error), action, "problem")
        else:
            probe.add("create", f"refused: {error}", "apply's creates would fail", "problem")
        return
    probe.add(
        "write scope", f"the key has workflows:write (a create answered {exchange.status})", "apply works"
    )
    workflow_id = answer_id(exchange.body)
    if workflow_id is None:
        probe.recorder.step = "list-created"
        found = [w for w in await probe.api.list_workflows() if w.title == title]
        workflow_id = found[0].id if found else None
        probe.add("create", "the answer carries no id", "wfsync finds the new workflow by listing", "note")
    else:
        probe.add(
            "create", f"answered {exchange.status} with the workflow's id", "wfsync takes the id from it"
        )
        key = id_key(shapes.unwrap(exchange.body))
        if key and "id" not in probe.dialect:
            probe.add("ids", f"under {key!r}", "wfsync reads id or _id alike")
            probe.setting("id", key)
    if workflow_id is None:
        probe.add("create", "the new workflow is not in the listing", "wfsync cannot manage it", "problem")
        return
    created.append(workflow_id)
    path = f"/v1/workflows/{path_segment(workflow_id)}"
    got, _ = await probe.ask("get", "GET", path)
    stored = one_of(got)
    filled = {k: stored[k] for k in ("webhook",) if k in stored and stored[k] in ("", {}, [], None)}
    if whole:
        probe.add("defaults", "not checked: the server requires every field", "nothing to ignore", "note")
    elif filled:
        probe.add(
            "defaults",
            f"the server fills in fields a body leaves out ({_fields(filled)})",
            "empty values equal absent: no difference shown",
        )
        probe.dialect["defaults"] = "yes"
    else:
        probe.add("defaults", "a field left out stays absent", "nothing to ignore")
        probe.dialect["defaults"] = "no"
    await _same_title(probe, body, created)
    await _patch(probe, path)
    await _schedule(probe, workflow_id)
    deleted, error = await probe.ask("delete", "DELETE", path)
    if deleted is None or deleted.status >= 300:
        probe.add("DELETE", f"refused: {error}", "apply's deletes would fail", "problem")
        return
    created.remove(workflow_id)
    probe.add(
        "DELETE",
        f"answered {deleted.status}, {WRITE_FORMS[write_form(deleted.status, deleted.body)]}",
        "wfsync relies on the status code",
    )
    gone, _ = await probe.ask("get-deleted", "GET", path)
    if gone is not None and gone.status != 404:
        probe.add(
            "DELETE",
            f"the deleted workflow still answers {gone.status}",
            "wfsync would see it again in the listing",
            "problem",
        )


async def _same_title(probe: Probe, body: Mapping[str, Any], created: list[str]) -> None:
    exchange, error = await probe.ask("create-same-title", "POST", "/v1/workflows", body=dict(body))
    if exchange is None:
        probe.add("titles", no_answer(error), level="note")
    elif exchange.status == 409:
        probe.add(
            "titles",
            "unique: a second create with a title in use is refused (409)",
            "wfsync reports the refusal with the server's reason",
        )
        probe.dialect["titles"] = "unique"
    elif exchange.status < 300:
        twin = answer_id(exchange.body)
        if twin:
            created.append(twin)
            deleted, _ = await probe.ask("delete-same-title", "DELETE", f"/v1/workflows/{path_segment(twin)}")
            if deleted is not None and deleted.status < 300:
                created.remove(twin)
        probe.add(
            "titles",
            "not unique: two workflows may share a title",
            "wfsync refuses to plan against duplicates and names them",
        )
        probe.dialect["titles"] = "free"
    else:
        probe.add(
            "titles",
            f"a second create with the same title answered {exchange.status}: {error}",
            level="note",
        )


async def _patch(probe: Probe, path: str) -> None:
    phrases = [PROBE_TITLE, "patched"]
    exchange, error = await probe.ask("patch", "PATCH", path, body={"endCall": {"phrases": phrases}})
    if exchange is None or exchange.status >= 300:
        probe.add("PATCH", f"refused: {error}", "apply's updates would fail", "problem")
        return
    form = write_form(exchange.status, exchange.body)
    probe.add("PATCH", f"answered {exchange.status}, {WRITE_FORMS[form]}", "wfsync relies on the status code")
    probe.setting("writes", form)
    got, _ = await probe.ask("get-patched", "GET", path)
    if one_of(got).get("endCall") != {"phrases": phrases}:
        probe.add(
            "PATCH",
            "the change is not in the workflow read back",
            "wfsync's verification would report it",
            "problem",
        )


async def _schedule(probe: Probe, workflow_id: str) -> None:
    day = datetime.fromtimestamp(probe.clock(), UTC) + timedelta(days=365)
    at = day.replace(hour=9, minute=0, second=0, microsecond=0)
    when = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    body = {"workFlowId": workflow_id, "scheduledDate": when, "timezone": "GMT"}
    exchange, error = await probe.ask("schedule", "POST", "/v1/workflows/schedule", body=body)
    if exchange is None or exchange.status >= 300:
        probe.add("schedule", f"refused: {error}", "apply's schedules would fail", "problem")
        return
    job_id = answer_id(exchange.body, ("jobId", "id", "_id"))
    carries = "with a job id" if job_id else "without a job id"
    form = WRITE_FORMS[write_form(exchange.status, exchange.body)]
    if form == WRITE_FORMS["bare"] and isinstance(exchange.body, Mapping):  # not a workflow: say what
        form = "an object of " + ", ".join(map(str, exchange.body))
    probe.add(
        "schedule",
        f"answered {exchange.status} {carries}, {form}",
        "wfsync relies on the status code and reads jobs for the rest",
    )
    jobs = await probe.jobs(workflow_id, "jobs-scheduled") or []
    if jobs and "jobs" not in probe.dialect:  # no job was seen before this one
        probe.job_findings(jobs)
    pending = [j for j in jobs_of(jobs) if j.status == "scheduled"]
    if not any(j.at is not None and j.at == at for j in pending):
        probe.add(
            "schedule",
            "the run is not among the workflow's jobs as scheduled",
            "wfsync would schedule it again on every apply",
            "problem",
        )
    if job_id:
        await probe.ask("job", "GET", f"/v1/workflows/jobs/{path_segment(job_id)}")
    cancelled, error = await probe.ask("cancel", "POST", f"/v1/workflows/{path_segment(workflow_id)}/cancel")
    if cancelled is None or cancelled.status >= 300:
        probe.add("cancel", f"refused: {error}", "apply's cancels would fail", "problem")
        return
    probe.add(
        "cancel",
        f"answered {cancelled.status}, {WRITE_FORMS[write_form(cancelled.status, cancelled.body)]}",
        "wfsync relies on the status code",
    )
    after = await probe.jobs(workflow_id, "jobs-cancelled") or []
    if any(j.status == "scheduled" for j in jobs_of(after)):
        probe.add(
            "cancel",
            "the run is still scheduled after the cancel",
            "wfsync's cancels would not take",
            "problem",
        )


async def _clean_up(probe: Probe, title: str, created: list[str]) -> None:
    """Delete whatever the probe made and did not delete (also a create whose answer was lost)."""
    try:
        probe.recorder.step = "list-left"
        left = [w.id for w in await probe.api.list_workflows() if w.title == title]
    except WfsyncError:
        left = []
    for workflow_id in dict.fromkeys([*created, *left]):
        exchange, error = await probe.ask("clean-up", "DELETE", f"/v1/workflows/{path_segment(workflow_id)}")
        if exchange is None or (exchange.status >= 300 and exchange.status != 404):
            probe.add(
                "clean-up",
                f"could not delete {title!r} ({workflow_id}): {error}",
                "delete it by hand: wfsync delete --id ID",
                "problem",
            )


def _fields(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}: {json.dumps(v)}" for k, v in values.items())
