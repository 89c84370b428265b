"""Definition files -> validated :class:`Definition` values, or every problem at once.

A definition is one entry of a file's top-level ``workflows:`` list (SPEC §2). Loading
reads every file under the given paths, checks each against
``schemas/definitions.schema.json`` and the rules no schema can express (a title defined
twice, a rename that collides, the same schedule twice), and raises one
:class:`DefinitionError` holding every problem of every file, each with its location.

    >>> definitions = load_definitions(["examples/workflows"])   # doctest: +SKIP
    >>> definitions[0].title, definitions[0].body["webhook"]      # doctest: +SKIP
    ('Appointment reminder', {'url': 'https://…'})

``${NAME}`` in a string value is replaced by environment variable NAME; ``$${`` is a
literal ``${``. Values that came from the environment are remembered in
:attr:`Definition.secrets` so that no message or plan ever shows them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from wfsync import body as workflow_body
from wfsync import schema
from wfsync.errors import WfsyncError
from wfsync.schema import utc_instant
from wfsync.yamlsource import Document, Location, Problem, YamlError, paused_gc, read_yaml

__all__ = [
    "Definition",
    "DefinitionError",
    "Schedule",
    "expand",
    "find_files",
    "load_definitions",
    "platform_timezone",
]

SUFFIXES = (".yaml", ".yml")
SETTINGS_NAMES = ("wfsync.yaml", "wfsync.yml")

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Schedule:
    """A one-shot run a workflow must have pending."""

    at: datetime
    timezone: str  # the platform's form: GMT, GMT_plus_N, GMT_minus_N
    location: Location | None = None
    zone: str | None = None  # the IANA zone it was written in, when it was

    @property
    def instant(self) -> str:
        """The instant in UTC, as the platform writes it: ``2027-07-01T08:00:00.000Z``."""
        return utc_instant(self.at)


PLATFORM_ZONES = frozenset(
    ["GMT"] + [f"GMT_plus_{n}" for n in range(1, 15)] + [f"GMT_minus_{n}" for n in range(1, 13)]
)


def platform_timezone(name: str, at: datetime) -> tuple[str, str | None]:
    """The platform's zone name for ``name`` at the instant ``at``, or an error.

    ``GMT_plus_2`` stays as it is; ``Europe/Berlin`` becomes ``GMT_plus_1`` in winter and
    ``GMT_plus_2`` in summer. A zone whose offset then is not whole hours (Asia/Kolkata,
    +05:30) cannot be said in the platform's terms.
    """
    if name in PLATFORM_ZONES:
        return name, None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        offset = at.astimezone(ZoneInfo(name)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError, OSError):
        hint = "use GMT, GMT_plus_N, GMT_minus_N or an IANA zone such as Europe/Berlin"
        return name, f"unknown timezone {name!r}: {hint}"
    seconds = int(offset.total_seconds()) if offset is not None else 0
    hours, rest = divmod(abs(seconds), 3600)
    sign = "+" if seconds >= 0 else "-"
    if rest:
        return name, (
            f"{name} is UTC{sign}{hours:02d}:{rest // 60:02d} at {utc_instant(at)}; the platform's "
            "GMT_plus_N / GMT_minus_N zones are whole hours"
        )
    platform = "GMT" if hours == 0 else f"GMT_{'plus' if seconds > 0 else 'minus'}_{hours}"
    if platform not in PLATFORM_ZONES:
        return name, f"{name} is UTC{sign}{hours} at {utc_instant(at)}, beyond the platform's zones"
    return platform, None


@dataclass(frozen=True)
class Definition:
    """One workflow as the files define it."""

    title: str
    body: Mapping[str, Any] = field(repr=False)  # may hold values from the environment
    location: Location = field(default_factory=lambda: Location("<memory>", 1, 1))
    schedules: tuple[Schedule, ...] | None = None  # None: leave its schedules alone
    former_titles: tuple[str, ...] = ()
    # Body paths whose values came from ${ENV}, and the text written there: no message,
    # plan output or plan file ever shows the value itself.
    secrets: Mapping[PathKey, str] = field(default_factory=dict, repr=False)


class DefinitionError(WfsyncError):
    """Definitions that cannot be used; ``problems`` holds every one, sorted by place."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems))
        count = len(self.problems)
        super().__init__(
            "\n".join(map(str, self.problems)) + f"\n{count} problem{'s' * (count != 1)} in the definitions"
        )


