"""JSON read with a bound on nesting: a server answer or a file is data, never a way to
exhaust the stack.

``json.loads`` recurses once per level, so a few thousand ``[`` give a RecursionError (a
traceback) and a deep but legal document costs memory for no purpose: the API's answers
and wfsync's own files are a handful of levels deep.

    >>> loads('{"data": [{"id": "a"}]}')
    {'data': [{'id': 'a'}]}
    >>> loads("[" * 100 + "]" * 100)
    Traceback (most recent call last):
    ...
    wfsync.safejson.JsonDepthError: JSON nested deeper than 32 levels
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "JsonDepthError", "loads"]

MAX_DEPTH = 32


class JsonDepthError(ValueError):
    """A JSON document nested deeper than allowed."""


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``max_depth`` (ValueError)."""
    limit = f"JSON nested deeper than {max_depth} levels"
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonDepthError(limit) from None
    # Walked without recursion, so the check itself cannot overflow.
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= max_depth:
            raise JsonDepthError(limit)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return value
