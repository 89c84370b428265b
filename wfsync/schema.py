"""The JSON Schemas in ``schemas/``, loaded once, and validation that reports every issue.

The emulator validates request bodies with these schemas and the definitions loader
validates files with them, so the two can never disagree about what a workflow is.

    >>> issues = validate("workflow", {"title": "", "colour": "red"})
    >>> [issue.message for issue in issues]
    ['property colour should not exist', 'title must not be empty']
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from wfsync.schema_compose import SchemaError, compose, documents

__all__ = [
    "SCHEMA_DIR",
    "SchemaError",
    "SchemaIssue",
    "is_http_url",
    "is_valid",
    "load",
    "parse_instant",
    "string_check",
    "utc_instant",
    "validate",
]

_HERE = Path(__file__).resolve().parent
# Installed wheels carry the schemas inside the package; a source checkout has them
# at the top of the repository. Everything read from it is cached by directory, so a test
# may point this at a copy.
SCHEMA_DIR = _HERE / "schemas" if (_HERE / "schemas").is_dir() else _HERE.parent / "schemas"


@dataclass(frozen=True)
class SchemaIssue:
    """One problem in a document: where (a path of keys and indexes) and what."""

    path: tuple[str | int, ...]
    message: str

    @property
    def dotted(self) -> str:
        return _dotted(self.path)


def parse_instant(value: str) -> datetime | None:
    """An ISO-8601 date-time with a zone, or None when ``value`` is not one."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else None


def utc_instant(moment: datetime) -> str:
    """``moment`` in UTC as the platform writes instants: ``2027-07-01T08:00:00.000Z``."""
    utc = moment.astimezone(UTC)
    # strftime's %Y does not pad years before 1000, which ISO-8601 requires.
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


# Most URLs are plain: scheme, host, optional port, then printable ASCII. This accepts
# a strict subset of what the urlsplit check below accepts, and saves it (it was 60% of
# checking 10,000 definitions against the schema).
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][!-~]*)?")


def is_http_url(value: str) -> bool:
    """True for an absolute http(s) URL with a host."""
    if _PLAIN_URL.fullmatch(value):
        return True
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value


# The formats the schemas use, as wfsync checks them (the fast check and string_check).
_FORMATS: dict[str, Callable[[str], bool]] = {
    "uri": is_http_url,
    "date-time": lambda value: bool(parse_instant(value)),
}


def load(name: str) -> dict[str, Any]:
    """The schema called ``name`` (``workflow``, ``workflow-patch``, ``definitions``, …) as the
    validators use it, composed from the files in :data:`SCHEMA_DIR` (see
    :mod:`wfsync.schema_compose`). Cached: callers must not change it."""
    return compose(SCHEMA_DIR, name)


@functools.cache
def _validator_in(directory: Path, name: str) -> Any:
    import jsonschema
    from referencing import Registry, Resource

    resources = [(uri, Resource.from_contents(contents)) for uri, contents in documents(directory).items()]
    registry: Registry[Any] = Registry().with_resources(resources)

    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(parse_instant(value)))
    checker.checks("uri")(lambda value: not isinstance(value, str) or is_http_url(value))
    document = compose(directory, name)
    return jsonschema.Draft202012Validator(document, registry=registry, format_checker=checker)


def _validator(name: str) -> Any:
    """jsonschema's validator for ``name``: slower, kept to explain what is wrong."""
    return _validator_in(SCHEMA_DIR, name)


@functools.cache
def _fast_check_in(directory: Path, name: str) -> Any:
    import copy

    import fastjsonschema

    # A copy: fastjsonschema rewrites the references of the schemas it compiles in place,
    # and the composed ones are cached for every other reader (the emulator's OpenAPI).
    # Copied together, so the schema compiled is still the one its references lead back to.
    schema, found = copy.deepcopy((compose(directory, name), documents(directory)))
    return fastjsonschema.compile(
        schema,
        handlers={"https": found.__getitem__},
        formats=_FORMATS,
        use_default=False,
    )


