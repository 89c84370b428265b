"""Loading definitions: one fixture per kind of mistake, each at its exact place."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wfsync.definitions import DefinitionError, load_definitions
from wfsync.yamlsource import MAX_BYTES

FIXTURES = Path(__file__).parent / "fixtures" / "definitions"
KINDS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_mistake_is_reported_where_it_is(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each fixture folder is one scenario: its files, the process environment it runs
    with (env.json, when there is one) and every problem expected, in order."""
    monkeypatch.chdir(FIXTURES / kind)
    monkeypatch.delenv("WFSYNC_TEST_UNSET_HOOK", raising=False)
    env_file = FIXTURES / kind / "env.json"
    env = json.loads(env_file.read_text(encoding="utf-8")) if env_file.exists() else {}
    with pytest.raises(DefinitionError) as caught:
        load_definitions(["."], env=env)
    expected = (FIXTURES / kind / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert [str(problem) for problem in caught.value.problems] == expected
    for value in filter(None, env.values()):  # a secret never shows in a message
        assert value not in str(caught.value)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_definition(tmp_path: Path) -> None:
    write(
        tmp_path,
        "w.yaml",
        """\
workflows:
  - title: Lead follow-up
    callbackUrl: https://client.example.com/hooks/workflow
    webhook:
      url: https://client.example.com/hooks/workflow
    endCall:
      phrases: [goodbye, end call]
    schedules:
      - scheduledDate: 2027-07-01T10:00:00+01:00
        timezone: GMT_plus_1
    lifecycle:
      formerTitles: [Lead followup]
""",
    )
    (definition,) = load_definitions([tmp_path], env={})
    assert definition.title == "Lead follow-up"
    assert definition.body == {
        "title": "Lead follow-up",
        "callbackUrl": "https://client.example.com/hooks/workflow",
        "webhook": {"url": "https://client.example.com/hooks/workflow"},
        "endCall": {"phrases": ["goodbye", "end call"]},
    }
    assert definition.schedules is not None and len(definition.schedules) == 1
    schedule = definition.schedules[0]
    assert schedule.at == datetime(2027, 7, 1, 9, 0, tzinfo=UTC)
    assert schedule.instant == "2027-07-01T09:00:00.000Z" and schedule.timezone == "GMT_plus_1"
    assert definition.former_titles == ("Lead followup",)
    assert (definition.location.line, definition.location.column) == (2, 12)


def test_schedules_left_out_versus_empty(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", "workflows:\n  - title: a\n  - title: b\n    schedules: []\n")
    first, second = load_definitions([tmp_path], env={})
    assert first.schedules is None, "no schedules key: leave its schedules alone"
    assert second.schedules == (), "schedules: [] means none may be pending"


def test_environment_values_are_used_and_remembered_as_secrets(tmp_path: Path) -> None:
    write(
        tmp_path,
        "w.yaml",
        """\
workflows:
  - title: Lead follow-up
    webhook:
      url: https://hooks.example.com/${HOOK_TOKEN}/x
    endCall:
      phrases: ["say $${literal}", "${GOODBYE}"]
""",
    )
    (definition,) = load_definitions([tmp_path], env={"HOOK_TOKEN": "s3cr3t", "GOODBYE": "bye"})
    assert definition.body["webhook"]["url"] == "https://hooks.example.com/s3cr3t/x"
    assert definition.body["endCall"]["phrases"] == ["say ${literal}", "bye"]
    assert definition.secrets == {
        ("webhook", "url"): "https://hooks.example.com/${HOOK_TOKEN}/x",
        ("endCall", "phrases", 1): "${GOODBYE}",
    }
    assert "s3cr3t" not in repr(definition)


def test_an_invalid_value_from_the_environment_is_not_shown(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", "workflows:\n  - title: a\n    callbackUrl: ${HOOK}\n")
    with pytest.raises(DefinitionError) as caught:
        load_definitions([tmp_path], env={"HOOK": "token-abc123"})
    assert "token-abc123" not in str(caught.value)
    assert "callbackUrl must be an absolute http(s) URL, not '${HOOK}'" in str(caught.value)


def test_anchors_and_merge_keys_keep_definitions_short(tmp_path: Path) -> None:
    write(
        tmp_path,
        "w.yaml",
        """\
common: &common
  webhook: {url: https://hooks.example.com/x}
  endCall: {phrases: [bye]}
workflows:
  - <<: *common
    title: a
  - <<: *common
    title: b
    endCall: {phrases: [ciao]}
""",
    )
    with pytest.raises(DefinitionError, match="property common should not exist"):
        load_definitions([tmp_path], env={})
    write(
        tmp_path,
        "w.yaml",
        """\
workflows:
  - &a
    title: a
    webhook: {url: https://hooks.example.com/x}
    endCall: {phrases: [bye]}
  - <<: *a
    title: b
    endCall: {phrases: [ciao]}
""",
    )
    a, b = load_definitions([tmp_path], env={})
    assert b.body["webhook"] == a.body["webhook"] and b.body["endCall"] == {"phrases": ["ciao"]}


def test_files_are_read_recursively_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path, "b/2.yml", "workflows:\n  - title: b2\n")
    write(tmp_path, "a.yaml", "workflows:\n  - title: a\n")
    write(tmp_path, "b/1.yaml", "workflows:\n  - title: b1\n")
    write(tmp_path, "notes.txt", "not a definition")
    write(tmp_path, "c.yaml", "workflows: []\n")
    assert [d.title for d in load_definitions([tmp_path], env={})] == ["a", "b1", "b2"]


def test_missing_paths_and_empty_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DefinitionError) as caught:
        load_definitions([tmp_path / "nope", tmp_path / "empty"], env={})
    assert [p.message for p in caught.value.problems] == [
        "no definition files (*.yaml, *.yml) here",
        "no such file or directory",
    ]


def test_a_file_over_the_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"workflows: []\n" + b"#" * MAX_BYTES)
    with pytest.raises(DefinitionError, match=r"big.yaml:1:1: file is 10,485,774 bytes, over the limit"):
        load_definitions([big], env={})


