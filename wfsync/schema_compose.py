"""The schemas as the validators use them, composed from the files in ``schemas/``.

The files are written for people and editors. ``workflow.schema.json`` describes the body
once, under ``$defs/body``, left open; the documents that take the body whole (the API
body itself, and a definition, which adds wfsync's ``schedules`` and ``lifecycle`` beside
it) reference it and close it with ``unevaluatedProperties: false``. That is the only way
JSON Schema lets one document extend another's properties without copying them.

fastjsonschema, the fast validator, does not know ``unevaluatedProperties`` and would
silently accept any key, so every node that uses it is composed here into the equivalent
``properties`` + ``additionalProperties: false``: the runtime never depends on a keyword
one of its validators ignores.

The patch schema (``workflow-patch``) has no file: it is derived from the body (every field
optional, ``null`` removes one that is not required), so a field added to the body can be
patched with nothing else to change.

    >>> definition = compose(Path("schemas"), "definitions")["$defs"]["definition"]  # doctest: +SKIP
    >>> list(definition["properties"]), definition["additionalProperties"]          # doctest: +SKIP
    (['title', 'callbackUrl', 'webhook', 'endCall', 'schedules', 'lifecycle'], False)
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from wfsync.errors import WfsyncError

__all__ = ["DERIVED", "SchemaError", "compose", "documents"]

SUFFIX = ".schema.json"
# Keywords that evaluate an object's properties: a node closed with unevaluatedProperties,
# or the body it closes, may use none but ``properties`` (and the one ``$ref``), or the
# composition would not mean what the file means.
_EVALUATING = frozenset(
    {
        "$ref",
        "$dynamicRef",
        "additionalProperties",
        "patternProperties",
        "unevaluatedProperties",
        "allOf",
        "anyOf",
        "oneOf",
        "if",
        "then",
        "else",
        "dependentSchemas",
    }
)
_DOCUMENT_KEYWORDS = ("$schema", "$id", "$defs", "$comment")


class SchemaError(WfsyncError, ValueError):
    """A schema in ``schemas/`` wfsync cannot use as it stands: a mistake in the schemas
    (say, a field just added), not in any input; reported as one line, like every error."""


@functools.cache
def _read(directory: Path, filename: str) -> dict[str, Any]:
    path = directory / filename
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:
        raise SchemaError(f"cannot read the schema {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise SchemaError(f"the schema {path} is not a JSON object")
    return document


def _pointer(document: Any, pointer: str, where: str) -> Any:
    node = document
    for part in filter(None, pointer.split("/")):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            raise SchemaError(f"{where}: the reference #{pointer} leads nowhere")
        node = node[key]
    return node


def _rebased(node: Any, filename: str) -> Any:
    """``node`` taken out of ``filename``: its references within that file made to name it."""
    if isinstance(node, list):
        return [_rebased(item, filename) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _rebased(value, filename) for key, value in node.items()}
    ref = result.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        result["$ref"] = filename + ref
    return result


def _target(ref: str, directory: Path, filename: str) -> dict[str, Any]:
    """The closed schema ``ref`` (``#/…`` or ``other.schema.json#/…``) points at, its own
    references rewritten to hold from ``filename``."""
    file, _, pointer = ref.partition("#")
    if file and ("/" in file or ":" in file or not file.endswith(SUFFIX)):
        raise SchemaError(f"{filename}: {ref!r} must name a schema beside it (other{SUFFIX}#/…)")
    source = file or filename
    found = _closed(_pointer(_read(directory, source), pointer, source), directory, source)
    if not isinstance(found, dict):
        raise SchemaError(f"{filename}: {ref!r} is not a schema")
    return found if source == filename else dict(_rebased(found, source))


def _closed(node: Any, directory: Path, filename: str) -> Any:
    """``node`` with every ``$ref`` + ``unevaluatedProperties: false`` made into the
    properties it means and ``additionalProperties: false``."""
    if isinstance(node, list):
        return [_closed(item, directory, filename) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _closed(value, directory, filename) for key, value in node.items()}
    if "unevaluatedProperties" not in result:
        return result
    if result.pop("unevaluatedProperties") is not False:
        raise SchemaError(f"{filename}: only unevaluatedProperties: false is supported")
    ref = result.pop("$ref", None)
    if _EVALUATING & result.keys():
        keys = ", ".join(sorted(_EVALUATING & result.keys()))
        raise SchemaError(f"{filename}: {keys} beside unevaluatedProperties cannot be composed")
    if ref is None:
        return result | {"additionalProperties": False}
    if not isinstance(ref, str):
        raise SchemaError(f"{filename}: $ref must be a string")
    target = _target(ref, directory, filename)
    if _EVALUATING & target.keys():
        keys = ", ".join(sorted(_EVALUATING & target.keys()))
        raise SchemaError(f"{filename}: {ref} uses {keys}; a schema closed from outside has only properties")
    own, theirs = result.get("properties", {}), target.get("properties", {})
    clash = sorted(own.keys() & theirs.keys())
    if clash:
        raise SchemaError(f"{filename}: {', '.join(clash)} is defined both here and in {ref}")
    merged = {key: value for key, value in target.items() if key not in _DOCUMENT_KEYWORDS} | result
    merged["properties"] = theirs | own
    required = list(dict.fromkeys([*target.get("required", ()), *result.get("required", ())]))
    if required:
        merged["required"] = required
    merged["additionalProperties"] = False
    return merged


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _patch_schema(directory: Path) -> dict[str, Any]:
    """PATCH /v1/workflows/{id}: any field of the body, at least one; null removes a field
    that is not required."""
    workflow = compose(directory, "workflow")
    required = set(workflow.get("required", ()))
    properties: dict[str, Any] = {}
    for name in workflow.get("properties", {}):
        field = {"$ref": f"workflow{SUFFIX}#/properties/{_escape(name)}"}
        properties[name] = field if name in required else {"anyOf": [field, {"type": "null"}]}
    return {
        "$schema": workflow.get("$schema", "https://json-schema.org/draft/2020-12/schema"),
        "$id": urljoin(str(workflow.get("$id", "")), f"workflow-patch{SUFFIX}"),
        "title": "WorkflowPatch",
        "description": (
            "A partial update of a workflow (PATCH /v1/workflows/{id}); null removes an optional "
            "field. Derived from workflow.schema.json by wfsync."
        ),
        "type": "object",
        "properties": properties,
        "minProperties": 1,
        "additionalProperties": False,
    }


# Schemas made from others rather than read from a file, by name.
DERIVED: dict[str, Callable[[Path], dict[str, Any]]] = {"workflow-patch": _patch_schema}


@functools.cache
def compose(directory: Path, name: str) -> dict[str, Any]:
    """The schema ``name`` (``NAME.schema.json`` in ``directory``, or derived) as validators
    use it. Cached: callers must not change it."""
    if name in DERIVED:
        return DERIVED[name](directory)
    filename = name + SUFFIX
    composed: dict[str, Any] = _closed(_read(directory, filename), directory, filename)
    return composed


@functools.cache
def documents(directory: Path) -> dict[str, dict[str, Any]]:
    """Every schema of ``directory`` (and every derived one) by its ``$id``."""
    names = {path.name.removesuffix(SUFFIX) for path in directory.glob(f"*{SUFFIX}")} | set(DERIVED)
    found = {}
    for name in sorted(names):
        document = compose(directory, name)
        if isinstance(document.get("$id"), str):
            found[document["$id"]] = document
    return found