def _fast_check(name: str) -> Any:
    """The schema compiled to Python by fastjsonschema: about 20 times faster than
    jsonschema, which is kept to explain what is wrong once something is."""
    return _fast_check_in(SCHEMA_DIR, name)


def prepare(name: str) -> None:
    """Compile the fast check of ``name`` now: before forking copies that would each
    compile it again (wfsync.shares)."""
    _fast_check(name)


def is_valid(name: str, instance: Any) -> bool:
    """True when ``instance`` passes the schema ``name`` (the fast path)."""
    import fastjsonschema

    try:
        _fast_check(name)(instance)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def validate(name: str, instance: Any, *, strip: int = 0) -> list[SchemaIssue]:
    """Every issue the schema ``name`` finds in ``instance``, sorted by path; [] when valid.

    Messages name fields by their path less its first ``strip`` parts (the path kept in
    each issue is whole).
    """
    if is_valid(name, instance):
        return []
    issues = {issue for error in _validator(name).iter_errors(instance) for issue in _explain(error, strip)}
    if not issues:  # the two validators disagree: never let that pass silently
        issues = {SchemaIssue((), f"rejected by the {name} schema")}
    return sorted(issues, key=lambda issue: (tuple(map(str, issue.path)), issue.message))


# Keywords of a node on the way to a string that only look at keys, types and counts, or
# say nothing at all: a string below such nodes is valid or not on its own.
_STRUCTURAL = frozenset(
    {"type", "properties", "items", "required", "additionalProperties", "minItems", "maxItems"}
    | {"minProperties", "maxProperties", "$ref", "$id", "$schema", "$defs", "$comment"}
    | {"description", "title", "default", "examples"}
)
_STRING = frozenset({"type", "minLength", "maxLength", "format", "pattern", "enum", "const", "$ref"})


def string_check(name: str, path: tuple[str | int, ...]) -> Callable[[str], bool] | None:
    """Whether a string at ``path`` passes the schema ``name``, judged on its own: valid
    for any string that passes, in a document that passes with another string there.

    None when that cannot be told from the string alone: a node on the way whose verdict
    could depend on the string (anyOf, uniqueItems, if…), or keywords this does not know.
    """
    shape = tuple(-1 if isinstance(part, int) else part for part in path)
    return _string_check_in(SCHEMA_DIR, name, shape)


@functools.cache
def _string_check_in(
    directory: Path, name: str, shape: tuple[str | int, ...]
) -> Callable[[str], bool] | None:
    resources = documents(directory)
    node: Any = compose(directory, name)
    base = str(node.get("$id", ""))
    for part in (*shape, None):
        while isinstance(node, dict) and "$ref" in node:  # its siblings: annotations only
            if _keywords(node) - _ANNOTATIONS - {"$ref"}:
                return None
            node, base = _resolve(resources, base, node["$ref"])
            if node is None:
                return None
        if node is True or node == {}:
            return lambda value: True
        if not isinstance(node, dict):
            return None
        if part is None:
            break
        if _keywords(node) - _STRUCTURAL:
            return None
        if isinstance(part, int):
            node = node.get("items", True)
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        else:
            node = node.get("additionalProperties", True)
    if _keywords(node) - _STRING - _ANNOTATIONS or node.get("format", "uri") not in _FORMATS:
        return None
    return _string_rule(node)


_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "$comment"})


def _keywords(node: dict[str, Any]) -> set[str]:
    """The node's keywords less wfsync's own annotations (``x-wfsync-compare``…)."""
    return {key for key in node if not key.startswith("x-")}


def _resolve(resources: dict[str, Any], base: str, ref: Any) -> tuple[Any, str]:
    """The node ``ref`` points at from ``base``, and its document's id; (None, "") if none."""
    if not isinstance(ref, str):
        return None, ""
    uri, _, pointer = urljoin(base, ref).partition("#")
    node: Any = resources.get(uri)
    for token in pointer.split("/")[1:] if pointer else ():
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or token not in node:
            return None, ""
        node = node[token]
    return node, uri


