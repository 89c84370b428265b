"""The workflow body is described once, by ``schemas/workflow.schema.json``: a property added
there, and nowhere else, is validated, planned, sent, read back and pulled (issue 11);
empty values on the server equal a field left out (issue 13)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from wfsync import body, schema
from wfsync.body import FieldDiff, Leaf
from wfsync.cli import main
from wfsync.emulator import DEV_KEY
from wfsync.emulator.server import EmulatorServer
from wfsync.schema_compose import SchemaError

LEAD: dict[str, Any] = {
    "title": "Lead follow-up",
    "callbackUrl": "https://crm.example.com/done",
    "webhook": {"url": "https://crm.example.com/hook"},
    "endCall": {"phrases": ["goodbye", "end call"]},
}


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def schemas_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Callable[[dict[str, Any]], None]], Path]:
    """Point wfsync at a copy of ``schemas/`` whose workflow.schema.json ``edit`` changed."""

    def use(edit: Callable[[dict[str, Any]], None]) -> Path:
        copy = tmp_path / "schemas-copy"
        shutil.copytree(schema.SCHEMA_DIR, copy)
        path = copy / "workflow.schema.json"
        document = json.loads(path.read_text(encoding="utf-8"))
        edit(document)
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        monkeypatch.setattr(schema, "SCHEMA_DIR", copy)
        return copy

    return use


def add_property(path: tuple[str, ...], spec: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        node = document["$defs"]["body"]
        for part in path[:-1]:
            node = node["properties"][part]
        node["properties"][path[-1]] = spec

    return edit


# -- the acceptance test: one edit, to workflow.schema.json ------------------------------------

HOOK = "https://crm.example.com/hook"
# The property added, its schema, a definition's lines with it ({value}) and without it, two values.
NEW_FIELDS = {
    "top-level language": (
        ("language",),
        {"enum": ["en", "yo"]},
        "    language: {value}\n",
        "",
        ("yo", "en"),
    ),
    "nested webhook.method": (
        ("webhook", "method"),
        {"enum": ["GET", "POST"]},
        f"    webhook: {{{{url: '{HOOK}', method: {{value}}}}}}\n",
        f"    webhook: {{url: '{HOOK}'}}\n",
        ("POST", "GET"),
    ),
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    (tmp_path / "workflows").mkdir()
    return tmp_path


@pytest.mark.parametrize("case", NEW_FIELDS, ids=list(NEW_FIELDS))
def test_a_property_added_to_the_schema_alone_goes_all_the_way(
    case: str,
    workdir: Path,
    schemas_copy: Callable[[Callable[[dict[str, Any]], None]], Path],
    start_emulator: Callable[..., EmulatorServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, spec, with_it, without_it, (first, second) = NEW_FIELDS[case]
    dotted, field = ".".join(path), path[0]

    def define(value: str | None) -> None:
        text = "workflows:\n  - title: Lead follow-up\n"
        text += with_it.format(value=value) if value else without_it
        (workdir / "workflows" / "lead.yaml").write_text(text, encoding="utf-8")

    def live_value() -> Any:
        (node,) = server.store.list_workflows(0, 10)[0]
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        return node

    define(first)
    refused = cli("validate", "workflows")
    assert refused.exit_code == 1 and f"property {path[-1]} should not exist" in refused.output, "a control"

    original = schema.SCHEMA_DIR
    copy = schemas_copy(add_property(path, spec))
    edited = [p.name for p in sorted(copy.iterdir()) if p.read_bytes() != (original / p.name).read_bytes()]
    assert edited == ["workflow.schema.json"], "a new field is one edit, in one file"
    server = start_emulator()
    monkeypatch.setenv("WFSYNC_API_URL", server.url)

    validated = cli("validate", "workflows")
    assert validated.exit_code == 0, validated.output

    planned = cli("plan")
    assert planned.exit_code == 0, planned.output
    assert f'    {dotted}: "{first}"' in planned.output, planned.output

    applied = cli("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert live_value() == first, "apply sent it, and the emulator took it"

    clean = cli("plan", "--detailed-exitcode")
    assert clean.exit_code == 0, clean.output
    assert clean.output.startswith("No changes"), clean.output

    define(second)
    changed = cli("plan", "--json")
    (update,) = json.loads(changed.output)["changes"]
    assert update["action"] == "update"
    assert update["diffs"] == [{"path": dotted, "old": first, "new": second, "sensitive": False}]
    assert update["patch"] == (
        {field: second} if len(path) == 1 else {field: {"url": HOOK, "method": second}}
    )
    assert cli("apply", "--auto-approve").exit_code == 0
    assert live_value() == second
    assert cli("plan", "--detailed-exitcode").exit_code == 0

    pulled = cli("pull", "pulled")
    assert pulled.exit_code == 0, pulled.output
    (written,) = Path("pulled").iterdir()
    entry = yaml.safe_load(written.read_text(encoding="utf-8"))["workflows"][0]
    node: Any = entry
    for part in path:
        node = node[part]
    assert node == second, "pull wrote it back"
    assert cli("plan", "pulled", "--detailed-exitcode").exit_code == 0, "and the pulled file is in sync"

    define(None)
    removal = json.loads(cli("plan", "--json").output)["changes"][0]
    assert removal["diffs"] == [{"path": dotted, "old": second, "new": None, "sensitive": False}]
    assert removal["patch"] == ({field: None} if len(path) == 1 else {field: {"url": HOOK}})
    assert f'{dotted}: "{second}" -> (removed)' in cli("plan").output
    assert cli("apply", "--auto-approve").exit_code == 0
    assert live_value() is None
    assert cli("plan", "--detailed-exitcode").exit_code == 0


# -- what is derived from the schema -------------------------------------------------------------


def test_the_fields_and_leaves_come_from_the_schema() -> None:
    assert body.fields() == ("title", "callbackUrl", "webhook", "endCall")
    assert body.leaves() == (
        Leaf(("title",)),
        Leaf(("callbackUrl",)),
        Leaf(("webhook", "url")),
        Leaf(("endCall", "phrases"), "set"),
    )


def test_an_object_open_to_other_keys_is_one_leaf_so_nothing_validated_is_dropped(
    schemas_copy: Callable[[Callable[[dict[str, Any]], None]], Path],
) -> None:
    schemas_copy(add_property(("metadata",), {"type": "object", "properties": {"team": {"type": "string"}}}))
    assert body.leaves()[-1] == Leaf(("metadata",))
    assert body.project({"title": "t", "metadata": {"team": "a", "owner": "b"}})["metadata"] == {
        "team": "a",
        "owner": "b",
    }


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (add_property(("a.b",), {"type": "string"}), "a.b: a property name may not hold a dot"),
        (
            add_property(("tags",), {"type": "array", "x-wfsync-compare": "bag"}),
            "tags: x-wfsync-compare must be one of value, set",
        ),
        (
            lambda d: d["$defs"]["body"]["properties"]["webhook"].update({"x-wfsync-compare": "set"}),
            "webhook: x-wfsync-compare applies to a value, not to an object",
        ),
    ],
)
def test_a_schema_wfsync_cannot_read_is_refused_by_name(
    schemas_copy: Callable[[Callable[[dict[str, Any]], None]], Path],
    edit: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    schemas_copy(edit)
    with pytest.raises(SchemaError, match=f"^workflow.schema.json: {message}$"):
        body.fields()


# -- projecting a server's answer ----------------------------------------------------------------


def test_server_fields_are_dropped_and_odd_shapes_kept_to_show_as_differences() -> None:
    raw = {**LEAD, "id": "w1", "__v": 2, "webhook": {"url": LEAD["webhook"]["url"], "secret": "s3cr3t"}}
    assert body.project(raw) == LEAD
    assert body.project({"title": None, "webhook": "https://plain.example.com", "endCall": ["bye"]}) == {
        "webhook": "https://plain.example.com",
        "endCall": ["bye"],
    }
    assert body.project({"title": "t", "webhook": {"secret": "s"}, "endCall": {"mode": 1}}) == {"title": "t"}


EMPTIES = [None, "", [], {}]


@pytest.mark.parametrize("empty", EMPTIES, ids=["null", "empty string", "empty list", "empty object"])
def test_an_empty_value_on_the_server_equals_absent(empty: Any) -> None:
    raw = {"title": "t", "callbackUrl": empty, "webhook": {"url": empty}, "endCall": {"phrases": empty}}
    assert body.project(raw) == {"title": "t"}
    assert body.project({"title": "t", "webhook": empty, "endCall": empty}) == {"title": "t"}
    # diff() holds to it too, whoever projected the live side.
    assert body.diff(raw, {"title": "t"}) == []
    assert body.diff({"title": "t"}, {"title": "t", "callbackUrl": empty}) == []


# -- comparing -----------------------------------------------------------------------------------


def test_phrases_compare_as_a_set_and_other_lists_do_not(
    schemas_copy: Callable[[Callable[[dict[str, Any]], None]], Path],
) -> None:
    reordered = {**LEAD, "endCall": {"phrases": ["end call", "goodbye", "goodbye"]}}
    assert body.diff(LEAD, reordered) == []
    odd = [{"text": "bye"}, {"text": "ciao"}]  # unhashable items from an odd server
    assert body.diff({"endCall": {"phrases": odd}}, {"endCall": {"phrases": odd[::-1]}}) == []
    schemas_copy(add_property(("steps",), {"type": "array", "items": {"type": "string"}}))
    (change,) = body.diff({"steps": ["a", "b"]}, {"steps": ["b", "a"]})
    assert change == FieldDiff("steps", ["a", "b"], ["b", "a"])


def test_diffs_are_per_leaf_and_a_secret_field_is_sensitive_whole() -> None:
    desired = {**LEAD, "title": "Leads", "webhook": {"url": "https://crm.example.com/t0k3n-77"}}
    live = {k: v for k, v in LEAD.items() if k != "callbackUrl"}
    changes = body.diff(live, desired, secrets=[("webhook", "url")])
    assert changes == [
        FieldDiff("title", "Lead follow-up", "Leads"),
        FieldDiff("callbackUrl", None, LEAD["callbackUrl"]),
        FieldDiff("webhook.url", LEAD["webhook"]["url"], desired["webhook"]["url"], sensitive=True),
    ]
    assert changes[2].data == {
        "path": "webhook.url",
        "old": "(sensitive)",
        "new": "(sensitive)",
        "sensitive": True,
    }
    assert "t0k3n-77" not in json.dumps([change.data for change in changes])


def test_an_object_in_another_shape_differs_whole() -> None:
    (change,) = body.diff({"title": "t", "webhook": "https://plain.example.com"}, {"title": "t"})
    assert change == FieldDiff("webhook", "https://plain.example.com", None)
    assert body.patch({"title": "t"}, [change]) == {"webhook": None}


def test_the_patch_sends_each_touched_field_whole_and_null_for_a_removed_one() -> None:
    desired = {"title": "t", "webhook": {"url": "https://b.example.com"}}
    changes = body.diff({**LEAD, "title": "t"}, desired)
    assert [change.path for change in changes] == ["callbackUrl", "webhook.url", "endCall.phrases"]
    assert body.patch(desired, changes) == {
        "callbackUrl": None,
        "webhook": {"url": "https://b.example.com"},
        "endCall": None,
    }
    assert body.patch(desired, []) == {}
    with pytest.raises(ValueError, match="'colour' is not a field of the workflow body"):
        body.patch(desired, [FieldDiff("colour", None, "red")])


def test_a_create_lists_every_leaf_it_sets_in_the_schema_order() -> None:
    shown = [(leaf.name, value) for leaf, value in body.leaf_values({**LEAD, "callbackUrl": ""})]
    assert shown == [
        ("title", "Lead follow-up"),
        ("webhook.url", LEAD["webhook"]["url"]),
        ("endCall.phrases", ["goodbye", "end call"]),
    ]


# -- empty equals absent, end to end -------------------------------------------------------------


@pytest.mark.parametrize("empty", EMPTIES, ids=["null", "empty string", "empty list", "empty object"])
def test_a_server_that_fills_in_empty_defaults_plans_clean(
    empty: Any, workdir: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that stores ``endCall.phrases: []`` (or "", {}, null) for a field left out
    must not make every plan show ``[] -> (removed)``."""
    monkeypatch.setenv("WFSYNC_API_URL", emulator.url)
    emulator.store.create_workflow(
        {"title": "Bare", "callbackUrl": empty, "webhook": {"url": empty}, "endCall": {"phrases": empty}}
    )
    emulator.store.create_workflow({"title": "Empty objects", "webhook": empty, "endCall": empty})
    (workdir / "workflows" / "w.yaml").write_text(
        "workflows:\n  - title: Bare\n  - title: Empty objects\n", encoding="utf-8"
    )
    result = cli("plan", "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert result.output == "No changes: the live workflows match the definitions.\n"
    assert cli("pull", "pulled").exit_code == 0
    pulled = sorted(Path("pulled").iterdir())
    assert [yaml.safe_load(p.read_text(encoding="utf-8"))["workflows"] for p in pulled] == [
        [{"title": "Bare"}],
        [{"title": "Empty objects"}],
    ], "pull writes no empty field back"


def test_zero_and_false_are_values_not_empty(
    schemas_copy: Callable[[Callable[[dict[str, Any]], None]], Path],
) -> None:
    def edit(document: dict[str, Any]) -> None:
        add_property(("retries",), {"type": "integer"})(document)
        add_property(("recorded",), {"type": "boolean"})(document)

    schemas_copy(edit)
    assert body.project({"title": "t", "retries": 0, "recorded": False}) == {
        "title": "t",
        "retries": 0,
        "recorded": False,
    }
    assert body.diff({"title": "t"}, {"title": "t", "retries": 0}) == [FieldDiff("retries", None, 0)]


def test_a_reference_that_leads_nowhere_is_named(
    schemas_copy: Callable[[Callable[[dict[str, Any]], None]], Path],
) -> None:
    schemas_copy(add_property(("hook",), {"$ref": "#/$defs/nowhere"}))
    with pytest.raises(SchemaError, match=r"reference #/\$defs/nowhere leads nowhere"):
        body.fields()
