"""JSON from a server or a file is read with a bound on nesting: a one-line ValueError,
never a RecursionError traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfsync.safejson import MAX_DEPTH, JsonDepthError, loads


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


def test_ordinary_documents_are_read() -> None:
    assert loads(b'{"data": [{"id": "a", "x": {"y": [1, 2]}}]}') == {
        "data": [{"id": "a", "x": {"y": [1, 2]}}]
    }
    assert loads("3") == 3 and loads("null") is None


def test_the_limit_is_exact() -> None:
    assert loads(nested(MAX_DEPTH)) is not None
    with pytest.raises(JsonDepthError, match=f"JSON nested deeper than {MAX_DEPTH} levels"):
        loads(nested(MAX_DEPTH + 1))
    objects = '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1)
    with pytest.raises(JsonDepthError):
        loads(objects)
    assert loads(nested(3), max_depth=3) == [[[]]]
    with pytest.raises(JsonDepthError):
        loads(nested(4), max_depth=3)


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_nesting_deep_enough_to_break_the_parser_is_a_value_error(depth: int) -> None:
    with pytest.raises(ValueError, match="nested deeper"):
        loads(nested(depth))


def test_bad_json_is_still_a_value_error() -> None:
    with pytest.raises(ValueError) as caught:
        loads("{not json")
    assert not isinstance(caught.value, JsonDepthError)


def walked_depth(value: object) -> int:
    """The levels of containers in a decoded value (the rule, by a plain walk)."""
    if isinstance(value, dict):
        return 1 + max((walked_depth(child) for child in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((walked_depth(child) for child in value), default=0)
    return 0


# Strings full of what could fool a reading of the text: brackets, quotes, backslashes.
tricky_text = st.text(alphabet=st.sampled_from(list('[]{}"\\\\/,:ab é\n\u2028\U0001f600')), max_size=8)
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(
    documents,
    st.integers(min_value=1, max_value=12),
    st.booleans(),
    st.sampled_from(["str", "utf-8", "utf-16", "utf-8-sig"]),
)
def test_the_depth_read_from_the_text_is_the_depth_of_the_values(
    value: object, max_depth: int, ascii_only: bool, form: str
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=None if ascii_only else 1)
    data: str | bytes = text if form == "str" else text.encode(form)
    if walked_depth(value) > max_depth:
        with pytest.raises(JsonDepthError):
            loads(data, max_depth=max_depth)
    else:
        assert loads(data, max_depth=max_depth) == value


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_lone_surrogate_json_accepts_in_utf_16_or_32_is_read_too(encoding: str) -> None:
    # json.loads decodes bytes with "surrogatepass": a lone surrogate (a server's broken
    # emoji) is a value, not an error. The depth is read from the same text.
    data = '[{"a": "\ud800"}]'.encode(encoding, "surrogatepass")
    assert json.loads(data) == [{"a": "\ud800"}]
    assert loads(data) == [{"a": "\ud800"}]
    with pytest.raises(JsonDepthError):
        loads(data, max_depth=1)