def _string_rule(node: dict[str, Any]) -> Callable[[str], bool]:
    kinds = node.get("type", "string")
    if "string" not in (kinds if isinstance(kinds, list) else [kinds]):
        return lambda value: False
    shortest, longest = node.get("minLength", 0), node.get("maxLength")
    form = _FORMATS.get(node.get("format", ""))
    pattern = re.compile(node["pattern"]) if "pattern" in node else None
    allowed = node.get("enum")
    const = node.get("const", _NOTHING)

    def check(value: str) -> bool:
        return (
            len(value) >= shortest
            and (longest is None or len(value) <= longest)
            and (form is None or form(value))
            and (pattern is None or pattern.search(value) is not None)
            and (allowed is None or value in allowed)
            and (const is _NOTHING or value == const)
        )

    return check


_NOTHING = object()


def _shown(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut short: a message never carries a whole huge value."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 12]}… ({len(text):,} chars)"


def _dotted(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


_TYPE_NAMES = {
    "string": "a string",
    "object": "an object",
    "array": "a list",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _explain(error: Any, strip: int = 0) -> Iterator[SchemaIssue]:
    """Turn one jsonschema error into messages a person can act on."""
    path = tuple(error.absolute_path)

    def named(full: tuple[str | int, ...]) -> str:
        if len(full) > strip:
            return _dotted(full[strip:])
        return _dotted(full) if full or not strip else "the document"

    where = named(path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind in ("anyOf", "oneOf") and "errorMessage" in error.schema:
        yield SchemaIssue(path, f"{where} {error.schema['errorMessage']}; got {_shown(instance)}")
    elif kind in ("anyOf", "oneOf") and error.context:
        # Report the closest branch rather than "is not valid under any of the given schemas".
        best = min(error.context, key=lambda sub: (len(sub.path) * -1, sub.validator == "type"))
        yield from _explain(best, strip)
    elif kind == "additionalProperties" and isinstance(instance, Mapping):
        known = list(error.schema.get("properties", {}))
        for key in sorted(set(instance) - set(known)):
            hint = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
            yield SchemaIssue((*path, key), f"property {key} should not exist{suffix}")
    elif kind == "required":
        present = instance if isinstance(instance, Mapping) else {}
        for missing in (key for key in value if key not in present):
            yield SchemaIssue((*path, missing), f"{named((*path, missing))} is required")
    elif kind == "type":
        names = value if isinstance(value, list) else [value]
        wanted = " or ".join(_TYPE_NAMES.get(name, str(name)) for name in names)
        yield SchemaIssue(path, f"{where} must be {wanted}")
    elif kind == "format" and value == "uri":
        yield SchemaIssue(path, f"{where} must be an absolute http(s) URL, not {_shown(instance)}")
    elif kind == "format" and value == "date-time":
        yield SchemaIssue(
            path,
            f"{where} must be an ISO-8601 date-time with a zone (such as "
            f"2027-07-01T09:00:00.000Z), not {_shown(instance)}",
        )
    elif kind == "enum" and len(value) > 6 and "description" in error.schema:
        yield SchemaIssue(
            path,
            f"{where} must be one of {error.schema['description'].split(': ', 1)[-1]} Got {_shown(instance)}",
        )
    elif kind == "enum":
        yield SchemaIssue(
            path, f"{where} must be one of {', '.join(map(str, value))}; got {_shown(instance)}"
        )
    elif kind == "minLength" and value == 1:
        yield SchemaIssue(path, f"{where} must not be empty")
    elif kind == "minLength":
        yield SchemaIssue(path, f"{where} must be at least {value} characters long")
    elif kind == "maxLength":
        yield SchemaIssue(path, f"{where} must be at most {value} characters long")
    elif kind == "minItems":
        yield SchemaIssue(path, f"{where} must hold at least {value} item{'s' * (value != 1)}")
    elif kind == "minProperties":
        yield SchemaIssue(path, f"{where} must set at least {value} field{'s' * (value != 1)}")
    else:
        yield SchemaIssue(path, f"{where}: {error.message}")
