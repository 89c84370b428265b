"""The planner, in-process: matching, diffs, schedules, ownership and safety."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from wfsync.body import project as project_body
from wfsync.changes import Cancel, Create, Delete, Key, ScheduleRun, Update
from wfsync.config import Safety
from wfsync.definitions import Definition, Schedule
from wfsync.errors import PlanError, UnsafePlan
from wfsync.plan import Selection, check_safety, compute_plan
from wfsync.shapes import Job, LiveWorkflow
from wfsync.yamlsource import Location

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BODY = {
    "title": "Lead follow-up",
    "callbackUrl": "https://crm.example.com/hooks",
    "webhook": {"url": "https://crm.example.com/hooks/lead"},
    "endCall": {"phrases": ["goodbye", "end call"]},
}


def define(
    title: str = "Lead follow-up",
    schedules: list[str] | None = None,
    former: tuple[str, ...] = (),
    secrets: dict[Any, str] | None = None,
    **fields: Any,
) -> Definition:
    body = {**BODY, "title": title, **fields}
    body = {k: v for k, v in body.items() if v is not None}
    plan_schedules = None
    if schedules is not None:
        plan_schedules = tuple(
            Schedule(datetime.fromisoformat(s), "GMT", Location("w.yaml", 10 + n, 9))
            for n, s in enumerate(schedules)
        )
    return Definition(title, body, Location("w.yaml", 2, 12), plan_schedules, former, secrets or {})


def live(title: str = "Lead follow-up", workflow_id: str = "id-1", **fields: Any) -> LiveWorkflow:
    raw = {"_id": workflow_id, **BODY, "title": title, "createdAt": "2026-01-01", "__v": 3, **fields}
    return LiveWorkflow(workflow_id, title, project_body(raw))


def scheduled(at: str, status: str = "scheduled", job_id: str | None = None) -> Job:
    moment = datetime.fromisoformat(at)
    return Job(job_id or f"job-{at}", status, "id-1", at, moment)


def plan_of(
    definitions: list[Definition],
    workflows: list[LiveWorkflow],
    jobs: dict[str, list[Job]] | None = None,
    **options: Any,
) -> Any:
    return compute_plan(definitions, workflows, jobs or {}, now=NOW, **options)


class TestDiff:
    def test_equal_is_no_change_whatever_the_server_adds(self) -> None:
        workflow = live(
            organizationId="o",
            status="active",
            updatedAt="x",
            webhook={"url": BODY["webhook"]["url"], "secret": "s"},
        )
        plan = plan_of([define()], [workflow])
        assert plan.empty and plan.changes == ()

    def test_phrases_compare_as_a_set(self) -> None:
        workflow = live(endCall={"phrases": ["end call", "goodbye", "goodbye"]})
        assert plan_of([define()], [workflow]).empty

    def test_null_is_absent(self) -> None:
        assert plan_of([define(callbackUrl=None)], [live(callbackUrl=None)]).empty

    def test_field_level_diffs_and_the_patch(self) -> None:
        workflow = live(callbackUrl="https://old.example.com", endCall={"phrases": ["bye"]})
        (change,) = plan_of([define()], [workflow]).changes
        assert isinstance(change, Update) and change.workflow_id == "id-1"
        assert [(d.path, d.old, d.new) for d in change.diffs] == [
            ("callbackUrl", "https://old.example.com", BODY["callbackUrl"]),
            ("endCall.phrases", ["bye"], BODY["endCall"]["phrases"]),
        ]
        assert change.patch == {"callbackUrl": BODY["callbackUrl"], "endCall": BODY["endCall"]}

    def test_a_field_left_out_is_removed(self) -> None:
        (change,) = plan_of([define(callbackUrl=None)], [live()]).changes
        assert isinstance(change, Update) and change.patch == {"callbackUrl": None}
        assert change.data["diffs"] == [
            {"path": "callbackUrl", "old": BODY["callbackUrl"], "new": None, "sensitive": False}
        ]

    def test_a_new_workflow_is_created(self) -> None:
        plan = plan_of([define("New one")], [])
        (change,) = plan.changes
        assert isinstance(change, Create) and change.body["title"] == "New one"
        assert change.key == Key("create", None, "New one") and change.live is None


class TestMatching:
    def test_a_rename_is_a_patch_of_the_same_id(self) -> None:
        (change,) = plan_of([define("Leads", former=("Lead follow-up",))], [live()]).changes
        assert isinstance(change, Update) and change.workflow_id == "id-1"
        assert change.former_title == "Lead follow-up"
        assert [(d.path, d.old, d.new) for d in change.diffs] == [("title", "Lead follow-up", "Leads")]

    def test_the_title_wins_over_a_former_title(self) -> None:
        plan = plan_of([define("Leads", former=("Lead follow-up",))], [live(), live("Leads", "id-2")])
        assert plan.empty and [r.id for r in plan.unmanaged] == ["id-1"]

    def test_two_live_workflows_with_one_title_are_an_error(self) -> None:
        with pytest.raises(PlanError) as caught:
            plan_of([define()], [live(workflow_id="a"), live(workflow_id="b")])
        assert str(caught.value) == (
            "w.yaml:2:12: 2 live workflows are titled 'Lead follow-up' (ids a, b); "
            "wfsync never picks one: delete the extra with `wfsync delete --id ID` "
            "(it shows what it deletes and asks), or rename it"
        )

    def test_former_titles_matching_two_workflows_are_an_error(self) -> None:
        with pytest.raises(PlanError, match="the former titles of 'Leads' match 2 live workflows"):
            plan_of([define("Leads", former=("A", "B"))], [live("A", "a"), live("B", "b")])

    def test_duplicates_nobody_claims_are_just_unmanaged(self) -> None:
        plan = plan_of([], [live("Dup", "a"), live("Dup", "b")])
        assert plan.empty and [r.id for r in plan.unmanaged] == ["a", "b"]


class TestOwnership:
    WORKFLOWS: ClassVar = [
        live("Billing EU", "b1"),
        live("Emergency hotline", "e1"),
        live("Old campaign", "o1"),
    ]

    def test_unmanaged_are_left_alone(self) -> None:
        plan = plan_of([], self.WORKFLOWS, protect=["Billing *"])
        assert plan.empty and len(plan.unmanaged) == 3 and plan.protected == ()

    def test_prune_deletes_all_but_protected(self) -> None:
        plan = plan_of([], self.WORKFLOWS, prune=True, protect=["Billing *", "Emergency hotline"])
        assert [(type(c), c.workflow_id) for c in plan.changes] == [(Delete, "o1")]
        assert [r.title for r in plan.protected] == ["Billing EU", "Emergency hotline"]
        assert plan.changes[0].key == Key("delete", "o1") and plan.changes[0].live

    def test_protect_globs_match_case_sensitively(self) -> None:
        plan = plan_of([], [live("billing eu", "b1")], prune=True, protect=["Billing *"])
        assert [c.action for c in plan.changes] == ["delete"]


class TestSchedules:
    def test_missing_schedules_are_scheduled(self) -> None:
        definition = define(schedules=["2027-07-01T09:00:00+00:00", "2027-08-01T09:00:00+00:00"])
        plan = plan_of([definition], [live()], {"id-1": [scheduled("2027-07-01T09:00:00+00:00")]})
        assert [(c.action, getattr(c, "instant", None)) for c in plan.changes] == [
            ("schedule", "2027-08-01T09:00:00.000Z")
        ]

    def test_the_same_instant_in_another_zone_is_no_change(self) -> None:
        definition = define(schedules=["2027-07-01T10:00:00+01:00"])
        assert plan_of([definition], [live()], {"id-1": [scheduled("2027-07-01T09:00:00+00:00")]}).empty

    def test_removing_one_of_several_cancels_and_reschedules_the_others(self) -> None:
        definition = define(schedules=["2027-07-01T09:00:00+00:00"])
        jobs = {
            "id-1": [
                scheduled("2027-07-01T09:00:00+00:00"),
                scheduled("2027-08-01T09:00:00+00:00"),
                scheduled("2026-01-01T00:00:00+00:00", status="completed"),
            ]
        }
        plan = plan_of([definition], [live()], jobs)
        cancel, again = plan.changes
        assert isinstance(cancel, Cancel) and isinstance(again, ScheduleRun)
        assert cancel.pending == ("2027-07-01T09:00:00.000Z", "2027-08-01T09:00:00.000Z")
        assert cancel.reason == "2027-08-01T09:00:00.000Z no longer defined; the others are scheduled again"
        assert again.instant == "2027-07-01T09:00:00.000Z"

    def test_an_empty_list_cancels_everything_pending(self) -> None:
        plan = plan_of([define(schedules=[])], [live()], {"id-1": [scheduled("2027-07-01T09:00:00+00:00")]})
        assert [c.action for c in plan.changes] == ["cancel"]

    def test_no_schedules_key_leaves_schedules_alone(self) -> None:
        assert plan_of([define()], [live()], {"id-1": [scheduled("2027-07-01T09:00:00+00:00")]}).empty

    def test_a_schedule_pending_twice_is_cancelled_and_scheduled_once(self) -> None:
        at = "2027-07-01T09:00:00+00:00"
        plan = plan_of(
            [define(schedules=[at])],
            [live()],
            {"id-1": [scheduled(at, job_id="a"), scheduled(at, job_id="b")]},
        )
        assert [c.action for c in plan.changes] == ["cancel", "schedule"]

    def test_a_past_schedule_is_a_warning_not_a_change(self) -> None:
        plan = plan_of([define(schedules=["2020-01-01T00:00:00+00:00"])], [live()])
        assert plan.empty
        assert plan.warnings == (
            "w.yaml:10:9: schedule 2020-01-01T00:00:00.000Z of 'Lead follow-up' is in the past; "
            "it is ignored",
        )

    def test_a_due_run_still_pending_is_not_cancelled(self) -> None:
        at = "2026-11-28T11:59:59+00:00"  # due a second ago; the platform has not started it yet
        plan = plan_of([define(schedules=[at])], [live()], {"id-1": [scheduled(at)]})
        assert plan.empty

    def test_a_new_workflow_gets_its_future_schedules(self) -> None:
        plan = plan_of([define("New", schedules=["2027-07-01T09:00:00+00:00"])], [])
        assert [(c.action, c.workflow_id) for c in plan.changes] == [("create", None), ("schedule", None)]

    def test_cancelling_warns_about_queued_runs(self) -> None:
        jobs = {"id-1": [scheduled("2027-07-01T09:00:00+00:00"), Job("r", "queued")]}
        plan = plan_of([define(schedules=[])], [live()], jobs)
        assert "also stops 1 queued run" in plan.warnings[0]


class TestSafety:
    def plan_touching(self, existing: int, updates: int = 0, deletes: int = 0, creates: int = 0) -> Any:
        workflows = [live(f"w{n:02d}", f"id{n}") for n in range(existing)]
        definitions = [define(f"w{n:02d}", callbackUrl="https://changed.example.com") for n in range(updates)]
        definitions += [define(f"w{n:02d}") for n in range(updates, existing - deletes)]
        definitions += [define(f"new{n}") for n in range(creates)]
        return plan_of(definitions, workflows, prune=True)

    def test_updates_walk_up_to_the_limit(self) -> None:
        check_safety(self.plan_touching(10, updates=3), Safety())
        with pytest.raises(UnsafePlan) as caught:
            check_safety(self.plan_touching(10, updates=4), Safety())
        assert str(caught.value) == (
            "unsafe plan: it would update 4 of 10 live workflows (40%), over the limit of 30% "
            "(safety.max_update_share); force required: run again with --force"
        )

    def test_deletes_walk_up_to_the_limit(self) -> None:
        check_safety(self.plan_touching(10, deletes=3), Safety())
        with pytest.raises(UnsafePlan) as caught:
            check_safety(self.plan_touching(10, deletes=4), Safety())
        assert str(caught.value) == (
            "unsafe plan: it would delete 4 of 10 live workflows (40%), over the limit of 30% "
            "(safety.max_delete_share); force required: run again with --force"
        )

    def test_both_limits_in_one_message(self) -> None:
        with pytest.raises(UnsafePlan, match=r"update 4 of 10 .*; it would delete 4 of 10 .*--force$"):
            check_safety(self.plan_touching(10, updates=4, deletes=4), Safety())

    def test_creates_never_count(self) -> None:
        check_safety(self.plan_touching(10, creates=50), Safety())

    def test_below_min_existing_nothing_is_checked(self) -> None:
        check_safety(self.plan_touching(9, deletes=9), Safety())
        with pytest.raises(UnsafePlan):
            check_safety(self.plan_touching(9, deletes=9), Safety(min_existing=9))

    def test_thresholds_are_settings(self) -> None:
        check_safety(self.plan_touching(10, deletes=5), Safety(max_delete_share=0.5))
        with pytest.raises(UnsafePlan):
            check_safety(self.plan_touching(10, deletes=1), Safety(max_delete_share=0.0))


class TestData:
    def test_the_json_plan_never_holds_a_secret_value(self) -> None:
        secret_url = "https://hooks.example.com/t0k3n-s3cr3t"
        secrets = {("webhook", "url"): "https://hooks.example.com/${HOOK_TOKEN}"}
        definitions = [
            define("New", webhook={"url": secret_url}, secrets=secrets),
            define(webhook={"url": secret_url}, secrets=secrets),
        ]
        plan = plan_of(definitions, [live()])
        text = json.dumps(plan.data)
        assert "t0k3n-s3cr3t" not in text
        create = plan.data["changes"][1]
        assert (
            create["action"] == "create" and create["body"]["webhook"]["url"] == secrets[("webhook", "url")]
        )
        update = plan.data["changes"][0]
        assert update["diffs"] == [
            {
                "path": "webhook.url",
                "old": "(sensitive)",
                "new": secrets[("webhook", "url")],
                "sensitive": True,
            }
        ], "the new value is shown as its template, the old one not at all"
        assert update["patch"]["webhook"]["url"] == secrets[("webhook", "url")]

    def test_the_shape_and_order_are_stable(self) -> None:
        plan = plan_of(
            [
                define("b"),
                define("A", callbackUrl=None),
                define("c", schedules=["2027-01-01T00:00:00+00:00"]),
            ],
            [live("A", "a1"), live("zombie", "z1")],
            prune=True,
        )
        data = plan.data
        assert data["format_version"] == 1
        assert [(c["action"], c["title"]) for c in data["changes"]] == [
            ("update", "A"),
            ("create", "b"),
            ("create", "c"),
            ("schedule", "c"),
            ("delete", "zombie"),
        ]
        assert data["counts"] == {"create": 2, "update": 1, "cancel": 0, "schedule": 1, "delete": 1}
        assert json.loads(json.dumps(data)) == data


class TestKeys:
    def test_a_schedule_of_a_new_workflow_waits_for_its_create(self) -> None:
        plan = plan_of([define("New one", schedules=["2027-07-01T09:00:00+00:00"])], [])
        create, run = plan.changes
        assert isinstance(run, ScheduleRun) and run.after == (create.key,)
        assert run.key == Key("schedule", None, "New one", "2027-07-01T09:00:00.000Z")

    def test_schedules_made_again_wait_for_the_cancel_of_the_same_workflow(self) -> None:
        definition = define(schedules=["2027-07-01T09:00:00+00:00"])
        jobs = {"id-1": [scheduled("2027-08-01T09:00:00+00:00")]}
        cancel, run = plan_of([definition], [live()], jobs).changes
        assert isinstance(cancel, Cancel) and run.after == (Key("cancel", "id-1"),)

    def test_a_title_with_a_hash_is_keyed_by_its_id(self) -> None:
        plan = plan_of([], [live("Billing #2", "x#1")], prune=True)
        assert plan.changes[0].key == Key("delete", "x#1") and plan.changes[0].title == "Billing #2"

    def test_a_change_of_the_webhook_url_alone_is_planned(self) -> None:
        (change,) = plan_of([define()], [live(webhook={"url": "https://crm.example.com/old"})]).changes
        assert isinstance(change, Update) and change.patch == {"webhook": BODY["webhook"]}
        assert [(d.path, d.old) for d in change.diffs] == [("webhook.url", "https://crm.example.com/old")]

    def test_a_schedule_exactly_now_is_a_warning_not_a_change(self) -> None:
        plan = plan_of([define(schedules=[NOW.isoformat()])], [live()], {"id-1": []})
        assert plan.empty and plan.warnings == (
            "w.yaml:10:9: schedule 2026-11-28T12:00:00.000Z of 'Lead follow-up' is in the past; "
            "it is ignored",
        )


class TestSelection:
    WORKFLOWS: ClassVar = [live("Acme leads", "a1"), live("Billing", "b1"), live("Other", "o1")]

    def test_only_and_exclude_limit_every_change_prune_included(self) -> None:
        definitions = [define("Acme leads", callbackUrl="https://new.example.com"), define("Acme new")]
        selection = Selection(only=("Acme *", "Other"), exclude=("Acme new",))
        plan = plan_of(definitions, self.WORKFLOWS, prune=True, selection=selection)
        assert [(c.action, c.title) for c in plan.changes] == [("update", "Acme leads"), ("delete", "Other")]

    def test_a_definition_outside_the_selection_still_claims_its_workflow(self) -> None:
        plan = plan_of(
            [define("Billing")], self.WORKFLOWS, prune=True, selection=Selection(exclude=("Billing",))
        )
        assert {c.title for c in plan.changes} == {"Acme leads", "Other"}

    def test_an_environment_narrows_what_the_command_selects(self) -> None:
        selection = Selection(only=("*",), within=("Acme *",))
        plan = plan_of([], self.WORKFLOWS, prune=True, selection=selection)
        assert [c.title for c in plan.changes] == ["Acme leads"]
        assert plan.data["selection"] == {"only": ["*"], "exclude": [], "within": ["Acme *"]}


class TestMemory:
    def test_the_listing_is_handed_the_definitions_bodies_to_share(self) -> None:
        """plan_against lets the listing hold a live body equal to its definition's once."""
        import asyncio

        from wfsync.sync import Account, Options, plan_against

        definitions = [define("A"), define("B")]
        asked: list[Any] = []

        class Listing:
            async def list_workflows(self, known: Any = None) -> list[LiveWorkflow]:
                asked.append(known)
                return [live("A")]

            async def list_jobs(self, workflow_id: str) -> list[Job]:
                return []

        plan = asyncio.run(
            plan_against(Listing(), definitions, Options(), Account("https://api.test"), now=NOW)
        )  # type: ignore[arg-type]
        assert asked == [{"A": definitions[0].body, "B": definitions[1].body}]
        assert [c.action for c in plan.changes] == ["create"]


def test_a_create_whose_title_differs_only_in_case_is_warned_of() -> None:
    """A server may keep titles unique ignoring case (SPEC §1): the create is refused (409)
    halfway through an apply. Said at plan time, where a review still can act on it."""
    renamed = plan_of([define("lead follow-up")], [live("Lead follow-up")])
    assert [type(change).__name__ for change in renamed.changes] == ["Create"]
    assert renamed.warnings == (
        "'lead follow-up' differs only in case from 'Lead follow-up': a server that keeps titles "
        "unique ignoring case refuses its create (409); to rename a live workflow, list its old "
        "title in lifecycle.formerTitles",
    )
    both_new = plan_of([define("Billing"), define("BILLING")], [])
    assert len(both_new.warnings) == 2
    assert "'BILLING' differs only in case from 'Billing'" in both_new.warnings[0]
    # Nothing to say: distinct titles, or a case rename written as one.
    assert plan_of([define("Billing"), define("Billing 2")], []).warnings == ()
    case_rename = define("lead follow-up", former=("Lead follow-up",))
    assert plan_of([case_rename], [live("Lead follow-up")]).warnings == ()