def find_files(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[Problem]]:
    """The definition files under ``paths``: files as given, directories recursively in
    sorted order, skipping hidden files and folders and the settings file."""
    files: list[Path] = []
    problems: list[Problem] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if _is_definition_file(p.relative_to(path)) and p.is_file()
            )
            if not found:
                problems.append(
                    Problem(Location(str(path), 0, 0), "no definition files (*.yaml, *.yml) here")
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(Location(str(path), 0, 0), "no such file or directory"))
    unique = list(dict.fromkeys(files))
    return unique, problems


def _is_definition_file(relative: Path) -> bool:
    """A *.yaml/*.yml file found in a folder, less hidden ones (.github/, .pre-commit-config.yaml)
    and the settings file."""
    return (
        relative.suffix in SUFFIXES
        and relative.name not in SETTINGS_NAMES
        and not any(part.startswith(".") for part in relative.parts)
    )


def load_definitions(
    paths: Sequence[str | os.PathLike[str]], env: Mapping[str, str] | None = None
) -> list[Definition]:
    """Every definition under ``paths``, in file order; raises DefinitionError."""
    env = os.environ if env is None else env
    files, problems = find_files(paths)
    definitions: list[Definition] = []
    with paused_gc():
        for path in files:
            try:
                data = path.read_bytes()
            except OSError as exc:
                problems.append(Problem(Location(str(path), 0, 0), f"cannot read: {exc.strerror}"))
                continue
            loaded, file_problems = parse_file(str(path), data, env)
            definitions.extend(loaded)
            problems.extend(file_problems)
    problems.extend(_cross_checks(definitions))
    if problems:
        raise DefinitionError(problems)
    return definitions


def parse_file(file: str, data: bytes, env: Mapping[str, str]) -> tuple[list[Definition], list[Problem]]:
    """The definitions of one file and the problems found in it."""
    try:
        document = read_yaml(file, data)
    except YamlError as exc:
        return [], exc.problems
    top = document.value
    start = Location(file, 1, 1)
    if top is None:
        return [], [Problem(start, "empty file: expected a top-level workflows: list")]
    if not isinstance(top, dict):
        found = type(top).__name__
        return [], [Problem(start, f"expected a top-level workflows: list, not a {found}")]
    problems: list[Problem] = list(document.problems)
    secrets, unresolved = _interpolate(document, env, problems)
    issues = schema.validate("definitions", top, strip=2)
    for issue in issues:
        if issue.path in unresolved:  # reported already, as the missing variable
            continue
        key = issue.message.startswith("property ")
        problems.append(Problem(document.where(issue.path, key=key), _redact(issue, secrets)))
    entries = top.get("workflows")
    if not isinstance(entries, list):
        return [], problems
    # Checks beyond the schema look only at what the schema passed: skip broken parts.
    broken = _Broken({issue.path for issue in issues} | unresolved)
    secrets_by_entry: dict[int, dict[PathKey, str]] = {}
    for path, written in secrets.items():
        if len(path) > 2 and path[0] == "workflows" and isinstance(path[1], int):
            secrets_by_entry.setdefault(path[1], {})[path[2:]] = written
    definitions = []
    for index, entry in enumerate(entries):
        base = ("workflows", index)
        if not isinstance(entry, dict) or not isinstance(entry.get("title"), str) or base in broken.exact:
            continue
        entry_secrets = secrets_by_entry.get(index, {})
        definition, entry_problems = _definition(document, index, entry, entry_secrets, broken)
        problems.extend(entry_problems)
        definitions.append(definition)
    return definitions, problems


def _definition(
    document: Document,
    index: int,
    entry: dict[str, Any],
    secrets: dict[PathKey, str],
    broken: _Broken,
) -> tuple[Definition, list[Problem]]:
    """The definition of one entry; parts in ``broken`` (already reported) are left out.
    ``secrets`` holds the entry's values from the environment, by path within the entry."""
    base: PathKey = ("workflows", index)
    problems: list[Problem] = []
    schedules = None
    if isinstance(entry.get("schedules"), list) and (*base, "schedules") not in broken.exact:
        schedules = []
        seen: dict[datetime, Location] = {}
        for number, item in enumerate(entry["schedules"]):
            if broken.within((*base, "schedules", number)):
                continue
            at = schema.parse_instant(item["scheduledDate"])
            assert at is not None  # the schema checked the format
            where = document.where((*base, "schedules", number))
            if at in seen:
                problems.append(
                    Problem(
                        where,
                        f"the same schedule twice: {item['scheduledDate']} is the "
                        f"same instant as line {seen[at].line}",
                    )
                )
                continue
            seen[at] = where
            timezone, error = platform_timezone(item["timezone"], at)
            if error:
                problems.append(Problem(document.where((*base, "schedules", number, "timezone")), error))
                continue
            zone = item["timezone"] if timezone != item["timezone"] else None
            schedules.append(Schedule(at, timezone, where, zone))
    # The fields of the body sent to the API: every key but wfsync's own (schedules, lifecycle).
    fields = workflow_body.fields()
    body_secrets = {path: written for path, written in secrets.items() if path[0] in fields}
    definition = Definition(
        title=entry["title"],
        body={key: entry[key] for key in fields if key in entry},
        location=document.where((*base, "title")),
        schedules=tuple(schedules) if schedules is not None else None,
        # The schema passed the lifecycle unless it is broken: a list of titles.
        former_titles=()
        if broken.within((*base, "lifecycle"))
        else tuple(entry.get("lifecycle", {}).get("formerTitles", ())),
        secrets=body_secrets,
    )
    return definition, problems


