"""The shared JSON Schemas: the fast validator agrees with jsonschema, messages read well."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wfsync import schema

VALID_FILE = {
    "workflows": [
        {
            "title": "Lead follow-up",
            "callbackUrl": "https://client.example.com/hooks/workflow",
            "webhook": {"url": "https://client.example.com/hooks/workflow"},
            "endCall": {"phrases": ["goodbye", "end call"]},
            "schedules": [{"scheduledDate": "2027-07-01T09:00:00.000Z", "timezone": "GMT_plus_1"}],
            "lifecycle": {"formerTitles": ["Lead followup"]},
        }
    ]
}
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.sampled_from(
        [
            "",
            "ftp://x",
            "http://",
            "https://a.example.com",
            "2027-07-01",
            "GMT",
            "GMT_plus_15",
            "2027-07-01T09:00:00Z",
            "2027-07-01T09:00:00+01:00",
            "title",
            "x y",
        ]
    ),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def agree(name: str, instance: Any) -> None:
    import jsonschema  # noqa: F401  (the reference implementation)

    slow_valid = not any(True for _ in schema._validator(name).iter_errors(instance))
    assert schema.is_valid(name, instance) == slow_valid, instance


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_the_fast_validator_agrees_with_jsonschema(data: st.DataObject) -> None:
    instance = copy.deepcopy(VALID_FILE)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(instance)))
        if not path:
            continue
        parent = instance
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = data.draw(ODD_VALUES)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["titel", "extra", "url", "phrases"]))] = data.draw(ODD_VALUES)
    agree("definitions", instance)
    if instance.get("workflows") and isinstance(instance["workflows"], list):
        body = instance["workflows"][0]
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in ("schedules", "lifecycle")}
            agree("workflow", body)
            agree("workflow-patch", body)


def test_messages_name_the_field_and_what_to_do() -> None:
    issues = schema.validate("workflow", {"title": "", "colour": "red", "titel": 1, "endCall": {}})
    assert [(issue.dotted, issue.message) for issue in issues] == [
        ("colour", "property colour should not exist"),
        ("endCall.phrases", "endCall.phrases is required"),
        ("titel", "property titel should not exist (did you mean 'title'?)"),
        ("title", "title must not be empty"),
    ]


def test_every_platform_timezone_and_no_other() -> None:
    base = {"workFlowId": "w", "scheduledDate": "2027-07-01T09:00:00Z"}
    good = ["GMT"] + [f"GMT_plus_{n}" for n in range(1, 15)] + [f"GMT_minus_{n}" for n in range(1, 13)]
    assert all(schema.is_valid("schedule", {**base, "timezone": tz}) for tz in good)
    for bad in ["GMT_plus_0", "GMT_plus_15", "GMT_minus_13", "UTC", "gmt", "Europe/Berlin"]:
        assert not schema.is_valid("schedule", {**base, "timezone": bad}), bad


def test_instants_need_a_zone() -> None:
    assert schema.parse_instant("2027-07-01T09:00:00Z") is not None
    assert schema.parse_instant("2027-07-01T09:00:00.123+05:30") is not None
    for bad in ["2027-07-01T09:00:00", "2027-07-01", "tomorrow", "", "2027-13-01T00:00:00Z"]:
        assert schema.parse_instant(bad) is None, bad
