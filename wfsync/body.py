"""The workflow body, described once: by ``schemas/workflow.schema.json``.

Everything wfsync does with a body's fields is derived from that schema's properties, so
adding a property there is the whole of adding a field:

- :func:`fields`: the top-level names a definition sends to the API (its other keys,
  ``schedules`` and ``lifecycle``, are wfsync's own);
- :func:`leaves`: the values compared, as paths, each with how it compares;
- :func:`project`: the managed part of a server's answer, in the shape definitions write;
- :func:`diff`: the leaves that differ, as :class:`FieldDiff`;
- :func:`patch`: the PATCH body that makes them equal;
- :func:`leaf_values`: a body's leaves, as a plan lists a create.

How the schema is read: a property that is an object with its own ``properties`` and
``additionalProperties: false`` is compared leaf by leaf (fields a server adds inside it
are not ours and never differ); any other property is one leaf, compared whole, so nothing
the schema lets a definition say is ever validated and then dropped. A leaf marked
``"x-wfsync-compare": "set"`` is a list whose order and repeats do not matter.

Empty equals absent (SPEC §1): a server may store ``[]``, ``{}``, ``""`` or ``null`` for a
field a body leaves out, so those values are the same as no value at all.

    >>> live = project({"id": "w1", "title": "Leads", "endCall": {"phrases": ["bye", "ciao"]},
    ...                 "webhook": {"url": None}, "__v": 3})
    >>> live
    {'title': 'Leads', 'endCall': {'phrases': ['bye', 'ciao']}}
    >>> changes = diff(live, {"title": "Leads", "endCall": {"phrases": ["ciao", "bye", "bye"]},
    ...                       "callbackUrl": "https://crm.example.com/done"})
    >>> [(change.path, change.old, change.new) for change in changes]
    [('callbackUrl', None, 'https://crm.example.com/done')]
    >>> patch({"title": "Leads", "callbackUrl": "https://crm.example.com/done"}, changes)
    {'callbackUrl': 'https://crm.example.com/done'}
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfsync import schema
from wfsync.schema_compose import compose

__all__ = [
    "COMPARE_KEYWORD",
    "SENSITIVE",
    "FieldDiff",
    "Leaf",
    "diff",
    "fields",
    "leaf_values",
    "leaves",
    "patch",
    "project",
]

# The schema keyword that says how a leaf compares, and the ways it may.
COMPARE_KEYWORD = "x-wfsync-compare"
COMPARE_MODES = ("value", "set")
SENSITIVE = "(sensitive)"

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldDiff:
    """One managed field that differs: where, what it is, what it will be (None: absent).

    A field any part of which comes from the environment is ``sensitive``: its values are
    never shown; ``written`` is what the definition wrote there (``https://h/${TOKEN}``),
    which plans show instead of the new value."""

    path: str
    old: Any
    new: Any
    sensitive: bool = False
    written: Any = None

    @property
    def data(self) -> dict[str, Any]:
        if self.sensitive:
            new = SENSITIVE if self.written is None else self.written
            return {"path": self.path, "old": SENSITIVE, "new": new, "sensitive": True}
        return {"path": self.path, "old": self.old, "new": self.new, "sensitive": False}


@dataclass(frozen=True)
class Leaf:
    """A value definitions manage: its path of property names and how it compares."""

    path: tuple[str, ...]
    compare: str = "value"

    @property
    def name(self) -> str:
        """The dotted path a plan shows: ``webhook.url``."""
        return ".".join(self.path)

    @property
    def field(self) -> str:
        """The top-level field a PATCH sends whole to change this leaf."""
        return self.path[0]


@dataclass(frozen=True)
class _Node:
    """A property of the body: a leaf, or an object compared by its own properties."""

    name: str
    leaf: Leaf
    children: tuple[_Node, ...] | None = None  # None: a leaf


@dataclass(frozen=True)
class _Model:
    nodes: tuple[_Node, ...]
    fields: tuple[str, ...]
    leaves: tuple[Leaf, ...]
    # Every node's dotted path -> its top-level field, to read a diff's field back.
    fields_by_path: Mapping[str, str]


def _resolved(node: Any, document: Mapping[str, Any]) -> Mapping[str, Any]:
    """``node`` with a ``$ref`` within the workflow schema followed (its siblings kept)."""
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = document
        for part in node["$ref"][2:].split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or key not in target:
                raise schema.SchemaError(f"workflow.schema.json: the reference {node['$ref']} leads nowhere")
            target = target[key]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
        seen += 1
        if seen > 20:
            raise schema.SchemaError("workflow.schema.json: a $ref loop")
    return node if isinstance(node, Mapping) else {}


def _nodes(
    properties: Mapping[str, Any], prefix: tuple[str, ...], document: Mapping[str, Any]
) -> tuple[_Node, ...]:
    nodes = []
    for name, raw in properties.items():
        path = (*prefix, name)
        where = f"workflow.schema.json: {'.'.join(path)}"
        if "." in name:  # a plan names leaves by dotted paths
            raise schema.SchemaError(f"{where}: a property name may not hold a dot")
        spec = _resolved(raw, document)
        compare = spec.get(COMPARE_KEYWORD, "value")
        if compare not in COMPARE_MODES:
            raise schema.SchemaError(f"{where}: {COMPARE_KEYWORD} must be one of {', '.join(COMPARE_MODES)}")
        closed = isinstance(spec.get("properties"), Mapping) and spec.get("additionalProperties") is False
        if closed and compare != "value":
            raise schema.SchemaError(f"{where}: {COMPARE_KEYWORD} applies to a value, not to an object")
        children = _nodes(spec["properties"], path, document) if closed else None
        nodes.append(_Node(name, Leaf(path, compare), children))
    return tuple(nodes)


def _walk(nodes: Sequence[_Node]) -> Iterator[_Node]:
    for node in nodes:
        yield node
        if node.children is not None:
            yield from _walk(node.children)


@functools.cache
def _model_in(directory: Path) -> _Model:
    document = compose(directory, "workflow")
    nodes = _nodes(document.get("properties", {}), (), document)
    every = list(_walk(nodes))
    return _Model(
        nodes,
        tuple(node.name for node in nodes),
        tuple(node.leaf for node in every if node.children is None),
        {node.leaf.name: node.leaf.field for node in every},
    )


_last: list[tuple[Path, _Model]] = []  # the model of the directory used last: a lookup per call


def _model() -> _Model:
    # Called per workflow of a listing (tens of thousands): an identity check, not a hash of the path.
    directory = schema.SCHEMA_DIR
    if not _last or _last[0][0] is not directory:
        _last[:] = [(directory, _model_in(directory))]
    return _last[0][1]


def fields() -> tuple[str, ...]:
    """The top-level fields of a body, in the schema's order."""
    return _model().fields


def leaves() -> tuple[Leaf, ...]:
    """The values compared, in the schema's order."""
    return _model().leaves


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # the exact type first: it is cheaper


def _present(value: Any) -> Any:
    """``value``, or None when it is empty: null, ``""``, ``[]`` and ``{}`` equal absent."""
    if value is None or (not value and isinstance(value, str | list | Mapping)):  # never 0 or false
        return None
    return value


def _project(nodes: Sequence[_Node], raw: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for node in nodes:
        value = _present(raw.get(node.name))
        if value is None:
            continue
        if node.children is not None and _is_mapping(value):
            inner = _project(node.children, value)
            if inner:
                body[node.name] = inner
        else:  # a leaf; or an object in an odd shape, kept so that it shows as a difference
            body[node.name] = value
    return body


def project(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The managed fields of a server's answer, in the shape definitions write them.

    Fields the schema does not describe (``createdAt``, ``__v``, a webhook's ``secret``…)
    are left out, and so are empty values (they equal absent).
    """
    return _project(_model().nodes, raw)


def _canonical(item: Any) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def _same(leaf: Leaf, old: Any, new: Any) -> bool:
    if leaf.compare == "set" and isinstance(old, list) and isinstance(new, list):
        try:
            return set(old) == set(new)
        except TypeError:  # unhashable items (objects) from an odd server: compare their JSON texts
            return {_canonical(item) for item in old} == {_canonical(item) for item in new}
    return bool(old == new)


def _diffs(
    nodes: Sequence[_Node],
    live: Mapping[str, Any],
    desired: Mapping[str, Any],
    secret: frozenset[str],
    found: list[FieldDiff],
) -> None:
    for node in nodes:
        old, new = _present(live.get(node.name)), _present(desired.get(node.name))
        if (
            node.children is not None
            and (old is None or _is_mapping(old))
            and (new is None or _is_mapping(new))
        ):
            _diffs(node.children, old or {}, new or {}, secret, found)
        elif not _same(node.leaf, old, new):  # a leaf, or an object a server sent in another shape
            found.append(FieldDiff(node.leaf.name, old, new, node.leaf.field in secret))


def diff(
    live: Mapping[str, Any], desired: Mapping[str, Any], secrets: Iterable[PathKey] = ()
) -> list[FieldDiff]:
    """The managed leaves where ``live`` differs from ``desired``, in the schema's order.

    ``secrets`` are the body paths whose values came from the environment: a field any part
    of which is one is shown as sensitive, whole.
    """
    if live is desired:  # a plan holds an equal live body as its definition's (shapes.share)
        return []
    secret = frozenset(str(path[0]) for path in secrets if path)
    found: list[FieldDiff] = []
    _diffs(_model().nodes, live, desired, secret, found)
    return found


def patch(desired: Mapping[str, Any], diffs: Iterable[FieldDiff]) -> dict[str, Any]:
    """The PATCH body that makes the diffs' fields equal ``desired``: each touched top-level
    field whole, null for one ``desired`` leaves out (the API removes it)."""
    by_path = _model().fields_by_path
    touched = set()
    for change in diffs:
        if change.path not in by_path:
            raise ValueError(f"{change.path!r} is not a field of the workflow body")
        touched.add(by_path[change.path])
    return {name: desired.get(name) for name in fields() if name in touched}


def _values(nodes: Sequence[_Node], body: Mapping[str, Any]) -> Iterator[tuple[Leaf, Any]]:
    for node in nodes:
        value = _present(body.get(node.name))
        if value is None:
            continue
        if node.children is not None and _is_mapping(value):
            yield from _values(node.children, value)
        else:
            yield node.leaf, value


def leaf_values(body: Mapping[str, Any]) -> list[tuple[Leaf, Any]]:
    """The leaves ``body`` sets, with their values, in the schema's order."""
    return list(_values(_model().nodes, body))
