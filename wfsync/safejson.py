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
import re
from typing import Any

__all__ = ["MAX_DEPTH", "JsonDepthError", "loads"]

MAX_DEPTH = 32

# A document's depth is read from its brackets alone, at C speed: escapes go first (a
# quote or bracket escaped inside a string), then every byte but brackets and quotes,
# then strings (a bracket inside one is text). What is left is the nesting, each round
# removing the innermost containers. A walk over the decoded values cost as much as
# decoding them: a plan reads hundreds of pages.
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'[]{}"')
_STRING = re.compile(rb'"[^"]*+"')
_INNERMOST = re.compile(rb"\[\]|\{\}")


class JsonDepthError(ValueError):
    """A JSON document nested deeper than allowed."""


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``max_depth`` (ValueError)."""
    limit = f"JSON nested deeper than {max_depth} levels"
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonDepthError(limit) from None
    if _deeper_than(data, max_depth):
        raise JsonDepthError(limit)
    return value


def _deeper_than(document: str | bytes, max_depth: int) -> bool:
    """Whether ``document``, valid JSON, nests deeper than ``max_depth``."""
    if isinstance(document, str):
        document = document.encode("utf-8", "surrogatepass")
    elif json.detect_encoding(document) != "utf-8":  # UTF-16 or 32: rare, made UTF-8 first
        # As json.loads decodes it: a lone surrogate is a value there, so here too.
        encoding = json.detect_encoding(document)
        document = document.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    if b"\\" in document:
        document = _ESCAPE.sub(b"", document)
    skeleton = _STRING.sub(b"", document.translate(None, _NOT_STRUCTURE))
    for _ in range(max_depth):
        if not skeleton:
            return False
        skeleton = _INNERMOST.sub(b"", skeleton)
    return bool(skeleton)
