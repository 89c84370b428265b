"""A line-by-line reader for the plain block YAML that definition files are made of.

PyYAML builds a node, two marks and a tag for every value before wfsync builds the value
itself: two thirds of reading 10,000 definitions. Most files use a small part of YAML:
``key: value`` lines, ``- `` entries, one-line ``[a, b]`` lists, quoted or plain
one-line scalars, comments. :func:`read_plain` reads exactly that part, with the same
values, types and locations as the full reader, and returns None for anything else (an
anchor, a tag, a multi-line scalar, a duplicate key, an empty value, a tab, a character
beyond printable ASCII…), so that the full reader, which reports problems, reads it.

Scalars are resolved and converted by the same PyYAML functions as in the full reader,
so ``yes``, ``012`` or ``10:30`` mean what they always meant.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Container
from typing import Any

__all__ = ["read_plain"]

Mark = tuple[int, int]  # 0-based line and column, as PyYAML's marks count them

_UNUSUAL = re.compile(r"[^\n\x20-\x7e]")  # tabs, CR, control and non-ASCII characters
_FIRST = r"[A-Za-z0-9_$/(]"  # a plain scalar's first character: never an indicator
# In block context a plain scalar ends at ": ", " #" or the line's end; flow indicators
# are ordinary characters there.
# Possessive quantifiers (Python 3.11): a line that does not match fails at once,
# never by trying every way to split it.
_BLOCK_PLAIN = _FIRST + r"(?:[^\s:]++|:(?=\S)|[ ]++(?=[^\s#]))*+"
_FLOW_PLAIN = _FIRST + r"(?:[^\s:#,\[\]{}]++|[ ]++(?=[^\s:#,\[\]{}]))*+"
_QUOTED = r"\"[^\"\\]*+\"|'[^']*+'"
_FLOW_ITEM = rf"(?:{_QUOTED}|{_FLOW_PLAIN})"
_FLOW = rf"\[[ ]*+(?:{_FLOW_ITEM}(?:[ ]*+,[ ]*+{_FLOW_ITEM})*+)?[ ]*+\]"
_LINE = re.compile(
    rf"""(?P<indent>[ ]*+)
    (?:(?P<dash>-)[ ]++)?
    (?:(?P<key>[A-Za-z_][A-Za-z0-9_-]*+):(?=[ ]|$))?
    (?:(?(key)[ ]++|)(?P<value>{_QUOTED}|{_FLOW}|{_BLOCK_PLAIN}))?
    (?:[ ]+\#.*)?[ ]*$""",
    re.VERBOSE,
)
_ITEMS = re.compile(rf"({_FLOW_ITEM})[ ]*[,\]]")


class _Unusual(Exception):
    """The text uses YAML beyond the plain part: the full reader reads it."""


def read_plain(
    text: str, scalar: Any, resolved: Container[str] | None = None
) -> tuple[Any, dict[Any, Mark], dict[Any, Mark], list[tuple[Any, ...]]] | None:
    """``(value, marks of values, marks of keys, paths of strings holding a $)`` of a plain
    block YAML document, or None. The last spares interpolation a walk over every value.

    ``scalar(text)`` gives the value of a plain scalar, raising ValueError when it is one
    the full reader would refuse or report; ``resolved``, when given, holds the first
    characters of the scalars it may make something other than the text itself (most
    values, titles and URLs, start with none of them: no call).
    """
    if _UNUSUAL.search(text):
        return None
    try:
        return _Reader(scalar, resolved).read(text)
    except _Unusual:
        return None


