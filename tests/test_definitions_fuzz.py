"""Whatever bytes a file holds, loading returns definitions or our error, nothing else."""

from __future__ import annotations

import contextlib
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfsync.definitions import DefinitionError, load_definitions, parse_file

VALID = b"""\
workflows:
  - title: Lead follow-up
    callbackUrl: https://client.example.com/hooks/workflow
    webhook:
      url: https://client.example.com/hooks/${HOOK}
    endCall:
      phrases: [goodbye, "end call"]
    schedules:
      - scheduledDate: 2027-07-01T09:00:00.000Z
        timezone: GMT_plus_1
    lifecycle:
      formerTitles: [Lead followup]
  - &a
    title: Reminder
    endCall: {phrases: [bye]}
  - <<: *a
    title: Other
"""
# The same without anchors: the line reader takes it, and mutations of it often.
PLAIN_VALID = (
    VALID[: VALID.index(b"  - &a")]
    + b"""\
  - title: Reminder
    endCall:
      phrases: [bye]
"""
)
ENV = {"HOOK": "x"}
# Pieces that stress a YAML reader: structure, aliases, tags, odd scalars and bytes.
TOKENS = [
    b"\n",
    b"  ",
    b"\t",
    b"- ",
    b": ",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"&a ",
    b"*a",
    b"<<: ",
    b"!!binary ",
    b"!!python/object ",
    b"? ",
    b"|",
    b">",
    b"'",
    b'"',
    b"#",
    b"---",
    b"...",
    b"${",
    b"$${",
    b"}",
    b"~",
    b"null",
    b"yes",
    b"0x1F",
    b"1e999",
    b"\xff",
    b"\xc3",
    b"\x00",
    b"\xef\xbb\xbf",
    b"title",
    b"workflows",
    b"schedules",
    b"%YAML 1.1\n",
    b"\\u0000",
]


def check(data: bytes) -> None:
    definitions, problems = parse_file("fuzz.yaml", data, ENV)
    assert all(problem.location.file == "fuzz.yaml" for problem in problems)
    assert all(problem.location.line >= 1 and problem.location.column >= 1 for problem in problems)
    if not problems:
        assert all(isinstance(definition.title, str) for definition in definitions)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS) | st.binary(max_size=3), max_size=60).map(b"".join))
def test_random_yaml_tokens(data: bytes) -> None:
    check(data)


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(VALID)), st.integers(0, 8), st.sampled_from(TOKENS)),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_valid_files(edits: list[tuple[int, int, bytes]]) -> None:
    data = VALID
    for at, cut, insert in edits:
        data = data[:at] + insert + data[at + cut :]
    check(data)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200))
def test_whole_loader_on_files(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "w.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        with contextlib.suppress(DefinitionError):
            load_definitions([folder], env=ENV)


def test_the_valid_file_is_valid() -> None:
    definitions, problems = parse_file("ok.yaml", VALID, ENV)
    assert problems == [] and [d.title for d in definitions] == [
        "Lead follow-up",
        "Reminder",
        "Other",
    ]


def agree(data: bytes) -> None:
    """The line reader for plain YAML changes nothing: the same definitions, the same
    problems at the same places, as with PyYAML's composer alone."""
    fast = parse_file("fuzz.yaml", data, ENV)
    with mock.patch("wfsync.yamlcompose.read_plain", lambda *_: None):
        exact = parse_file("fuzz.yaml", data, ENV)
    assert fast == exact


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(PLAIN_VALID)), st.integers(0, 8), st.sampled_from(TOKENS)),
        max_size=4,
    )
)
def test_fast_and_exact_readers_agree_on_mutated_files(edits: list[tuple[int, int, bytes]]) -> None:
    data = PLAIN_VALID
    for at, cut, insert in edits:
        data = data[:at] + insert + data[at + cut :]
    agree(data)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS) | st.binary(max_size=3), max_size=60).map(b"".join))
def test_fast_and_exact_readers_agree_on_token_soup(data: bytes) -> None:
    agree(data)
