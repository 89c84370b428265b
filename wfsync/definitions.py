"""Definition files -> validated :class:`Definition` values, or every problem at once.

A definition is one entry of a file's top-level ``workflows:`` list (SPEC §2). Loading
reads every file under the given paths, checks each against
``schemas/definitions.schema.json`` and the rules no schema can express (a title defined
twice, a rename that collides, the same schedule twice), and raises one
:class:`DefinitionError` holding every problem of every file, each with its location.

    >>> definitions = load_definitions(["examples/workflows"])   # doctest: +SKIP
    >>> definitions[0].title, definitions[0].body["webhook"]      # doctest: +SKIP
    ('Appointment reminder', {'url': 'https://…'})

``${var.NAME}`` in a string value is a plain variable from ``vars`` in wfsync.yaml (shown
in plans); ``${NAME}`` is a secret from the process environment, never shown: a missing or
empty one is an error at its line, unless loading for ``validate`` offline
(``require_env=False``), which checks the reference only. ``$${`` is a literal ``${``.
Values that came from the environment are remembered in :attr:`Definition.secrets`, as
the text plans show instead (variables filled in, ``${NAME}`` as written).

A schedule's time is read by :mod:`wfsync.schedules` (local times in IANA zones).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

from wfsync import body as workflow_body
from wfsync import schema
from wfsync.errors import WfsyncError
from wfsync.schedules import Schedule, ScheduleError, platform_timezone, read_schedule
from wfsync.yamlsource import MAX_BYTES, Document, Location, Problem, YamlError, paused_gc, read_yaml

if TYPE_CHECKING:
    from wfsync.parsecache import ParseCache

__all__ = [
    "Definition",
    "DefinitionError",
    "Outline",
    "Schedule",
    "check_definitions",
    "drain",
    "expand",
    "find_files",
    "load_definitions",
    "loading_steps",
    "parse_file",
    "platform_timezone",
    "secret_references",
    "title_warnings",
]

SUFFIXES = (".yaml", ".yml")
SETTINGS_NAMES = ("wfsync.yaml", "wfsync.yml")

PathKey = tuple[str | int, ...]


# slots: a plan holds every definition (about 110 bytes less each than with a __dict__).
@dataclass(frozen=True, slots=True)
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
    paths: Sequence[str | os.PathLike[str]],
    env: Mapping[str, str] | None = None,
    *,
    vars: Mapping[str, str] | None = None,
    require_env: bool = True,
    environment: str | None = None,
    include: Callable[[str], bool] | None = None,
    cache: ParseCache | None = None,
    references: set[str] | None = None,
) -> list[Definition]:
    """Every definition under ``paths``, in file order; raises DefinitionError.

    ``vars`` are the values of ``${var.NAME}`` (an environment's, merged over the
    top-level ones); ``environment`` names whose they are in messages. ``require_env``
    false is validate offline: each ``${NAME}`` is checked as a reference but its value
    is not needed (the value stays as written). ``include(title)`` is the environment's
    ``only``: the definitions it does not manage are left out of the result, and their
    undefined variables and missing secrets are not problems (that account never gets them).
    ``cache`` (:mod:`wfsync.parsecache`) answers for files read before without a problem;
    the commands that write never pass one. ``references``, when given, gets the name of
    every ``${NAME}`` each file read refers to (:func:`secret_references`), a file that does
    not load too: the secrets to mask, found without reading the files a second time.
    """
    steps = loading_steps(
        paths,
        env,
        vars=vars,
        require_env=require_env,
        environment=environment,
        include=include,
        cache=cache,
        references=references,
    )
    return drain(steps)


def drain(steps: Generator[Any, None, list[Definition]]) -> list[Definition]:
    """What :func:`loading_steps` returns, read without pausing between files."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            loaded: list[Definition] = done.value
            return loaded


