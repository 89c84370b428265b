"""The renderers: exact text, markdown and JSON for a small plan; long lists cut short."""

from __future__ import annotations

import json

from wfsync.plan import Cancel, Create, Delete, FieldDiff, LiveRef, Plan, ScheduleRun, Update
from wfsync.render import MARKER, render_json, render_markdown, render_text

PLAN = Plan(
    changes=(
        Create(
            "New",
            None,
            {"title": "New", "webhook": {"url": "https://h.example.com/t0k"}},
            {("webhook", "url"): "https://h.example.com/${T}"},
        ),
        Update(
            "Leads",
            "id-2",
            {"title": "Leads", "callbackUrl": None},
            (
                FieldDiff("title", "Leads old", "Leads"),
                FieldDiff("callbackUrl", "https://a.example.com", None),
            ),
            "Leads old",
        ),
        Cancel("Reminder", "id-3", ("2027-01-01T00:00:00.000Z",), "no longer defined"),
        ScheduleRun("Reminder", "id-3", "2027-02-01T08:00:00.000Z", "GMT_plus_1", "Europe/Berlin"),
        Delete("Old", "id-4"),
    ),
    unmanaged=(LiveRef("id-9", "By hand"),),
    warnings=("w.yaml:3:9: schedule 2020-01-01T00:00:00.000Z of 'Reminder' is in the past; it is ignored",),
    live_count=4,
    api_url="https://api.example",
)


def test_text() -> None:
    assert (
        render_text(PLAN)
        == """\
wfsync will make these changes at https://api.example (4 live workflows):

+ create "New"
    title: "New"
    webhook.url: "https://h.example.com/${T}"
~ update "Leads" (id-2), renamed from "Leads old"
    title: "Leads old" -> "Leads"
    callbackUrl: "https://a.example.com" -> (removed)
x cancel "Reminder" (id-3): 1 pending run: 2027-01-01T00:00:00.000Z (no longer defined)
> schedule "Reminder" (id-3) at 2027-02-01 09:00 Europe/Berlin = 2027-02-01T08:00:00.000Z (GMT_plus_1)
- delete "Old" (id-4)

Unmanaged, left alone (no definition; --prune would delete them): 1
  "By hand" (id-9)

Warnings:
  w.yaml:3:9: schedule 2020-01-01T00:00:00.000Z of 'Reminder' is in the past; it is ignored

Plan: 1 to create, 1 to update, 1 to cancel, 1 to schedule, 1 to delete.
"""
    )


def test_colour_only_when_asked() -> None:
    assert "\x1b[" not in render_text(PLAN)
    coloured = render_text(PLAN, color=True)
    assert "\x1b[32m+ create" in coloured and "\x1b[31m- delete" in coloured


def test_markdown() -> None:
    text = render_markdown(PLAN)
    lines = text.splitlines()
    assert lines[0] == MARKER
    assert lines[1] == "### wfsync plan: 1 to create, 1 to update, 1 to cancel, 1 to schedule, 1 to delete."
    assert "<details><summary>Changes</summary>" in text and "```diff" in text
    assert "t0k" not in text


def test_json_never_holds_the_secret() -> None:
    data = json.loads(render_json(PLAN))
    assert data["counts"] == {"create": 1, "update": 1, "cancel": 1, "schedule": 1, "delete": 1}
    assert "t0k" not in render_json(PLAN)
    assert data["changes"][0]["body"]["webhook"]["url"] == "https://h.example.com/${T}"


def test_long_lists_are_cut_short_in_text_not_in_json() -> None:
    many = Plan((), unmanaged=tuple(LiveRef(f"id{n}", f"w{n:03d}") for n in range(50)))
    text = render_text(many)
    assert "Unmanaged, left alone (no definition; --prune would delete them): 50" in text
    assert '"w019"' in text and '"w020"' not in text and "… and 30 more (--json lists them all)" in text
    assert len(json.loads(render_json(many))["unmanaged"]) == 50


def test_a_phrase_list_change_says_what_was_added_and_removed() -> None:
    plan = Plan(
        (
            Update(
                "A",
                "id",
                {"endCall": {"phrases": ["bye", "ciao"]}},
                (FieldDiff("endCall.phrases", ["bye", "later"], ["bye", "ciao"]),),
            ),
        )
    )
    assert '    endCall.phrases: ["bye", "later"] -> ["bye", "ciao"]  (+"ciao", -"later")' in render_text(
        plan
    )


def test_no_changes() -> None:
    assert render_text(Plan(())) == "No changes: the live workflows match the definitions.\n"


def test_one_live_workflow_is_said_in_the_singular() -> None:
    one = Plan(changes=(Delete("Old", "id-4"),), live_count=1)
    assert render_text(one).startswith("wfsync will make these changes (1 live workflow):")
