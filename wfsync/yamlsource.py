"""YAML bytes -> plain Python values that remember where each one was written.

PyYAML's safe loader silently keeps the last of two equal keys, expands aliases without
limit and turns ``2027-07-01T09:00:00Z`` into a datetime. Definitions are reviewed by
people and fed to an API, so this reader composes the node graph (PyYAML's C parser
when present) and builds the values itself:

- a duplicate key in a mapping is a problem at the second key, naming the first (the
  first value is kept, so the rest of the file can still be checked);
- aliases may add at most :data:`MAX_ALIAS_VALUES` values to a document, so a
  billion-laughs document fails in linear time and bounded memory;
- timestamps stay the strings that were written; keys must be strings;
- bytes that are not UTF-8, tabs used for indentation, files over :data:`MAX_BYTES`
  are errors with a line and column.

    >>> document = read_yaml("a.yaml", b"workflows:\\n  - title: x\\n")
    >>> document.value, document.where(("workflows", 0, "title"))
    ({'workflows': [{'title': 'x'}]}, Location(file='a.yaml', line=2, column=12))
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_ALIAS_VALUES",
    "MAX_BYTES",
    "Document",
    "Location",
    "Problem",
    "YamlError",
    "read_yaml",
    "strings_with_a_dollar",
]

MAX_BYTES = 10 * 1024 * 1024
MAX_ALIAS_VALUES = 100_000

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, order=True, slots=True)
class Location:
    """A place in a file: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        # Line 0: a problem with the path itself (missing, an empty folder), not a place in it.
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file


@dataclass(frozen=True, order=True, slots=True)
class Problem:
    """One thing wrong with the input, and where."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class YamlError(Exception):
    """A file that cannot be read as YAML at all; ``problems`` says where and why."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(map(str, self.problems)))


@dataclass
class Document:
    """The values of one YAML document and where each path was written."""

    file: str
    value: Any
    # (line, column), 0-based as PyYAML counts them, turned into Locations only when
    # asked: most never are.
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    # Problems that did not stop the reading (a duplicate key keeps its first value).
    problems: list[Problem] = field(default_factory=list)
    # The paths of the string values that hold a "$" (the only ones a reference can be in),
    # as every reader finds them: interpolation visits these, never every value.
    dollars: list[Path_] = field(default_factory=list)
    # Set when ``values`` holds only some places (a document kept by wfsync.parsecache):
    # gives them all, read from the file again, the first time another is asked for.
    reread: Callable[[], tuple[dict[Path_, tuple[int, int]], dict[Path_, tuple[int, int]]]] | None = None

    def where(self, path: Path_, *, key: bool = False) -> Location:
        """Where ``path`` was written (its key, when asked and known), else its nearest parent."""
        if self.reread is not None and (key or path not in self.values):
            self.values, self.keys = self.reread()
            self.reread = None
        if key and path in self.keys:
            line, column = self.keys[path]
            return Location(self.file, line + 1, column + 1)
        while path not in self.values and path:
            path = path[:-1]
        line, column = self.values.get(path, (0, 0))
        return Location(self.file, line + 1, column + 1)


def strings_with_a_dollar(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    """The paths of the string values under ``value`` that hold a ``$``, in order."""
    if isinstance(value, str):
        if "$" in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_with_a_dollar(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_with_a_dollar(item, (*path, index))


def read_yaml(file: str, data: bytes, *, fast: bool = True) -> Document:
    """Read one YAML document; raises YamlError when it cannot be read at all.

    Problems that leave a usable document (a duplicate key) are in ``Document.problems``.
    Plain block YAML is read line by line (:mod:`wfsync.yamlfast`), with the same result;
    ``fast=False`` always composes with PyYAML (the tests compare the two).
    """
    # Imported here: a run whose files all come from the cache of read files
    # (wfsync.parsecache) never reads YAML, and PyYAML is a fifth of its start-up.
    from wfsync.yamlcompose import read

    return read(file, data, fast=fast)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while reading many files.

    Composing builds a large graph of long-lived nodes, and the collector keeps walking
    it: reading 10,000 definitions took 0.8 s with it and 0.2 s without. Nothing built
    here forms cycles that need it. What survives is frozen (moved out of the
    collector's view, still freed by reference counting) so that resuming does not
    start with one full collection over all of it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()
