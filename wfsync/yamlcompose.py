"""The reading of :func:`wfsync.yamlsource.read_yaml`: PyYAML's composer (its C parser
when present) and the line reader of :mod:`wfsync.yamlfast`, building plain values that
remember where each one was written. A module of its own so that PyYAML is imported
only when a file is read (see :mod:`wfsync.yamlsource` for the rules).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import yaml

from wfsync.yamlfast import read_plain
from wfsync.yamlsource import (
    MAX_ALIAS_VALUES,
    MAX_BYTES,
    Document,
    Location,
    Path_,
    Problem,
    YamlError,
    strings_with_a_dollar,
)

__all__ = ["read"]

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _MERGE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"
# Scalars that may be keys (a key is kept as the text written: `1:` is the key "1").
_KEY_TAGS = frozenset(
    _STR if kind == "str" else f"tag:yaml.org,2002:{kind}" for kind in ("str", "int", "bool", "null", "float")
)
# Scalars kept as the text that was written, rather than converted.
_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}
# Scalars converted by SafeConstructor's plain functions (the others go through
# construct_object, which refuses unknown tags).
_CONVERTED = {
    f"tag:yaml.org,2002:{kind}": getattr(yaml.constructor.SafeConstructor, f"construct_yaml_{kind}")
    for kind in ("int", "bool", "null", "float")
}


_IMPLICIT: dict[str, list[tuple[str, Any]]] = _BaseLoader.yaml_implicit_resolvers
# Wildcard or path resolvers would make a scalar's tag depend on more than its text.
_BY_TEXT = None not in _IMPLICIT and not _BaseLoader.yaml_path_resolvers
_resolved: dict[str, str] = {}
# The first characters of the plain scalars a resolver may claim: any other is text.
_RESOLVED = frozenset(first for first, resolvers in _IMPLICIT.items() if resolvers)


def _implicit_tag(value: str) -> str:
    """The tag PyYAML's resolver gives the plain scalar ``value``, remembered.

    Resolving was a third of composing: every scalar ran a Python method that looked up
    regular expressions by its first character. Most values start with a character no
    resolver claims (titles, URLs): strings at once.
    """
    resolvers = _IMPLICIT.get(value[:1])
    if not resolvers:
        return _STR
    tag = _resolved.get(value)
    if tag is None:
        tag = next((tag for tag, pattern in resolvers if pattern.match(value)), _STR)
        if len(_resolved) >= 4096:  # unique values (dates, numbers) must not pile up
            _resolved.clear()
        _resolved[value] = tag
    return tag


class _Loader(_BaseLoader):  # type: ignore[misc]
    """The safe loader, with the tags of scalars resolved by :func:`_implicit_tag`."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and _BY_TEXT:
            return _implicit_tag(value) if implicit[0] else _STR
        return super().resolve(kind, value, implicit)


