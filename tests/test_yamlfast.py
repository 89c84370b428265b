"""The line reader for plain block YAML agrees with the full reader, or steps aside.

Whatever text :func:`read_plain` accepts, PyYAML's composer (``read_yaml(fast=False)``)
must read to the same values, of the same types, at the same lines and columns, with no
problem; everything else must fall through to it (``read_plain`` returns None).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, find, given, settings
from hypothesis import strategies as st

from wfsync.yamlcompose import _plain_scalar
from wfsync.yamlfast import read_plain
from wfsync.yamlsource import YamlError, read_yaml

KEYS = ["title", "url", "endCall", "a-b", "x_1", "yes", "on", "null", "True", "No", "y", "n", "_"]
# Plain scalars chosen for what YAML 1.1 does with them: types, sexagesimals, octals,
# dates, indicators inside, characters that end a scalar, empties.
PLAIN = [
    "Lead follow-up",
    "https://client.example.com/hooks/${HOOK}/7?a=b&c=d",
    "https://x.example.com/#/a",
    "a#b",
    "a:b",
    "a::b",
    "10:30",
    "1:2:3.5",
    "012",
    "0x1F",
    "0b101",
    "1e3",
    "1.5e3",
    "1_000",
    "+1",
    "-1",
    ".inf",
    ".5",
    "yes",
    "No",
    "off",
    "~",
    "null",
    "Null",
    "2027-07-01T09:00:00.000Z",
    "2027-07-01",
    "2027-7-1 9:00:00 +1",
    "${HOOK}",
    "a  b",
    "a {b} [c], d",
    "(x) [y]",
    "=",
    "<<",
    "a - b",
    "a ? b",
    "a @ b",
    "a 'b' \"c\"",
    "$${X}",
    "/path/to",
    "_",
    "0",
    "00",
    "0o17",
    "1,000",
    # Not one scalar in block YAML: the line reader must refuse each.
    "a: b",
    "a:",
    "a #b",
    "- a",
    "? a",
    "a:\tb",
]
QUOTED = ['"x: y"', "'a # b'", '"a\\"b"', "'a''b'", '""', "''", '"yes"', "'012'", '"${HOOK}"']
FLOW = [
    "[a, b]",
    "[ ]",
    "[]",
    "[a,b ,c]",
    "[ a ]",
    "[a, [b]]",
    "[a, {b: c}]",
    "[a:b]",
    "[a, b,]",
    "[yes, 012, ~, 2027-07-01]",
    "[\"x, y\", 'z']",
    "[end call, stop calling me]",
    "[a #b]",
]
COMMENT = [" # note", " #", "  # a: b", "# glued"]
INSERTS = [
    "\n",
    " ",
    "  ",
    "- ",
    ": ",
    "#",
    "'",
    '"',
    "[",
    "]",
    ",",
    "{",
    "&a ",
    "*a",
    "!!str ",
    "\t",
    "\r",
    "é",
]
INSERTS += ["?", "|", ">", "-", ":", "x", "1", "~"]


@st.composite
def scalars(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(PLAIN) | st.sampled_from(QUOTED) | st.sampled_from(FLOW))


@st.composite
def blocks(draw: st.DrawFn, indent: int, depth: int) -> list[str]:
    """Lines of a block mapping or sequence at ``indent``."""
    sequence = draw(st.booleans()) if depth else False
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        step = draw(st.sampled_from([2, 2, 2, 1, 4]))
        nested = depth < 3 and draw(st.integers(0, 3)) == 0
        if sequence:
            head = " " * indent + "-" + " " * draw(st.sampled_from([1, 1, 3]))
            if nested:
                inner = draw(blocks(len(head), depth + 1))
                if inner[0].lstrip().startswith("-"):  # an entry holding a sequence: not plain
                    lines += [head.rstrip() + " x", *inner]
                else:  # an entry holding a mapping starts on the dash's line
                    lines += [head + inner[0].lstrip(" "), *inner[1:]]
            else:
                lines.append(head + draw(scalars()))
        else:
            key = " " * indent + draw(st.sampled_from(KEYS)) + ":"
            if nested:
                lines.append(key)
                lines += draw(blocks(indent + draw(st.sampled_from([step, 0])), depth + 1))
            else:
                lines.append(key + " " * draw(st.sampled_from([1, 1, 2])) + draw(scalars()))
        if draw(st.integers(0, 5)) == 0:
            lines[-1] += draw(st.sampled_from([*COMMENT, " ", "  "]))
        if draw(st.integers(0, 8)) == 0:
            lines.append(draw(st.sampled_from(["", "   ", "# c", "  # c", "---", "..."])))
    return lines


def documents() -> st.SearchStrategy[str]:
    return blocks(0, 0).map(lambda lines: "\n".join(lines) + "\n")


def mutated(text: str, edits: list[tuple[int, int, str]]) -> str:
    for at, cut, insert in edits:
        at %= len(text) + 1
        text = text[:at] + insert + text[at + cut :]
    return text


def typed(value: Any) -> Any:
    """``value`` with every scalar paired with its type: True and 1 differ."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def check_agrees(text: str) -> bool:
    """Compare the two readers on ``text``; True when the line reader took it."""
    plain = read_plain(text, _plain_scalar)
    if plain is None:
        return False
    value, values, keys, dollars = plain
    full = read_yaml("f.yaml", text.encode(), fast=False)  # must not raise
    assert full.problems == []
    assert typed(value) == typed(full.value)
    assert values == full.values
    assert keys == full.keys
    assert dollars == full.dollars  # the full reader walks its values for them
    return True


