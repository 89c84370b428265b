"""Saved plans read back: damaged files are refused clearly; staleness is found exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wfsync.api import LiveWorkflow
from wfsync.errors import ConfigError
from wfsync.plan import Create, Fingerprint, Plan, fingerprint
from wfsync.render import render_json
from wfsync.saved import load_plan, stale_workflows


def save(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a wfsync plan (invalid JSON"),
        ({"format_version": 2, "changes": []}, "not a wfsync plan of format_version 1"),
        ([1, 2], "not a wfsync plan of format_version 1"),
        ({"format_version": 1}, "a damaged wfsync plan (KeyError"),
        ({"format_version": 1, "changes": [{"action": "explode", "title": "x"}]}, "unknown action 'explode'"),
    ],
)
def test_damaged_plans_are_refused(tmp_path: Path, content: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_plan(save(tmp_path, content))


def test_a_missing_plan(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the plan: No such file or directory"):
        load_plan(tmp_path / "nope.json")


def test_a_round_trip_keeps_every_change(tmp_path: Path) -> None:
    plan = Plan(
        (
            Create(
                "A",
                None,
                {"title": "A", "webhook": {"url": "https://h.example.com/s3cr3t"}},
                {("webhook", "url"): "https://h.example.com/${TOKEN}"},
            ),
        ),
        fingerprints={"A": Fingerprint(None, "absent")},
        live_count=3,
        api_url="https://api.example",
    )
    path = save(tmp_path, render_json(plan))
    loaded = load_plan(path, env={"TOKEN": "s3cr3t"})
    assert loaded.changes[0].body == plan.changes[0].body  # type: ignore[attr-defined]
    assert loaded.fingerprints == plan.fingerprints and loaded.api_url == plan.api_url


def test_stale_workflows_names_each_kind_of_change() -> None:
    kept = LiveWorkflow("k", "Kept", {"title": "Kept"})
    plan = Plan(
        (),
        fingerprints={
            "Kept": fingerprint(kept.body, kept.id),
            "Gone": Fingerprint("g", "x"),
            "New": Fingerprint(None, "absent"),
            "Old#o": Fingerprint("o", "y"),
        },
    )
    live = [kept, LiveWorkflow("n", "New", {"title": "New"}), LiveWorkflow("o", "Old", {"title": "Old"})]
    assert stale_workflows(plan, live, {}) == [
        "'Gone' (g) no longer exists",
        "'New' now exists (the plan would create it)",
        "'Old' (o) changed",
    ]