def _location(file: str, mark: Any) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def _decode(file: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        problem = Problem(
            Location(file, line, column),
            f"bytes that are not UTF-8 (0x{data[exc.start]:02x}); save the file as UTF-8",
        )
        raise YamlError([problem]) from None


def _yaml_problem(file: str, text: str, exc: yaml.YAMLError) -> Problem:
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
        before = text[: exc.position]
        where = Location(file, before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return Problem(where, f"character U+{ord(character):04X} is not allowed in YAML ({exc.reason})")
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    location = _location(file, mark) if mark is not None else Location(file, 1, 1)
    lines = text.splitlines()
    line = lines[location.line - 1] if 0 < location.line <= len(lines) else ""
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    if "\t" in indent:
        return Problem(
            Location(file, location.line, indent.index("\t") + 1),
            "tab used for indentation; YAML allows only spaces",
        )
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    return Problem(location, f"invalid YAML: {problem}" + (f" ({context})" if context else ""))


class _Builder:
    """Builds values from a composed node graph, recording locations and checking keys."""

    def __init__(self, file: str, *, merges: bool = True) -> None:
        self.file = file
        # False when the text cannot hold a merge key (no "<<", no explicit tag).
        self.merges = merges
        self.document = Document(file, None)
        self.problems = self.document.problems
        self.scalars = yaml.constructor.SafeConstructor()

    def size(self, root: yaml.Node) -> int | yaml.Node:
        """How many values the document holds once aliases are expanded, in linear time;
        or the node that an alias inside it refers back to."""
        sizes: dict[int, int] = {}
        open_nodes: set[int] = set()
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            children = self._children(node)
            if children_done:
                open_nodes.discard(id(node))
                sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
                continue
            if id(node) in sizes:
                continue
            if id(node) in open_nodes:
                return node
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
        return sizes[id(root)]

    @staticmethod
    def _children(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        return []

    def build(self, node: yaml.Node, path: Path_) -> Any:
        # Called for every value of every file: plain strings return at once.
        mark = node.start_mark
        self.document.values[path] = (mark.line, mark.column)
        kind = type(node)
        if kind is yaml.ScalarNode:
            tag = node.tag
            if tag == _STR or tag in _AS_TEXT:
                return node.value
            convert = _CONVERTED.get(tag)
            if convert is None:
                return self.scalars.construct_object(node)
            try:
                return convert(self.scalars, node)
            except (ValueError, KeyError):  # an explicit tag on text it does not fit: !!int abc
                where = _location(self.file, node.start_mark)
                kind_name = tag.rsplit(":", 1)[-1]
                self.problems.append(Problem(where, f"{node.value!r} is not a valid !!{kind_name}"))
                return node.value
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]

    def _pairs(self, node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
        """The mapping's pairs with ``<<`` merges resolved (explicit keys win)."""
        pairs: list[tuple[yaml.Node, yaml.Node]] = []
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for key, value in node.value:
            if key.tag != _MERGE:
                pairs.append((key, value))
                continue
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    merged.extend(self._pairs(source))
                else:
                    self.problems.append(
                        Problem(_location(self.file, source.start_mark), "<< can only merge a mapping")
                    )
        explicit = {k.value for k, _ in pairs if isinstance(k, yaml.ScalarNode)}
        inherited = [
            (k, v) for k, v in merged if not (isinstance(k, yaml.ScalarNode) and k.value in explicit)
        ]
        return pairs + inherited

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        keys = self.document.keys
        for key_node, value_node in self._pairs(node) if self.merges else node.value:
            if type(key_node) is not yaml.ScalarNode or key_node.tag not in _KEY_TAGS:
                where = _location(self.file, key_node.start_mark)
                self.problems.append(Problem(where, "a key must be plain text"))
                continue
            key = sys.intern(key_node.value)  # the same few keys in every definition
            if key in result:
                where = _location(self.file, key_node.start_mark)
                first = keys[(*path, key)][0] + 1
                self.problems.append(Problem(where, f"duplicate key {key!r} (first at line {first})"))
                continue
            keys[(*path, key)] = (key_node.start_mark.line, key_node.start_mark.column)
            result[key] = self.build(value_node, (*path, key))
        return result


def read(file: str, data: bytes, *, fast: bool = True) -> Document:
    """See :func:`wfsync.yamlsource.read_yaml`."""
    if len(data) > MAX_BYTES:
        raise YamlError(
            [
                Problem(
                    Location(file, 1, 1),
                    f"file is {len(data):,} bytes, over the limit of {MAX_BYTES:,}",
                )
            ]
        )
    text = _decode(file, data)
    plain = read_plain(text, _plain_scalar, _RESOLVED) if fast and _BY_TEXT else None
    if plain is not None:
        value, values, keys, dollars = plain
        return Document(file, value, values, keys, dollars=dollars)
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise YamlError([_yaml_problem(file, text, exc)]) from None
    except (ValueError, RecursionError) as exc:  # the C parser's rare non-YAML errors
        raise YamlError([Problem(Location(file, 1, 1), f"invalid YAML: {exc}")]) from None
    nodes = [node for node in nodes if node is not None]
    if len(nodes) > 1:
        second = _location(file, nodes[1].start_mark)
        raise YamlError([Problem(second, "one YAML document per file, please (found a second)")])
    builder = _Builder(file, merges="<<" in text or "!" in text)
    if not nodes:
        return builder.document
    root = nodes[0]
    if "*" in text:  # an alias is written *name: without one there is nothing to expand
        _check_aliases(builder, root)
    try:
        builder.document.value = builder.build(root, ())
    except yaml.YAMLError as exc:
        raise YamlError([*builder.problems, _yaml_problem(file, text, exc)]) from None
    except RecursionError:
        raise YamlError([Problem(_location(file, root.start_mark), "nesting too deep")]) from None
    builder.document.dollars = list(strings_with_a_dollar(builder.document.value))
    return builder.document


_SCALARS = yaml.constructor.SafeConstructor()


def _plain_scalar(text: str) -> Any:
    """The value of a plain scalar, as the full reader gives it; ValueError where that
    reader would refuse or report it (``=``, an explicit tag's text)."""
    tag = _implicit_tag(text)
    if tag == _STR or tag in _AS_TEXT:
        return text
    convert = _CONVERTED.get(tag)
    if convert is None:
        raise ValueError(tag)
    return convert(_SCALARS, yaml.ScalarNode(tag, text))


def _check_aliases(builder: _Builder, root: yaml.Node) -> None:
    """Refuse a document whose aliases refer back into themselves or expand too far."""
    expanded = builder.size(root)
    if isinstance(expanded, yaml.Node):
        where = _location(builder.file, expanded.start_mark)
        raise YamlError([Problem(where, "an alias inside this node refers back to it")])
    if expanded > sum(1 for _ in _walk_unique(root)) + MAX_ALIAS_VALUES:
        where = _location(builder.file, root.start_mark)
        message = f"aliases expand this document by over {MAX_ALIAS_VALUES:,} values (an alias bomb?)"
        raise YamlError([Problem(where, message)])


def _walk_unique(root: yaml.Node) -> Iterable[yaml.Node]:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(_Builder._children(node))