AGREE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@AGREE
@given(documents())
@example("workflows:\n- title: a\n  schedules:\n  - x\n  timezone: y\n")
@example("a:\n  b: 1\nc: [x, 'y', \"z\"]  # c\n")
def test_generated_documents_agree(text: str) -> None:
    check_agrees(text)


@AGREE
@given(
    documents(),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 4), st.sampled_from(INSERTS)), max_size=4),
)
def test_mutated_documents_agree(text: str, edits: list[tuple[int, int, str]]) -> None:
    check_agrees(mutated(text, edits))


def test_the_generator_reaches_the_line_reader() -> None:
    """Nested generated documents are plain enough for it, so the tests above compare."""
    nested = find(
        documents(),
        lambda text: text.count("\n") >= 8 and "- " in text and check_agrees(text),
        # A search, not a timed test: no deadline or speed checks on a loaded machine.
        settings=settings(
            max_examples=1500,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same search every run: a search that may miss is a flaky test
        ),
    )
    assert read_plain(nested, _plain_scalar) is not None


BENCH_LIKE = """\
# yaml-language-server: $schema=../schemas/definitions.schema.json
workflows:
  - title: Campaign 00001 follow-up
    callbackUrl: https://client1.example.com/hooks/workflow
    webhook:
      url: https://client1.example.com/hooks/${HOOK_TOKEN}/1
    endCall:
      phrases: [goodbye, end call, stop calling me]
    schedules:
      - scheduledDate: "2027-07-01T09:00:00.000Z"
        timezone: GMT_plus_1
    lifecycle:
      formerTitles: [Campaign 1]
"""


def test_ordinary_definition_files_take_the_line_reader() -> None:
    assert check_agrees(BENCH_LIKE)


@pytest.mark.parametrize(
    "text",
    [
        "a:\nb: 1\n",  # an empty value (null)
        "a: 1\na: 2\n",  # a duplicate key: the full reader reports it
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: !!int 1\n",  # a tag
        "a: |\n  text\n",  # a block scalar
        "a: b\n  c\n",  # a multi-line plain scalar
        "a:\tb\n",  # a tab
        "a: b\r\nc: d\r\n",  # CR
        "a: café\n",  # beyond ASCII
        "- a\n- b\n",  # a sequence at the top
        "a: {b: c}\n",  # a flow mapping
        "a: =\n",  # a scalar the full reader refuses
        "a: [x, y,]\n",  # a trailing comma
        "---\na: 1\n",  # a document marker
        "  a: 1\n",  # an indented top
        "",
    ],
)
def test_unusual_yaml_falls_through_to_the_full_reader(text: str) -> None:
    assert read_plain(text, _plain_scalar) is None


def test_the_full_reader_still_reports_what_the_line_reader_leaves() -> None:
    with pytest.raises(YamlError, match=r"f.yaml:1:4: .*constructor"):
        read_yaml("f.yaml", b"a: =\n")
    assert [str(p) for p in read_yaml("f.yaml", b"a: 1\na: 2\n").problems] == [
        "f.yaml:2:1: duplicate key 'a' (first at line 1)"
    ]
    assert [str(p) for p in read_yaml("f.yaml", b"a: !!int abc\n").problems] == [
        "f.yaml:1:4: 'abc' is not a valid !!int"
    ]