class _Reader:
    def __init__(self, scalar: Any, resolved: Container[str] | None) -> None:
        self.scalar = scalar
        self.resolved = resolved
        self.values: dict[Any, Mark] = {}
        self.keys: dict[Any, Mark] = {}
        self.dollars: list[tuple[Any, ...]] = []
        # Short strings (phrases, names) as one object however often the file writes them;
        # a table of this file's, not sys.intern, whose table would keep a slot for every
        # title of every file for good (definitions share equal values across files).
        self.strings: dict[str, str] = {}

    def _shared(self, value: Any) -> Any:
        return self.strings.setdefault(value, value) if type(value) is str and len(value) <= 32 else value

    def value(self, written: str, path: Any, mark: Mark) -> Any:
        """The value written at ``mark``: a quoted or plain scalar, or a flow list."""
        self.values[path] = mark
        first = written[0]
        if first == '"' or first == "'":
            text = written[1:-1]
            if "$" in text:
                self.dollars.append(path)
            return self._shared(text)
        if first != "[":
            if self.resolved is not None and first not in self.resolved:
                value = written  # a plain scalar that can only be its text (see read())
            else:
                try:
                    value = self.scalar(written)
                except ValueError:
                    raise _Unusual from None
            if "$" in written and type(value) is str:
                self.dollars.append(path)
            return self._shared(value)
        items = []
        line, column = mark
        for index, match in enumerate(_ITEMS.finditer(written, 1)):
            items.append(self.value(match.group(1), (*path, index), (line, column + match.start(1))))
        return items

    def read(self, text: str) -> tuple[Any, dict[Any, Mark], dict[Any, Mark], list[tuple[Any, ...]]]:
        values, keys, scalar, dollars, resolved, shared = (
            self.values,
            self.keys,
            self.scalar,
            self.dollars,
            self.resolved,
            self._shared,
        )
        match_line, intern = _LINE.match, sys.intern
        root: dict[str, Any] = {}
        # Open containers, innermost last: (indent, container, path); a list is a sequence.
        # The innermost is also held in locals (top_*), read on nearly every line.
        stack: list[tuple[int, Any, tuple[Any, ...]]] = []
        top: Any = root
        top_path: tuple[Any, ...] = ()
        top_indent, top_list = -1, False
        pending: tuple[dict[str, Any], str, int, tuple[Any, ...]] | None = None  # a `key:` awaiting its block
        for number, line in enumerate(text.split("\n")):
            match = match_line(line)
            if match is None:
                if line.lstrip(" ")[:1] == "#":  # a comment line
                    continue
                raise _Unusual
            indent, dash, key, written = match.groups()
            if key is None:
                if dash is None:
                    if written is None:  # a blank line
                        continue
                    raise _Unusual  # a bare scalar
            else:  # the same few keys in every definition: one string each
                key = intern(key)
            column = len(indent)
            if dash:
                inner = match.start(3) if key else match.start(4)
                if inner < 0:  # `- ` and nothing else
                    raise _Unusual
            if pending is not None:
                parent, name, key_column, path = pending
                pending = None
                if dash and column >= key_column:
                    top = parent[name] = []
                    top_list = True
                elif not dash and key and column > key_column:
                    top = parent[name] = {}
                    top_list = False
                else:
                    raise _Unusual  # an empty value: null, and where PyYAML marks it is subtle
                stack.append((column, top, path))
                top_indent, top_path = column, path
                values[path] = (number, column)
            elif column != top_indent or top_list != bool(dash):
                if not stack:  # the document starts with a key at column 0
                    if column or dash:
                        raise _Unusual
                    values[()] = (number, 0)
                    stack.append((0, root, ()))
                    top_indent = 0
                else:
                    while stack[-1][0] > column:
                        stack.pop()
                    if not dash and type(stack[-1][1]) is list and stack[-1][0] == column:
                        stack.pop()  # an indentless sequence ends at its parent's next key
                    top_indent, top, top_path = stack[-1]
                    top_list = type(top) is list
                    if top_indent != column or top_list != bool(dash):
                        raise _Unusual
            container, path = top, top_path
            if dash:
                item_path = (*path, len(container))
                if key is None:
                    container.append(self.value(written, item_path, (number, inner)))
                    continue
                entry: dict[str, Any] = {}
                container.append(entry)
                values[item_path] = (number, inner)
                stack.append((inner, entry, item_path))
                top_indent, top, top_path, top_list = inner, entry, item_path, False
                container, path, column = entry, item_path, inner
            if key is None or key in container:  # (None: told above) a duplicate key
                raise _Unusual
            key_path = (*path, key)
            keys[key_path] = (number, column)
            if written is None:
                container[key] = None
                pending = (container, key, column, key_path)
            elif written[0] in "\"'[":
                container[key] = self.value(written, key_path, (number, match.start(4)))
            else:  # a plain scalar, the most common line: no call to value()
                values[key_path] = (number, match.start(4))
                if resolved is not None and written[0] not in resolved:
                    if "$" in written:
                        dollars.append(key_path)
                    container[key] = shared(written)
                    continue
                try:
                    value = scalar(written)
                except ValueError:
                    raise _Unusual from None
                if "$" in written and type(value) is str:
                    dollars.append(key_path)
                container[key] = shared(value)
        if pending is not None or not stack:
            raise _Unusual
        return root, values, keys, dollars