def loading_steps(
    paths: Sequence[str | os.PathLike[str]],
    env: Mapping[str, str] | None = None,
    *,
    vars: Mapping[str, str] | None = None,
    require_env: bool = True,
    environment: str | None = None,
    include: Callable[[str], bool] | None = None,
    cache: ParseCache | None = None,
    references: set[str] | None = None,
    bodies: Mapping[str, Mapping[str, Any]] | None = None,
) -> Generator[list[Definition], None, list[Definition]]:
    """:func:`load_definitions` one file at a time: yields each file's definitions (not yet
    cross-checked), returns (or raises) as it does. An event loop can answer its sockets
    between files (``plan`` reads the listing meanwhile). ``bodies``: bodies already held,
    by title (the live ones a listing brought meanwhile): a definition whose body equals
    one holds that object, so that the two are held once whichever came first."""
    # A copy: os.environ encodes and decodes each name on every look-up.
    env = dict(os.environ) if env is None else env
    options = _Options.made(vars, require_env, environment, include, cache, bodies)
    files, problems = find_files(paths)
    definitions: list[Definition] = []
    with paused_gc():
        for path in files:
            loaded, file_problems = _load_file(path, env, options, references)
            definitions.extend(loaded)
            problems.extend(file_problems)
            yield loaded
    return _checked(definitions, problems, include)


# Below this many bytes of files, checking them is quicker than starting a copy to share it.
SHARED_BYTES = 512 * 1024


class Outline(NamedTuple):
    """What checking keeps of a definition: its title, where it is, the titles it had."""

    title: str
    location: Location
    former_titles: tuple[str, ...]


# The part of a file's outline that crosses a pipe: titles, line, column, former titles.
_FileOutline = tuple[list[tuple[str, int, int, tuple[str, ...]]], list[Problem], set[str]]


def check_definitions(
    paths: Sequence[str | os.PathLike[str]],
    env: Mapping[str, str] | None = None,
    *,
    vars: Mapping[str, str] | None = None,
    require_env: bool = True,
    environment: str | None = None,
    include: Callable[[str], bool] | None = None,
    cache: ParseCache | None = None,
    references: set[str] | None = None,
    workers: int | None = None,
) -> list[Outline]:
    """:func:`load_definitions`, with the same problems raised, for a caller that keeps no
    definition (``validate``): each one's outline. The files are shared among ``workers``
    processes (default: one a core, :mod:`wfsync.shares`) when there are enough bytes to
    read to be worth it."""
    env = dict(os.environ) if env is None else env
    options = _Options.made(vars, require_env, environment, include, cache, outline=True)
    files, problems = find_files(paths)
    sizes = [_size(path) for path in files]

    def outline(path: Path) -> _FileOutline:
        found: set[str] = set()
        loaded, file_problems = _load_file(path, env, options, found)
        located = [(d.title, d.location.line, d.location.column, d.former_titles) for d in loaded]
        return located, file_problems, found

    outlines: list[Outline] = []
    with paused_gc():
        if sum(sizes) < SHARED_BYTES:
            shared = [outline(path) for path in files]
        else:  # only then are shares (and pickle) imported, the cores counted
            from wfsync import shares

            workers = shares.available_workers() if workers is None else workers
            if workers > 1:  # what every copy needs, made once, here, before they are made
                import wfsync.yamlcompose  # noqa: F401

                schema.prepare("definitions")
            shared = shares.share_map(outline, files, weights=sizes, workers=workers)
        for path, (located, file_problems, found) in zip(files, shared, strict=True):
            file = str(path)
            outlines += [
                Outline(title, Location(file, line, column), former)
                for title, line, column, former in located
            ]
            problems += file_problems
            if references is not None:
                references |= found
    return _checked(outlines, problems, include)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class _Titled(Protocol):
    """What the rules that span files look at: a Definition, an Outline."""

    @property
    def title(self) -> str: ...
    @property
    def location(self) -> Location: ...
    @property
    def former_titles(self) -> tuple[str, ...]: ...


_T = TypeVar("_T", bound=_Titled)


def _checked(
    definitions: list[_T], problems: list[Problem], include: Callable[[str], bool] | None
) -> list[_T]:
    """``definitions`` once the rules that span files hold, less those not included;
    raises DefinitionError with every problem."""
    problems.extend(_cross_checks(definitions))
    if problems:
        raise DefinitionError(problems)
    if include is not None:
        definitions = [definition for definition in definitions if include(definition.title)]
    return definitions