@dataclass(frozen=True)
class _Broken:
    """The paths of a document that failed a check."""

    exact: set[PathKey]

    def within(self, prefix: PathKey) -> bool:
        """True when something at or under ``prefix`` is broken."""
        return any(path[: len(prefix)] == prefix for path in self.exact)


def _cross_checks(definitions: list[Definition]) -> Iterator[Problem]:
    """The rules that span definitions: unique titles, unambiguous renames."""
    by_title: dict[str, Definition] = {}
    for definition in definitions:
        first = by_title.setdefault(definition.title, definition)
        if first is not definition:
            yield Problem(
                definition.location,
                f"title {definition.title!r} is defined twice; the other is at {first.location}",
            )
    renamed_from: dict[str, Definition] = {}
    for definition in definitions:
        for former in definition.former_titles:
            if former == definition.title:
                yield Problem(definition.location, f"formerTitles lists this workflow's own title {former!r}")
            elif former in by_title:
                yield Problem(
                    definition.location,
                    f"formerTitles entry {former!r} is the title of another definition "
                    f"({by_title[former].location})",
                )
            elif renamed_from.setdefault(former, definition) is not definition:
                yield Problem(
                    definition.location,
                    f"formerTitles entry {former!r} is claimed by another definition too "
                    f"({renamed_from[former].location})",
                )


_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def expand(text: str, env: Mapping[str, str]) -> tuple[str, bool, list[str]]:
    """``text`` with ``${NAME}`` replaced from ``env`` and ``$${`` made ``${``.

    Returns the result, whether any variable was used, and the problems (a reference
    that is malformed or names a variable that is not set; those are left as written).
    """
    used = False
    errors: list[str] = []

    def replace(match: re.Match[str]) -> str:
        nonlocal used
        if match.group(0) == "$${":
            return "${"
        name = match.group(1)
        if name is None or not _NAME.fullmatch(name):
            errors.append(
                f"invalid reference {match.group(0)!r}: write ${{NAME}} for an environment variable, "
                "$${ for a literal ${"
            )
            return match.group(0)
        if name not in env:
            errors.append(f"environment variable {name} is not set")
            return match.group(0)
        used = True
        return env[name]

    return _REFERENCE.sub(replace, text), used, errors


def _interpolate(
    document: Document, env: Mapping[str, str], problems: list[Problem]
) -> tuple[dict[PathKey, str], set[PathKey]]:
    """Replace ``${NAME}`` in every string value. Returns {path: text as written} for the
    values that took something from the environment, and the paths left unresolved."""
    secrets: dict[PathKey, str] = {}
    unresolved: set[PathKey] = set()

    def substitute(path: PathKey, text: str) -> str:
        if "$" not in text:
            return text
        result, used, errors = expand(text, env)
        for error in errors:
            problems.append(Problem(document.where(path), error))
        if errors:
            unresolved.add(path)
        elif used:
            secrets[path] = text
        return result

    _walk_strings(document.value, (), substitute)
    return secrets, unresolved


def _walk_strings(value: Any, path: PathKey, change: Callable[[PathKey, str], str]) -> Any:
    """``value`` with every string replaced, in place, by ``change(path, string)``.

    A module function rather than a closure that calls itself: such a closure is a
    reference cycle, which (loading runs with the garbage collector paused, then frozen)
    would keep each whole document alive for good.
    """
    if isinstance(value, str):
        return change(path, value)
    if isinstance(value, dict):
        for key in value:
            value[key] = _walk_strings(value[key], (*path, key), change)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _walk_strings(item, (*path, index), change)
    return value


def _redact(issue: schema.SchemaIssue, secrets: Mapping[PathKey, str]) -> str:
    """The issue's message, with a value from the environment shown as it was written."""
    written = secrets.get(issue.path)
    if written is None:
        return issue.message
    hidden = f"{written!r} (its value from the environment is not shown)"
    return re.sub(r"(, not|Got) ('.*'|\".*\")$", lambda match: f"{match.group(1)} {hidden}", issue.message)
