"""JSON from a server or a file is read with a bound on nesting: a one-line ValueError,
never a RecursionError traceback."""

from __future__ import annotations

import pytest

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