def _load_file(
    path: Path, env: Mapping[str, str], options: _Options, references: set[str] | None
) -> tuple[list[Definition], list[Problem]]:
    """The definitions of the file at ``path`` and its problems; ``references`` gets the
    names of the secrets it refers to."""
    try:
        data = _read_bounded(path)
    except OSError as exc:
        return [], [Problem(Location(str(path), 0, 0), f"cannot read: {exc.strerror}")]
    if isinstance(data, Problem):
        return [], [data]
    if references is not None and b"${" in data:
        references.update(_reference_names(data))
    return parse_file(str(path), data, env, options)


@dataclass(frozen=True)
class _Options:
    """How references are resolved (see :func:`load_definitions`)."""

    vars: Mapping[str, str] = field(default_factory=dict)
    require_env: bool = True
    vars_for: str = ""  # " for environment 'acme'", in messages
    include: Callable[[str], bool] | None = None
    cache: ParseCache | None = None  # files read before (never for apply)
    bodies: Mapping[str, Mapping[str, Any]] | None = None  # equal bodies held already, by title
    outline: bool = False  # the caller keeps titles and places only: no body is built
    # Values already built in this load: body values by field and repr (see _held_once),
    # paths within an entry by ("path", path).
    held: dict[Any, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def made(
        cls,
        vars: Mapping[str, str] | None,
        require_env: bool,
        environment: str | None,
        include: Callable[[str], bool] | None,
        cache: ParseCache | None,
        bodies: Mapping[str, Mapping[str, Any]] | None = None,
        outline: bool = False,
    ) -> _Options:
        """The options of a load, as its caller names them."""
        vars_for = f" for environment {environment!r}" if environment else ""
        return cls(dict(vars or {}), require_env, vars_for, include, cache, bodies, outline)


def _read_bounded(path: Path) -> bytes | Problem:
    """The file's bytes, or the problem that it is over the size limit: a 3 GiB file is
    refused by its size, never read whole."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_BYTES:
            return Problem(
                Location(str(path), 1, 1), f"file is {size:,} bytes, over the limit of {MAX_BYTES:,}"
            )
        return handle.read(MAX_BYTES + 1)


def parse_file(
    file: str, data: bytes, env: Mapping[str, str], options: _Options | None = None
) -> tuple[list[Definition], list[Problem]]:
    """The definitions of one file and the problems found in it."""
    options = options or _Options()
    cache = options.cache
    if cache is not None:
        kept = cache.get(file, data)
        if kept is not None:
            definitions, problems, _ = _parse_document(kept.document, env, options, kept.checked)
            if not problems:
                return definitions, problems
            cache = None  # a file with a problem is answered as without a cache, read afresh
    try:
        document = read_yaml(file, data)
    except YamlError as exc:
        return [], exc.problems
    # Taken as read: before any value from the environment is in it.
    entry = cache.entry(document, data) if cache is not None else None
    definitions, problems, checked = _parse_document(document, env, options)
    if entry is not None:
        entry.keep(checked=checked)
    return definitions, problems


def _parse_document(
    document: Document, env: Mapping[str, str], options: _Options, checked: bool = False
) -> tuple[list[Definition], list[Problem], bool]:
    """The definitions, the problems, and whether the schema passed the document but
    perhaps the strings that hold references, each able to tell on its own (then, with
    other values there, checking those strings is checking the document).
    ``checked``: a document known so, with other values at its references, maybe."""
    file = document.file
    top = document.value
    start = Location(file, 1, 1)
    if top is None:
        return [], [Problem(start, "empty file: expected a top-level workflows: list")], False
    if not isinstance(top, dict):
        found = type(top).__name__
        return [], [Problem(start, f"expected a top-level workflows: list, not a {found}")], False
    problems: list[Problem] = list(document.problems)
    references = _interpolate(
        document, env, options.vars, require_env=options.require_env, vars_for=options.vars_for
    )
    secrets, unresolved = references.secrets, references.unresolved
    checks = _string_checks(document)
    if checked and checks is not None and all(check(value) for check, value in checks):
        issues = []  # the rest of the document passed as it is
    else:
        issues = schema.validate("definitions", top, strip=2)
        # Issues only at strings that are judged on their own: the rest of the file passed.
        checked = checks is not None and all(issue.path in references.strings for issue in issues)
    for issue in issues:
        if issue.path in unresolved:  # reported already, as the reference
            continue
        key = issue.message.startswith("property ")
        problems.append(Problem(document.where(issue.path, key=key), _redact(issue, secrets)))
    entries = top.get("workflows")
    if not isinstance(entries, list):
        problems.extend(problem for _, problem, _ in references.problems)
        return [], problems, False
    # Checks beyond the schema look only at what the schema passed: skip broken parts.
    broken = _Broken({issue.path for issue in issues} | unresolved)
    secrets_by_entry: dict[int, dict[PathKey, str]] = {}
    for path, written in secrets.items():
        if len(path) > 2 and path[0] == "workflows" and isinstance(path[1], int):
            # Every entry's ("webhook", "url") as one tuple: a plan holds them all.
            inner = options.held.setdefault(("path", path[2:]), path[2:])
            secrets_by_entry.setdefault(path[1], {})[inner] = written
    definitions = []
    unmanaged: set[int] = set()
    for index, entry in enumerate(entries):
        base = ("workflows", index)
        if not isinstance(entry, dict) or not isinstance(entry.get("title"), str) or base in broken.exact:
            continue
        if (
            options.include is not None
            and (*base, "title") not in unresolved
            and not options.include(entry["title"])
        ):
            unmanaged.add(index)
        entry_secrets = secrets_by_entry.get(index, {})
        definition, entry_problems = _definition(document, index, entry, entry_secrets, broken, options)
        problems.extend(entry_problems)
        definitions.append(definition)
    problems.extend(
        problem
        for path, problem, missing in references.problems
        if not (missing and len(path) > 1 and path[1] in unmanaged)
    )
    return definitions, problems, checked


def _string_checks(document: Document) -> list[tuple[Callable[[str], bool], Any]] | None:
    """Each string that held a reference with the check it passes on its own, or None
    when one cannot be judged on its own (wfsync.schema.string_check)."""
    checks = []
    # Every entry's ("webhook", "url") has the same check: asked for once per file.
    by_place: dict[PathKey, Callable[[str], bool] | None] = {}
    for path in document.dollars:
        place = path[2:] if len(path) > 2 and path[0] == "workflows" and type(path[1]) is int else path
        check = by_place.get(place, _UNKNOWN)
        if check is _UNKNOWN:
            check = by_place[place] = schema.string_check("definitions", path)
        if check is None:
            return None
        value = document.value
        for part in path:
            value = value[part]
        checks.append((check, value))
    return checks


_UNKNOWN: Any = object()


# The secrets of a definition that has none: one read-only mapping for all (a plan holds
# every definition; an empty dict each is 64 bytes).
_NO_SECRETS: Mapping[PathKey, str] = MappingProxyType({})


def _definition(
    document: Document,
    index: int,
    entry: dict[str, Any],
    secrets: dict[PathKey, str],
    broken: _Broken,
    options: _Options,
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
            path = (*base, "schedules", number)
            if broken.within(path):
                continue
            where = document.where(path)
            schedule = read_schedule(
                item["scheduledDate"],
                item["timezone"],
                name=f"schedules[{number}].scheduledDate",
                location=where,
            )
            if isinstance(schedule, ScheduleError):
                problems.append(Problem(document.where((*path, schedule.field)), schedule.message))
                continue
            if schedule.at in seen:
                problems.append(
                    Problem(
                        where,
                        f"the same schedule twice: {item['scheduledDate']} is the "
                        f"same instant as line {seen[schedule.at].line}",
                    )
                )
                continue
            seen[schedule.at] = where
            schedules.append(schedule)
    shown_secret = bool(secrets) and any(path[0] in _SHOWN for path in secrets)
    if shown_secret or "lifecycle" in entry or not entry["title"].strip():  # else nothing to say
        problems.extend(_title_problems(document, base, entry, secrets, broken))
    # The fields of the body sent to the API: every key but wfsync's own (schedules, lifecycle).
    fields = workflow_body.fields()
    body_secrets = (
        {path: written for path, written in secrets.items() if path[0] in fields} if secrets else {}
    )
    lifecycle = entry.get("lifecycle")
    body = (
        {}
        if options.outline
        else _held_once(entry, fields, {path[0] for path in secrets} if secrets else _NONE, options.held)
    )
    if options.bodies:
        same = options.bodies.get(entry["title"])
        if same is not None and same == body and type(same) is dict:
            # One body for the two, holding the values held once (equal: none can tell).
            same.update(body)
            body = same
    definition = Definition(
        title=entry["title"],
        body=body,
        location=document.where((*base, "title")),
        schedules=tuple(schedules) if schedules is not None else None,
        # The schema passed the lifecycle unless it is broken: a list of titles.
        former_titles=()
        if lifecycle is None or broken.within((*base, "lifecycle"))
        else tuple(lifecycle.get("formerTitles", ())),
        secrets=body_secrets or _NO_SECRETS,
    )
    return definition, problems


def _held_once(
    entry: Mapping[str, Any], fields: Sequence[str], secret: set[str | int], held: dict[Any, Any]
) -> dict[str, Any]:
    """The body of ``entry``, each field's value the object built for an equal value earlier
    in this load, if any (the same phrases, the same callback URL...): a plan holds every
    definition, and such values repeat across thousands of them. Values are never changed
    in place once loaded, so sharing them cannot be seen. A field holding a secret is left
    alone (its value is per definition), and so is the title (its own per definition)."""
    body = {}
    for key in fields:
        if key not in entry:
            continue
        value = entry[key]
        if key != "title" and key not in secret:
            kind = type(value)
            if kind is str:
                value = held.setdefault(value, value)
            elif kind is dict or kind is list:  # repr: equal only for equal values of equal types
                value = held.setdefault((key, repr(value)), value)
        body[key] = value
    return body


_NONE: set[str | int] = set()  # never changed: the fields of an entry without secrets

# Titles, schedules and the lifecycle are shown in every plan: a secret there would be too.
_SHOWN = ("title", "schedules", "lifecycle")


def _title_problems(
    document: Document, base: PathKey, entry: dict[str, Any], secrets: dict[PathKey, str], broken: _Broken
) -> Iterator[Problem]:
    """Titles people can tell apart and read: none blank, none holding a secret."""
    titles: list[tuple[PathKey, Any]] = [(("title",), entry["title"])]
    if not broken.within((*base, "lifecycle")):
        former = entry.get("lifecycle", {}).get("formerTitles", ())
        titles += [(("lifecycle", "formerTitles", n), title) for n, title in enumerate(former)]
    for path, title in titles:
        if isinstance(title, str) and title and not title.strip():
            yield Problem(
                document.where((*base, *path)), f"{_dotted(path)} is blank: it holds only whitespace"
            )
    for path, written in secrets.items():
        if path[0] in _SHOWN:
            yield Problem(
                document.where((*base, *path)),
                f"{_dotted(path)} cannot hold a secret ({written!r}): it is shown in every plan; "
                "use ${var.NAME} for a plain value",
            )


def _dotted(path: PathKey) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class _Broken:
    """The paths of a document that failed a check."""

    exact: set[PathKey]

    def within(self, prefix: PathKey) -> bool:
        """True when something at or under ``prefix`` is broken."""
        if not self.exact:  # most documents
            return False
        return any(path[: len(prefix)] == prefix for path in self.exact)


def _cross_checks(definitions: Sequence[_Titled]) -> Iterator[Problem]:
    """The rules that span definitions: unique titles, unambiguous renames."""
    by_title: dict[str, _Titled] = {}
    for definition in definitions:
        first = by_title.setdefault(definition.title, definition)
        if first is not definition:
            yield Problem(
                definition.location,
                f"title {definition.title!r} is defined twice; the other is at {first.location}",
            )
    renamed_from: dict[str, _Titled] = {}
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


# Characters a title may hold but a reader cannot see as written: control characters
# (shown escaped, if at all) and bidirectional controls (they reorder the text around them,
# so a review shows another title than the one sent).
_UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def title_warnings(definitions: Iterable[_Titled]) -> list[Problem]:
    """What is legal in titles but likely a mistake, each at its definition, sorted: a
    character a reader cannot see as written, and titles that differ only in case (a
    server may keep titles unique ignoring case, and refuse the second: SPEC §1)."""
    warnings = []
    by_folded: dict[str, _Titled] = {}
    for definition in definitions:
        title = definition.title
        unseen = None if title.isprintable() else _UNSEEN.search(title)  # every one is unprintable
        if unseen:
            kind = "a control character" if unseen.group() <= "\x9f" else "a bidirectional control"
            warnings.append(
                Problem(
                    definition.location,
                    f"title {title!r} holds U+{ord(unseen.group()):04X}, {kind}: "
                    "what a review shows is not what is sent",
                )
            )
        first = by_folded.setdefault(title.casefold(), definition)
        if first.title != title:
            warnings.append(
                Problem(
                    definition.location,
                    f"title {title!r} differs only in case from {first.title!r} ({first.location}): "
                    "a server that keeps titles unique ignoring case refuses one of them",
                )
            )
    return sorted(warnings)


_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VAR = re.compile(r"var\.([A-Za-z_][A-Za-z0-9_]*)")


def secret_references(text: str) -> set[str]:
    """The environment variables ``text`` refers to as ``${NAME}`` (not ``${var.NAME}``,
    not the literal ``$${``): the secrets a definition takes."""
    return {m.group(1) for m in _REFERENCE.finditer(text) if m.group(1) and _NAME.fullmatch(m.group(1))}


# The names secret_references finds, and perhaps a few more (a name inside a malformed
# reference, "${a ${TOKEN}"): to mask, more is safe. On bytes, in C: no text decoded, no
# Python code per reference.
_REFERENCE_NAME = re.compile(rb"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _reference_names(data: bytes) -> set[str]:
    """Every ``${NAME}`` name of a file's bytes (see :func:`secret_references`)."""
    names = set(_REFERENCE_NAME.findall(data))
    names.discard(b"")
    return {name.decode("ascii") for name in names}


@dataclass
class _Expansion:
    """What one string became: its value, and the text plans may show (the variables
    filled in, each secret left as ``${NAME}``)."""

    value: str
    template: str
    secret: bool = False  # a value came from the environment
    unread: bool = False  # a secret left unread (validate offline)
    errors: list[str] = field(default_factory=list)


_SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(
    text: str, env: Mapping[str, str], vars: Mapping[str, str], *, require_env: bool, vars_for: str
) -> _Expansion:
    """``text`` with ``${var.NAME}`` from ``vars``, ``${NAME}`` from ``env`` and ``$${``
    made ``${``. A reference that cannot be resolved is left as written, with an error
    (or, for a secret when ``require_env`` is false, marked unread)."""
    # Most strings that hold a reference hold secrets that are set, nothing else: one
    # substitution (the same result as reading the references one by one, below).
    if "$${" not in text:
        names = _SECRET.findall(text)
        if names and len(names) == text.count("${") and all(env.get(name) for name in names):
            if len(names) == 1:  # the usual one: no function call per match
                return _Expansion(text.replace(f"${{{names[0]}}}", env[names[0]]), text, secret=True)
            return _Expansion(_SECRET.sub(lambda match: env[match.group(1)], text), text, secret=True)
    return _expand_each(text, env, vars, require_env=require_env, vars_for=vars_for)


def _expand_each(
    text: str, env: Mapping[str, str], vars: Mapping[str, str], *, require_env: bool, vars_for: str
) -> _Expansion:
    """:func:`_expand`, reference by reference."""
    values: list[str] = []
    shown: list[str] = []
    result = _Expansion("", "")
    position = 0
    for match in _REFERENCE.finditer(text):
        values.append(text[position : match.start()])
        shown.append(text[position : match.start()])
        position = match.end()
        written, name = match.group(0), match.group(1)
        variable = _VAR.fullmatch(name) if name is not None else None
        if written == "$${":
            values.append("${")
            shown.append(written)
        elif variable is not None and variable.group(1) in vars:
            value = vars[variable.group(1)]
            values.append(value)
            # A variable's value is plain text: a ${ in it is not a reference.
            shown.append(value.replace("${", "$${"))
        elif variable is not None:
            result.errors.append(
                f"variable {variable.group(1)} is not defined{vars_for}: add it to vars in wfsync.yaml"
            )
            values.append(written)
            shown.append(written)
        elif name is None or not _NAME.fullmatch(name):
            result.errors.append(
                f"invalid reference {written!r}: write ${{NAME}} for a secret from the environment, "
                "${var.NAME} for a variable of wfsync.yaml, $${ for a literal ${"
            )
            values.append(written)
            shown.append(written)
        else:
            shown.append(written)
            # Empty is missing: on CI a secret that is not set expands to "".
            if env.get(name):
                values.append(env[name])
                result.secret = True
                continue
            values.append(written)
            if not require_env:
                result.unread = True
            elif name in env:
                result.errors.append(
                    f"environment variable {name} is empty (a secret that is not set on CI expands to "
                    "an empty value)"
                )
            else:
                result.errors.append(f"environment variable {name} is not set")
    values.append(text[position:])
    shown.append(text[position:])
    result.value, result.template = "".join(values), "".join(shown)
    return result


def expand(
    text: str,
    env: Mapping[str, str],
    *,
    vars: Mapping[str, str] | None = None,
    require_env: bool = True,
) -> tuple[str, bool, list[str]]:
    """``text`` with ``${var.NAME}`` replaced from ``vars``, ``${NAME}`` from ``env`` and
    ``$${`` made ``${``.

    Returns the result, whether any value came from the environment, and the problems
    (a malformed reference, an undefined variable, a secret that is not set or is empty;
    those are left as written).

        >>> expand("https://${var.HOST}/${TOKEN}", {"TOKEN": "t0k"}, vars={"HOST": "h.example"})
        ('https://h.example/t0k', True, [])
    """
    result = _expand(text, env, vars or {}, require_env=require_env, vars_for="")
    return result.value, result.secret, result.errors


@dataclass
class _Interpolation:
    """The outcome of interpolating one document."""

    secrets: dict[PathKey, str] = field(default_factory=dict)  # path: the text plans show
    unresolved: set[PathKey] = field(default_factory=set)  # paths whose value is not final
    # Problems of references, by the path they are at, and whether they are a missing
    # value (an entry an environment does not manage drops those: it is never sent there).
    problems: list[tuple[PathKey, Problem, bool]] = field(default_factory=list)
    strings: set[PathKey] = field(default_factory=set)  # the paths of strings that held a $


def _interpolate(
    document: Document,
    env: Mapping[str, str],
    vars: Mapping[str, str],
    *,
    require_env: bool,
    vars_for: str,
) -> _Interpolation:
    """Resolve the references in every string value of ``document``, in place."""
    outcome = _Interpolation()

    def substitute(path: PathKey, text: str) -> str:
        if "$" not in text:
            return text
        outcome.strings.add(path)
        result = _expand(text, env, vars, require_env=require_env, vars_for=vars_for)
        if result.errors:
            where = document.where(path)
            for error in result.errors:
                # A missing value depends on the account; a malformed reference does not.
                outcome.problems.append((path, Problem(where, error), not error.startswith("invalid ")))
        if result.errors or result.unread:
            outcome.unresolved.add(path)
        if result.secret or result.unread:
            outcome.secrets[path] = result.template
        return result.value

    for path in document.dollars:  # only the strings that can hold a reference
        parent = document.value
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = substitute(path, parent[path[-1]])
    return outcome


def _redact(issue: schema.SchemaIssue, secrets: Mapping[PathKey, str]) -> str:
    """The issue's message, with a value from the environment shown as it was written."""
    written = secrets.get(issue.path)
    if written is None:
        return issue.message
    hidden = f"{written!r} (its value from the environment is not shown)"
    return re.sub(r"(, not|Got) ('.*'|\".*\")$", lambda match: f"{match.group(1)} {hidden}", issue.message)
