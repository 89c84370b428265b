"""Variables, secrets and local times in definitions (SPEC §2, §4)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfsync.config import Environment
from wfsync.definitions import DefinitionError, expand, load_definitions
from wfsync.schedules import Schedule, ScheduleError, local_time, read_schedule

TOKEN = "tok-93f1c-never-shown"  # distinctive: asserted absent from every message
ADD = "add it to vars in wfsync.yaml"


def write(folder: Path, text: str, name: str = "w.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return folder


def problems(paths: list[Path], **kwargs: object) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_definitions(paths, **kwargs)  # type: ignore[arg-type]
    return [str(problem) for problem in caught.value.problems]


HOOKS = """\
workflows:
  - title: Lead follow-up
    callbackUrl: https://${var.HOOK_HOST}/hooks/lead
    webhook:
      url: https://${var.HOOK_HOST}/hooks/${HOOK_TOKEN}?raw=$${x}
"""


def test_variables_are_plain_and_secrets_are_remembered_as_the_text_plans_show(tmp_path: Path) -> None:
    (definition,) = load_definitions(
        [write(tmp_path, HOOKS)], env={"HOOK_TOKEN": TOKEN}, vars={"HOOK_HOST": "staging-hooks.example.com"}
    )
    assert definition.body["callbackUrl"] == "https://staging-hooks.example.com/hooks/lead"
    assert definition.body["webhook"]["url"] == f"https://staging-hooks.example.com/hooks/{TOKEN}?raw=${{x}}"
    # A plan shows the variable's value and the secret's name; the escape survives for saved plans.
    assert definition.secrets == {
        ("webhook", "url"): "https://staging-hooks.example.com/hooks/${HOOK_TOKEN}?raw=$${x}"
    }
    resolved, used, errors = expand(definition.secrets[("webhook", "url")], {"HOOK_TOKEN": TOKEN})
    assert (resolved, used, errors) == (definition.body["webhook"]["url"], True, [])


def test_a_variable_value_is_text_never_a_reference(tmp_path: Path) -> None:
    (definition,) = load_definitions(
        [write(tmp_path, HOOKS)], env={"HOOK_TOKEN": TOKEN}, vars={"HOOK_HOST": "h.example.com/${HOOK_TOKEN}"}
    )
    assert definition.body["callbackUrl"] == "https://h.example.com/${HOOK_TOKEN}/hooks/lead"
    assert definition.secrets[("webhook", "url")].startswith("https://h.example.com/$${HOOK_TOKEN}/hooks/")


def test_an_undefined_variable_is_an_error_at_its_line_naming_the_environment(tmp_path: Path) -> None:
    folder = write(tmp_path, HOOKS)
    assert problems([folder], env={"HOOK_TOKEN": TOKEN}, vars={}, environment="acme") == [
        f"{folder}/w.yaml:3:18: variable HOOK_HOST is not defined for environment 'acme': {ADD}",
        f"{folder}/w.yaml:5:12: variable HOOK_HOST is not defined for environment 'acme': {ADD}",
    ]


def test_an_environment_checks_only_the_workflows_it_manages(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        HOOKS + "  - title: Acme reminder\n    callbackUrl: https://${var.ACME_HOST}/r\n",
    )
    acme = Environment("acme", vars={"ACME_HOST": "acme.example.com"}, only=("Acme *",))
    loaded = load_definitions([folder], env={}, vars=acme.vars, environment="acme", include=acme.manages)
    assert [d.title for d in loaded] == ["Acme reminder"], "HOOK_HOST and HOOK_TOKEN: not acme's workflow"
    everyone = Environment("all", vars={"ACME_HOST": "acme.example.com"})
    assert problems([folder], env={"HOOK_TOKEN": TOKEN}, vars=everyone.vars, environment="all") == [
        f"{folder}/w.yaml:3:18: variable HOOK_HOST is not defined for environment 'all': {ADD}",
        f"{folder}/w.yaml:5:12: variable HOOK_HOST is not defined for environment 'all': {ADD}",
    ]


def test_offline_the_references_are_checked_without_their_values(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        "workflows:\n  - title: a\n    callbackUrl: ${CALLBACK}\n    webhook: {url: 'https://h.example.com/${EMPTY}'}\n",
    )
    (definition,) = load_definitions([folder], env={"EMPTY": ""}, require_env=False)
    assert definition.body["callbackUrl"] == "${CALLBACK}", (
        "left as written; its URL check waits for the value"
    )
    assert set(definition.secrets) == {("callbackUrl",), ("webhook", "url")}
    assert problems([folder], env={"EMPTY": ""}) == [
        f"{folder}/w.yaml:3:18: environment variable CALLBACK is not set",
        f"{folder}/w.yaml:4:20: environment variable EMPTY is empty (a secret that is not set on CI "
        "expands to an empty value)",
    ]
    # Offline, a malformed reference or an undefined variable is still an error.
    write(folder, "workflows:\n  - title: a\n    callbackUrl: https://${var.HOST}/${bad name}\n")
    assert problems([folder], env={}, require_env=False) == [
        f"{folder}/w.yaml:3:18: invalid reference '${{bad name}}': write ${{NAME}} for a secret from the "
        "environment, ${var.NAME} for a variable of wfsync.yaml, $${ for a literal ${",
        f"{folder}/w.yaml:3:18: variable HOST is not defined: add it to vars in wfsync.yaml",
    ]


def test_an_invalid_secret_value_is_named_by_its_reference_never_shown(tmp_path: Path) -> None:
    folder = write(tmp_path, "workflows:\n  - title: a\n    callbackUrl: ${CALLBACK}\n")
    messages = problems([folder], env={"CALLBACK": TOKEN})
    assert messages == [
        f"{folder}/w.yaml:3:18: callbackUrl must be an absolute http(s) URL, not '${{CALLBACK}}' "
        "(its value from the environment is not shown)"
    ]


def test_expand_treats_empty_as_missing() -> None:
    assert expand("a${X}b", {"X": ""})[2] == [
        "environment variable X is empty (a secret that is not set on CI expands to an empty value)"
    ]
    assert expand("${var.A}-$${B}", {}, vars={"A": "1"}) == ("1-${B}", False, [])


@pytest.mark.parametrize(
    ("written", "zone", "instant", "platform", "local"),
    [
        (
            "2027-07-01T09:00",
            "Europe/Berlin",
            "2027-07-01T07:00:00.000Z",
            "GMT_plus_2",
            "2027-07-01 09:00 Europe/Berlin",
        ),
        (
            "2027-01-15T09:00",
            "Europe/Berlin",
            "2027-01-15T08:00:00.000Z",
            "GMT_plus_1",
            "2027-01-15 09:00 Europe/Berlin",
        ),
        (
            "2027-01-15T09:00:00+01:00",
            "Europe/Berlin",
            "2027-01-15T08:00:00.000Z",
            "GMT_plus_1",
            "2027-01-15 09:00 Europe/Berlin",
        ),
        (
            "2027-07-01T09:00:30.123456789",
            "America/New_York",
            "2027-07-01T13:00:30.123Z",
            "GMT_minus_4",
            "2027-07-01 09:00:30 America/New_York",
        ),
        (
            "2027-10-31T02:30+02:00",
            "Europe/Berlin",
            "2027-10-31T00:30:00.000Z",
            "GMT_plus_2",
            "2027-10-31 02:30 Europe/Berlin",
        ),
        (
            "2027-10-31T02:30+01:00",
            "Europe/Berlin",
            "2027-10-31T01:30:00.000Z",
            "GMT_plus_1",
            "2027-10-31 02:30 Europe/Berlin",
        ),
        (
            "2027-07-01T09:00:00.000Z",
            "GMT_plus_1",
            "2027-07-01T09:00:00.000Z",
            "GMT_plus_1",
            "2027-07-01 10:00 GMT_plus_1",
        ),
        ("2027-07-01T09:00:00z", "GMT", "2027-07-01T09:00:00.000Z", "GMT", "2027-07-01 09:00 GMT"),
        ("2027-07-01T09:00", "UTC", "2027-07-01T09:00:00.000Z", "GMT", "2027-07-01 09:00 UTC"),
    ],
)
def test_local_times_become_instants(
    written: str, zone: str, instant: str, platform: str, local: str
) -> None:
    schedule = read_schedule(written, zone)
    assert isinstance(schedule, Schedule), schedule
    assert (schedule.instant, schedule.timezone, schedule.local) == (instant, platform, local)
    assert schedule.zone == (None if zone.startswith("GMT") else zone)
    assert schedule.at.tzinfo is UTC


def test_a_local_time_loaded_from_a_file(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        "workflows:\n  - title: a\n    schedules:\n"
        "      - {scheduledDate: '2027-07-01T09:00', timezone: Europe/Berlin}\n",
    )
    ((schedule,),) = [d.schedules for d in load_definitions([folder], env={})]
    assert schedule.at == datetime(2027, 7, 1, 7, 0, tzinfo=UTC) and schedule.location is not None
    assert local_time(schedule.instant, "Europe/Berlin") == "2027-07-01 09:00 Europe/Berlin"


def test_an_unknown_zone_is_the_timezone_field_s_problem() -> None:
    assert read_schedule("2027-07-01T09:00", "Mars/Olympus") == ScheduleError(
        "timezone",
        "unknown timezone 'Mars/Olympus': use GMT, GMT_plus_N, GMT_minus_N or an IANA zone "
        "such as Europe/Berlin",
    )
    kolkata = read_schedule("2027-07-01T09:00", "Asia/Kolkata")
    assert (
        isinstance(kolkata, ScheduleError) and kolkata.field == "timezone" and "UTC+05:30" in kolkata.message
    )


ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
    "GMT_plus_3",
    "GMT",
]


@given(
    moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    zone=st.sampled_from(ZONES),
    offset=st.sampled_from(["", "Z", "+01:00", "+02:00", "-04:00", "+05:30", "+10:30", "+11:00"]),
)
@settings(max_examples=300, deadline=None)
def test_any_date_time_is_read_or_refused_never_a_crash(moment: datetime, zone: str, offset: str) -> None:
    written = moment.isoformat(timespec="minutes") + offset
    schedule = read_schedule(written, zone)
    if isinstance(schedule, ScheduleError):
        return
    if not offset:  # a local time means that wall-clock time in its zone
        assert schedule.local.endswith(f"{written.replace('T', ' ')[-11:]} {zone}")
    assert schedule.at.tzinfo is UTC


def test_loading_collects_every_secret_reference_of_every_file_read(tmp_path: Path) -> None:
    # validate masks these without reading the files a second time: a file that does not
    # load (a syntax error) gives its names too; ${var.X} and the literal $${ are no secrets.
    (tmp_path / "a.yaml").write_text(
        "workflows:\n  - title: A\n    webhook: {url: 'https://h.example.com/${HOOK_A}/$${LITERAL}/${var.V}'}\n",
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text("workflows: [\n  # ${HOOK_B}\n", encoding="utf-8")
    references: set[str] = set()
    with pytest.raises(DefinitionError):
        load_definitions([tmp_path], env={}, vars={"V": "v"}, require_env=False, references=references)
    assert references == {"HOOK_A", "HOOK_B"}
