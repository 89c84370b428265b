"""``schemas/openapi.yaml`` with the JSON Schemas it refers to bundled in, as one document.

The OpenAPI file names the request bodies and the workflow's fields by file (``$ref:
workflow.schema.json``, ``workflow.schema.json#/$defs/body``) so that the emulator, the
definitions loader and the published description share one source, and a field added to the
body needs no edit here. Bundling inlines the schemas as the validators use them (composed,
the patch schema derived: :mod:`wfsync.schema_compose`; they are not recursive), so any
OpenAPI tool can read the result without resolving other files.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from wfsync import schema

__all__ = ["openapi_document"]

_KEYWORDS_DROPPED = ("$schema", "$id", "$defs")


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in filter(None, pointer.split("/")):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _schema_file(filename: str) -> dict[str, Any]:
    """A schema as wfsync reads it (derived ones, such as the patch, included), copied: the
    validators compiled from the cached one may rewrite it in place (fastjsonschema)."""
    document: dict[str, Any] = copy.deepcopy(schema.load(filename.removesuffix(".schema.json")))
    return document


def _inline(node: Any, current: dict[str, Any]) -> Any:
    """``node`` with every reference to a schema file (or inside one) replaced by its target."""
    if isinstance(node, list):
        return [_inline(item, current) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#/components/"):
        filename, _, pointer = ref.partition("#")
        target_doc = _schema_file(filename) if filename else current
        target = _inline(copy.deepcopy(_resolve(target_doc, pointer)), target_doc)
        siblings = {key: _inline(value, current) for key, value in node.items() if key != "$ref"}
        return {**target, **siblings}
    return {key: _inline(value, current) for key, value in node.items() if key not in _KEYWORDS_DROPPED}


def openapi_document() -> dict[str, Any]:
    """The bundled OpenAPI 3.1 description of the emulated API."""
    return _bundled(schema.SCHEMA_DIR)


@functools.cache
def _bundled(directory: Path) -> dict[str, Any]:
    import yaml

    with open(directory / "openapi.yaml", encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.safe_load(handle)
    bundled: dict[str, Any] = _inline(document, document)
    return bundled