def test_problems_of_every_file_in_one_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "workflows:\n  - titel: a\n")
    write(tmp_path, "b.yaml", "")
    write(tmp_path, "c.yaml", "workflows:\n  - title: c\n    callbackUrl: nope\n")
    with pytest.raises(DefinitionError) as caught:
        load_definitions([tmp_path], env={})
    assert [Path(p.location.file).name for p in caught.value.problems] == [
        "a.yaml",
        "a.yaml",
        "b.yaml",
        "c.yaml",
    ]
    assert str(caught.value).endswith("4 problems in the definitions")


def test_timestamps_stay_as_written(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", "workflows:\n  - title: 2027-07-01T09:00:00Z\n")
    assert load_definitions([tmp_path], env={})[0].title == "2027-07-01T09:00:00Z"


def test_a_utf8_bom_and_unicode_titles(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_bytes("\ufeffworkflows:\n  - title: Café ☎ 日本語\n".encode())
    assert load_definitions([tmp_path], env={})[0].title == "Café ☎ 日本語"


def test_folders_skip_hidden_files_and_the_settings_file(tmp_path: Path) -> None:
    write(tmp_path, "wfsync.yaml", "paths: [.]\n")
    write(tmp_path, ".github/workflows/ci.yml", "on: push\n")
    write(tmp_path, ".pre-commit-config.yaml", "repos: []\n")
    write(tmp_path, "teams/a.yaml", "workflows:\n  - title: a\n")
    assert [d.title for d in load_definitions([tmp_path], env={})] == ["a"]


def test_the_examples_are_valid() -> None:
    examples = Path(__file__).parent.parent / "examples"
    definitions = load_definitions([examples], env={"CRM_HOOK_TOKEN": "demo"})
    assert len(definitions) >= 6
    assert any(d.former_titles for d in definitions) and any(d.schedules for d in definitions)
    assert any(d.secrets for d in definitions), "a value from the environment"


def test_reading_leaves_no_reference_cycles(tmp_path: Path) -> None:
    """Loading runs with the collector paused and then frozen: a cycle would keep a whole
    document alive for good (it did, through a closure that called itself)."""
    import gc

    entry = "  - title: w{n}\n    webhook: {{url: 'https://h.example.com/${{TOKEN}}'}}\n"
    text = "workflows:\n" + "".join(entry.format(n=n) for n in range(50))
    gc.collect()
    gc.disable()
    try:
        from wfsync.definitions import parse_file

        definitions, problems = parse_file("w.yaml", text.encode(), {"TOKEN": "t"})
        assert len(definitions) == 50 and not problems
        parse_file("bad.yaml", b"workflows:\n  - titel: x\n  - title: [\n", {})
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        leaked = [
            o for o in gc.garbage if type(o).__name__ in ("Mark", "Document", "ScalarNode", "MappingNode")
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert leaked == []
