"""The shared JSON Schemas: the fast validator agrees with jsonschema, messages read well."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfsync import schema
from wfsync.schema_compose import SchemaError

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


# -- the files editors read, and the schemas the validators use ----------------------------------


def raw_validator(name: str) -> Any:
    """jsonschema over the files exactly as written (unevaluatedProperties and all), as an
    editor or any 2020-12 tool reads them."""
    import json

    import jsonschema
    from referencing import Registry, Resource

    files = [json.loads(path.read_text(encoding="utf-8")) for path in schema.SCHEMA_DIR.glob("*.schema.json")]
    registry: Registry[Any] = Registry().with_resources(
        (contents["$id"], Resource.from_contents(contents)) for contents in files
    )
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(schema.parse_instant(value)))
    checker.checks("uri")(lambda value: not isinstance(value, str) or schema.is_http_url(value))
    (document,) = (contents for contents in files if contents["$id"].endswith(f"/{name}.schema.json"))
    return jsonschema.Draft202012Validator(document, registry=registry, format_checker=checker)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_files_as_written_mean_what_the_composed_schemas_check(data: st.DataObject) -> None:
    """The runtime composes unevaluatedProperties away (fastjsonschema ignores it): the
    files editors use must accept and refuse exactly what wfsync does."""
    instance = copy.deepcopy(VALID_FILE)
    entry = instance["workflows"][0]
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from([*entry, "titel", "extra", "url", "phrases", "lifecycl"]))
        if data.draw(st.booleans()) and key in entry:
            del entry[key]
        else:
            entry[key] = data.draw(ODD_VALUES)
    for name, value in (("definitions", instance), ("workflow", entry)):
        as_written = raw_validator(name).is_valid(value)
        assert schema.is_valid(name, value) == as_written, (name, value)


def test_the_patch_schema_is_derived_from_the_body() -> None:
    assert schema.is_valid("workflow-patch", {"callbackUrl": None, "webhook": None, "endCall": None})
    assert schema.is_valid("workflow-patch", {"endCall": {"phrases": ["bye"]}})
    for bad in ({}, {"title": None}, {"colour": "red"}, {"webhook": {"url": "ftp://x"}}):
        assert not schema.is_valid("workflow-patch", bad), bad
    assert set(schema.load("workflow-patch")["properties"]) == set(schema.load("workflow")["properties"])
    assert not (schema.SCHEMA_DIR / "workflow-patch.schema.json").exists(), "derived, never a copy"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["$defs"]["body"]["properties"].update({"schedules": {"type": "array"}}),
            "definitions.schema.json: schedules is defined both here and in workflow.schema.json#/$defs/body",
        ),
        (
            lambda d: d["$defs"]["body"].update({"allOf": [{"required": ["title"]}]}),
            "definitions.schema.json: workflow.schema.json#/$defs/body uses allOf; a schema closed",
        ),
        (
            lambda d: d.update({"unevaluatedProperties": {"type": "string"}}),
            "workflow.schema.json: only unevaluatedProperties: false is supported",
        ),
        (
            lambda d: d.update({"$ref": "https://elsewhere.example.com/body.json"}),
            "workflow.schema.json: 'https://elsewhere.example.com/body.json' must name a schema beside it",
        ),
    ],
    ids=["a body field named like wfsync's own key", "allOf in the body", "a schema", "a remote $ref"],
)
def test_schemas_the_validators_cannot_compose_faithfully_are_refused(
    edit: Callable[[dict[str, Any]], None],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json
    import re

    copy_dir = tmp_path / "schemas"
    shutil.copytree(schema.SCHEMA_DIR, copy_dir)
    document = json.loads((copy_dir / "workflow.schema.json").read_text(encoding="utf-8"))
    edit(document)
    (copy_dir / "workflow.schema.json").write_text(json.dumps(document), encoding="utf-8")
    monkeypatch.setattr(schema, "SCHEMA_DIR", copy_dir)
    with pytest.raises(SchemaError, match="^" + re.escape(message)):
        schema.is_valid("definitions", {"workflows": []})


def test_a_broken_schema_is_one_line_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from wfsync.cli import main

    copy_dir = tmp_path / "schemas"
    shutil.copytree(schema.SCHEMA_DIR, copy_dir)
    (copy_dir / "workflow.schema.json").write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(schema, "SCHEMA_DIR", copy_dir)
    (tmp_path / "w.yaml").write_text("workflows:\n  - title: t\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "w.yaml")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot read the schema ") and len(result.output.splitlines()) == 1


def test_init_gives_editors_schemas_that_refuse_unknown_keys_even_in_draft_7(tmp_path: Path) -> None:
    """The YAML language server ignores unevaluatedProperties: the schemas ``wfsync init``
    writes are composed, so a draft-7 validator still refuses a misspelt key."""
    import json

    import jsonschema
    from referencing import Registry, Resource

    from wfsync.scaffold import starter_files

    files = starter_files()
    written = {name: json.loads(text) for name, text in files.items() if name.startswith("schemas/")}
    assert not [name for name, doc in written.items() if "unevaluatedProperties" in json.dumps(doc)]
    registry: Registry[Any] = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in written.values()
    )
    editor = jsonschema.Draft7Validator(written["schemas/definitions.schema.json"], registry=registry)
    assert editor.is_valid(VALID_FILE)
    misspelt = copy.deepcopy(VALID_FILE)
    misspelt["workflows"][0]["callbackURL"] = "https://x.example.com"
    assert not editor.is_valid(misspelt)
