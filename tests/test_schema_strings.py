"""schema.string_check: a string judged on its own gets the verdict of the whole schema."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_definitions_fuzz import PLAIN_VALID
from wfsync import schema
from wfsync.yamlsource import read_yaml

DOCUMENT = read_yaml("w.yaml", PLAIN_VALID.replace(b"${HOOK}", b"x")).value


def string_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in string_paths(item, (*path, key))]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in string_paths(item, (*path, index))]
    return []


PATHS = string_paths(DOCUMENT)
STRINGS = st.sampled_from(
    [
        *["", " ", "x", "https://h.example.com/a", "http://h:8080/${X}", "https://h/a b", "ftp://h/"],
        *["GMT_plus_1", "Europe/Berlin", "2027-07-01T09:00:00Z", "https://" + "a" * 2050, "t" * 201],
    ]
) | st.text(max_size=30)


def with_string(path: tuple[Any, ...], text: str) -> Any:
    document = copy.deepcopy(DOCUMENT)
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = text
    return document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), STRINGS)
def test_a_string_check_is_the_schemas_verdict(path: tuple[Any, ...], text: str) -> None:
    assert schema.is_valid("definitions", DOCUMENT)
    check = schema.string_check("definitions", path)
    if check is not None:
        assert check(text) == schema.is_valid("definitions", with_string(path, text))


def test_strings_that_cannot_be_judged_alone() -> None:
    judged = {path[2:]: schema.string_check("definitions", path) is not None for path in PATHS}
    assert judged[("webhook", "url")] and judged[("title",)] and judged[("endCall", "phrases", 0)]
    assert not judged[("schedules", 0, "timezone")]  # anyOf: the branches decide together
    assert schema.string_check("definitions", ("workflows", 0, "colour")) is None  # not allowed there


@pytest.mark.parametrize(
    "keyword",
    [{"uniqueItems": True}, {"if": {"minItems": 2}, "then": {"maxItems": 1}}, {"contains": {"const": "a"}}],
)
def test_a_node_that_looks_at_its_strings_is_not_passed_over(
    keyword: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import shutil

    for path in schema.SCHEMA_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    workflow = json.loads((tmp_path / "workflow.schema.json").read_text())
    workflow["$defs"]["body"]["properties"]["endCall"]["properties"]["phrases"].update(keyword)
    (tmp_path / "workflow.schema.json").write_text(json.dumps(workflow))
    monkeypatch.setattr(schema, "SCHEMA_DIR", tmp_path)
    assert schema.string_check("definitions", ("workflows", 0, "endCall", "phrases", 1)) is None
    assert schema.string_check("definitions", ("workflows", 0, "title")) is not None
