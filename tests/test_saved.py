"""Saved plans: read back exactly, refused clearly when damaged, and compared change for
change with a plan made now (a record of what was reviewed, never a program)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from wfsync.body import FieldDiff
from wfsync.changes import Cancel, Create, Delete, Key, PlanFileError, ScheduleRun, Update
from wfsync.errors import ConfigError
from wfsync.plan import LiveRef, Plan, Selection
from wfsync.saved import StalePlan, check_saved, differences, plan_data, read_plans

SECRET = "s3cr3t-9f1c2e"


def save(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


EVERY_KIND = Plan(
    (
        Create(
            "A",
            None,
            {"title": "A", "webhook": {"url": f"https://h.example.com/{SECRET}"}},
            {("webhook", "url"): "https://h.example.com/${TOKEN}"},
        ),
        ScheduleRun(
            "A",
            None,
            "2027-07-01T08:00:00.000Z",
            "GMT_plus_2",
            "Europe/Berlin",
            after=(Key("create", None, "A"),),
        ),
        Update(
            "B",
            "b1",
            {"webhook": {"url": f"https://h.example.com/{SECRET}"}},
            (FieldDiff("webhook.url", "https://h.example.com/old", "https://h.example.com/${TOKEN}", True),),
            "B old",
            {("webhook", "url"): "https://h.example.com/${TOKEN}"},
            live="d1",
        ),
        Cancel("C", "c1", ("2027-01-01T00:00:00.000Z",), "no longer defined", live="d2"),
        ScheduleRun("C", "c1", "2027-02-01T00:00:00.000Z", after=(Key("cancel", "c1"),), live="d2"),
        Delete("Billing #2", "x#1", live="d3"),
    ),
    unmanaged=(LiveRef("u1", "By hand"),),
    warnings=("a warning",),
    live_count=7,
    api_url="https://api.example",
    prune=True,
    selection=Selection(("*",), ("Z*",)),
)


def test_every_kind_survives_json_to_plan_to_json(tmp_path: Path) -> None:
    text = json.dumps(plan_data([EVERY_KIND]), sort_keys=True)
    (loaded,) = read_plans(save(tmp_path, text))
    assert json.dumps(plan_data([loaded]), sort_keys=True) == text
    assert SECRET not in text and "${TOKEN}" in text
    assert differences(EVERY_KIND, loaded) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a wfsync plan (invalid JSON"),
        ("[" * 100_000 + "]" * 100_000, "not a wfsync plan (nested too deeply)"),
        ({"format_version": 2, "changes": []}, "not a wfsync plan of format_version 1"),
        ([1, 2], "expected an object, not a list"),
        (
            {"format_version": 1, "changes": [{"action": "explode", "title": "x"}]},
            "changes[0].action: unknown",
        ),
        (
            {"format_version": 1, "changes": [{"action": "delete", "title": 3}]},
            "changes[0].title: expected a string",
        ),
        (
            {"format_version": 1, "changes": [{"action": "create", "title": "x"}]},
            "changes[0].body: expected an object",
        ),
        (
            {
                "format_version": 1,
                "changes": [{"action": "create", "title": "x", "body": {}, "sensitive": [["a"]]}],
            },
            "changes[0].sensitive: ['a'] is not in the body",
        ),
    ],
)
def test_damaged_plans_are_refused_naming_the_place(tmp_path: Path, content: object, message: str) -> None:
    with pytest.raises(PlanFileError) as caught:
        read_plans(save(tmp_path, content))
    assert message in str(caught.value) and str(caught.value).startswith(str(tmp_path))


def test_a_missing_plan(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the plan: No such file or directory"):
        read_plans(tmp_path / "nope.json")


def test_the_same_plan_made_now_passes() -> None:
    check_saved(EVERY_KIND, EVERY_KIND)


def edited(**changes: object) -> Plan:
    from dataclasses import replace

    return replace(EVERY_KIND, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("saved_changes", "line"),
    [
        # a delete nobody reviewed was added to the file
        (
            (*EVERY_KIND.changes, Delete("Protected", "p1", live="d9")),
            '"Protected" (p1): the saved plan would delete it, a plan made now would not',
        ),
        # an id swapped for another workflow's
        (
            (*EVERY_KIND.changes[:5], Delete("Billing #2", "other", live="d3")),
            '"Billing #2" (other): the saved plan would delete it, a plan made now would not',
        ),
        # the live state under a change moved (digest differs)
        (
            (*EVERY_KIND.changes[:2], Update("B", "b1", {}, (), live="moved"), *EVERY_KIND.changes[3:]),
            '"B" (b1): its live state changed since the plan was made (update)',
        ),
        # a schedule dropped from the file
        (
            EVERY_KIND.changes[:4] + EVERY_KIND.changes[5:],
            '"C" (c1): a plan made now would also schedule at 2027-02-01T00:00:00.000Z it',
        ),
    ],
)
def test_every_difference_is_named(saved_changes: tuple, line: str) -> None:
    with pytest.raises(StalePlan) as caught:
        check_saved(edited(changes=saved_changes), EVERY_KIND)
    assert line in caught.value.changed


def test_a_create_body_edited_in_the_file_is_refused_and_never_sent() -> None:
    body = {"title": "A", "webhook": {"url": "https://h.example.com/${AWS_SECRET_ACCESS_KEY}"}}
    forged = Create("A", None, body, {("webhook", "url"): body["webhook"]["url"]})
    saved = edited(changes=(forged, *EVERY_KIND.changes[1:]))
    assert differences(saved, EVERY_KIND) == ['"A" (new): the create is not the one reviewed']


def test_a_plan_for_another_api_or_environment_is_refused() -> None:
    assert differences(edited(api_url="https://other.example"), EVERY_KIND) == [
        "the plan is for the account at https://other.example, not the account at https://api.example"
    ]
    assert differences(edited(environment="staging"), EVERY_KIND)[0].startswith("the plan is for staging at")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda data: data.update(format_version=True), "not a wfsync plan of format_version 1"),
        (lambda data: data["counts"].update(create=-1), "counts: does not match the changes (edited?)"),
        (lambda data: data["changes"][0].update(key=5), "changes[0].key: does not match the change"),
    ],
)
def test_what_a_plan_says_twice_must_agree(tmp_path: Path, edit: Any, message: str) -> None:
    data = plan_data([EVERY_KIND])
    edit(data)
    with pytest.raises(PlanFileError, match=re.escape(message)):
        read_plans(save(tmp_path, data))
