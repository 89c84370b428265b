"""The kinds of change a plan makes: one class each, in one registry.

Each kind declares its place in the apply order, its JSON form (``data``) and how that
form is read back (``read``), so a plan survives JSON -> plan -> JSON unchanged and a
new kind is one class here. Every change has an explicit :class:`Key` (its action, the
live id of its workflow or, for a workflow the plan creates, that title, and for a
schedule its instant) and names the changes it must wait for in ``after``.

    >>> create = Create("Lead follow-up", None, {"title": "Lead follow-up"})
    >>> run = ScheduleRun("Lead follow-up", None, "2027-07-01T08:00:00.000Z", after=(create.key,))
    >>> run.key.new_title, run.after[0].action
    ('Lead follow-up', 'create')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from wfsync.body import FieldDiff
from wfsync.errors import WfsyncError

__all__ = [
    "ACTIONS",
    "KINDS",
    "Cancel",
    "Change",
    "Create",
    "Delete",
    "Key",
    "PathKey",
    "PlanFileError",
    "Reader",
    "ScheduleRun",
    "Update",
    "templated",
]

PathKey = tuple[str | int, ...]
C = TypeVar("C", bound="Change")


class PlanFileError(WfsyncError):
    """A saved plan that cannot be read; the message names the file and the place in it."""


class Reader:
    """Typed access to one object of a plan file: every wrong or missing value is a
    :class:`PlanFileError` naming where it is (``plan.json: changes[3].title``)."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise PlanFileError(f"{where}: expected an object, not {_kind(data)}")
        self.data, self.where = data, where

    def _get(self, name: str, kinds: type, what: str, optional: bool) -> Any:
        value = self.data.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is not bool):
            raise PlanFileError(f"{self.where}.{name}: expected {what}, not {_kind(value)}")
        return value

    def string(self, name: str) -> str:
        value: str = self._get(name, str, "a string", optional=False)
        return value

    def optional_string(self, name: str) -> str | None:
        value: str | None = self._get(name, str, "a string", optional=True)
        return value

    def flag(self, name: str) -> bool:
        return bool(self._get(name, bool, "true or false", optional=True))

    def integer(self, name: str) -> int:
        value: int = self._get(name, int, "an integer", optional=False)
        return value

    def mapping(self, name: str) -> Mapping[str, Any]:
        value: Mapping[str, Any] = self._get(name, Mapping, "an object", optional=False)
        return value

    def items(self, name: str) -> list[Any]:
        """A list (absent: empty)."""
        value = self._get(name, list, "a list", optional=True)
        return list(value or [])

    def strings(self, name: str) -> tuple[str, ...]:
        found = self.items(name)
        for index, item in enumerate(found):
            if not isinstance(item, str):
                raise PlanFileError(f"{self.where}.{name}[{index}]: expected a string, not {_kind(item)}")
        return tuple(found)

    def child(self, name: str, index: int | None = None) -> Reader:
        value = self.data.get(name) if index is None else self.items(name)[index]
        return Reader(value, f"{self.where}.{name}" + (f"[{index}]" if index is not None else ""))

    def paths(self, name: str) -> tuple[PathKey, ...]:
        """Body paths written as JSON lists of keys and indexes."""
        found = []
        for index, item in enumerate(self.items(name)):
            if not (
                isinstance(item, list)
                and item
                and all(isinstance(p, str) or (isinstance(p, int) and not isinstance(p, bool)) for p in item)
            ):
                raise PlanFileError(f"{self.where}.{name}[{index}]: expected a list of keys")
            found.append(tuple(item))
        return tuple(found)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true or false"}.get(
        type(value), "null" if value is None else f"a {type(value).__name__}"
    )


@dataclass(frozen=True)
class Key:
    """Which change: its action and its workflow (the live id; for a workflow this plan
    creates, its title), and for a schedule the instant."""

    action: str
    workflow_id: str | None = None
    new_title: str | None = None
    instant: str | None = None

    @property
    def order(self) -> tuple[str, str, str, str]:
        """A total order over keys (None sorts first)."""
        return (self.action, self.workflow_id or "", self.new_title or "", self.instant or "")

    @property
    def data(self) -> dict[str, str]:
        found = {"action": self.action, "id": self.workflow_id, "new": self.new_title, "at": self.instant}
        return {name: value for name, value in found.items() if value is not None}

    @classmethod
    def read(cls, reader: Reader) -> Key:
        return cls(
            reader.string("action"),
            reader.optional_string("id"),
            reader.optional_string("new"),
            reader.optional_string("at"),
        )


def templated(body: Mapping[str, Any], secrets: Mapping[PathKey, str]) -> dict[str, Any]:
    """``body`` with each value from the environment replaced by the text that produced it."""
    result: dict[str, Any] = json.loads(json.dumps(body))
    for path, written in secrets.items():
        node: Any = result
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = written
        except (KeyError, IndexError, TypeError):
            continue  # not part of this body (an update's patch holds only some fields)
    return result


KINDS: dict[str, type[Change]] = {}


@dataclass(frozen=True)
class Change:
    """One API call the plan makes. ``workflow_id`` is None for a workflow the plan creates;
    ``after`` names the changes that must succeed first; ``live`` is a digest of the live
    state the change was computed from (a saved plan is compared with a fresh one by it)."""

    action: ClassVar[str] = ""
    phase: ClassVar[int] = 0  # when apply carries it out: lower first, equal together
    rank: ClassVar[int] = 0  # where it is listed among one workflow's changes
    title: str
    workflow_id: str | None = None
    after: tuple[Key, ...] = field(default=(), kw_only=True)
    live: str | None = field(default=None, kw_only=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.action:
            KINDS[cls.action] = cls

    @property
    def key(self) -> Key:
        new = self.title if self.workflow_id is None else None
        return Key(self.action, self.workflow_id, new)

    @property
    def data(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "title": self.title,
            "id": self.workflow_id,
            "key": self.key.data,
            "after": [key.data for key in self.after],
            "live": self.live,
        }

    @classmethod
    def read(cls, reader: Reader) -> Change:
        """The change a plan file describes (its own fields are read by ``_fields``)."""
        kind = KINDS.get(reader.string("action"))
        if kind is None:
            known = ", ".join(KINDS)
            raise PlanFileError(f"{reader.where}.action: unknown action {reader.data['action']!r} ({known})")
        after = tuple(Key.read(reader.child("after", n)) for n in range(len(reader.items("after"))))
        change = kind(
            reader.string("title"),
            reader.optional_string("id"),
            **kind._fields(reader),
            after=after,
            live=reader.optional_string("live"),
        )
        return change

    @classmethod
    def _fields(cls, reader: Reader) -> dict[str, Any]:
        return {}


def _sensitive(secrets: Mapping[PathKey, str], body: Mapping[str, Any]) -> list[list[str | int]]:
    return sorted(([*path] for path in secrets if str(path[0]) in body), key=lambda p: list(map(str, p)))


def _secrets_from(reader: Reader, body: Mapping[str, Any]) -> dict[PathKey, str]:
    """The templates of a read-back body: the text now at each sensitive path."""
    found: dict[PathKey, str] = {}
    for path in reader.paths("sensitive"):
        node: Any = body
        try:
            for part in path:
                node = node[part]
        except (KeyError, IndexError, TypeError):
            raise PlanFileError(f"{reader.where}.sensitive: {list(path)} is not in the body") from None
        if not isinstance(node, str):
            raise PlanFileError(f"{reader.where}.sensitive: {list(path)} is not a text value")
        found[path] = node
    return found


@dataclass(frozen=True)
class Create(Change):
    action: ClassVar[str] = "create"
    phase: ClassVar[int] = 0
    rank: ClassVar[int] = 0
    body: Mapping[str, Any] = field(default_factory=dict, repr=False)
    secrets: Mapping[PathKey, str] = field(default_factory=dict, repr=False)

    @property
    def data(self) -> dict[str, Any]:
        return super().data | {
            "body": templated(self.body, self.secrets),
            "sensitive": _sensitive(self.secrets, self.body),
        }

    @classmethod
    def _fields(cls, reader: Reader) -> dict[str, Any]:
        body = dict(reader.mapping("body"))
        return {"body": body, "secrets": _secrets_from(reader, body)}


@dataclass(frozen=True)
class Update(Change):
    action: ClassVar[str] = "update"
    phase: ClassVar[int] = 0
    rank: ClassVar[int] = 1
    patch: Mapping[str, Any] = field(default_factory=dict, repr=False)
    diffs: tuple[FieldDiff, ...] = ()
    former_title: str | None = None
    secrets: Mapping[PathKey, str] = field(default_factory=dict, repr=False)

    @property
    def data(self) -> dict[str, Any]:
        patch_secrets = {p: w for p, w in self.secrets.items() if self.patch.get(str(p[0])) is not None}
        return super().data | {
            "patch": templated(self.patch, patch_secrets),
            "sensitive": _sensitive(patch_secrets, self.patch),
            "diffs": [diff.data for diff in self.diffs],
            "renamed_from": self.former_title,
        }

    @classmethod
    def _fields(cls, reader: Reader) -> dict[str, Any]:
        patch = dict(reader.mapping("patch"))
        diffs = []
        for n in range(len(reader.items("diffs"))):
            item = reader.child("diffs", n)
            sensitive, new = item.flag("sensitive"), item.data.get("new")
            # A sensitive diff's JSON holds what the definition wrote, never the value.
            written = new if sensitive else None
            diffs.append(FieldDiff(item.string("path"), item.data.get("old"), new, sensitive, written))
        return {
            "patch": patch,
            "diffs": tuple(diffs),
            "former_title": reader.optional_string("renamed_from"),
            "secrets": _secrets_from(reader, patch),
        }


@dataclass(frozen=True)
class Cancel(Change):
    """Cancel every pending run of a workflow (the only cancel the platform has). It runs
    before the workflow's schedules are made again: the reverse would cancel them too."""

    action: ClassVar[str] = "cancel"
    phase: ClassVar[int] = 1
    rank: ClassVar[int] = 2
    pending: tuple[str, ...] = ()  # the instants of the scheduled runs it cancels
    reason: str = ""

    @property
    def data(self) -> dict[str, Any]:
        return super().data | {"pending": list(self.pending), "reason": self.reason}

    @classmethod
    def _fields(cls, reader: Reader) -> dict[str, Any]:
        return {"pending": reader.strings("pending"), "reason": reader.optional_string("reason") or ""}


@dataclass(frozen=True)
class ScheduleRun(Change):
    """Schedule a one-shot run (``workflow_id`` None: of the workflow the plan creates)."""

    action: ClassVar[str] = "schedule"
    phase: ClassVar[int] = 2
    rank: ClassVar[int] = 3
    instant: str = ""
    timezone: str = "GMT"
    zone: str | None = None  # the IANA zone the definition gave, when it did

    @property
    def key(self) -> Key:
        return Key(
            self.action, self.workflow_id, self.title if self.workflow_id is None else None, self.instant
        )

    @property
    def data(self) -> dict[str, Any]:
        return super().data | {
            "scheduledDate": self.instant,
            "timezone": self.timezone,
            "zone": self.zone,
        }

    @classmethod
    def _fields(cls, reader: Reader) -> dict[str, Any]:
        return {
            "instant": reader.string("scheduledDate"),
            "timezone": reader.string("timezone"),
            "zone": reader.optional_string("zone"),
        }


@dataclass(frozen=True)
class Delete(Change):
    action: ClassVar[str] = "delete"
    phase: ClassVar[int] = 3
    rank: ClassVar[int] = 4


# The actions in the order they are listed for one workflow and counted.
ACTIONS: tuple[str, ...] = tuple(sorted(KINDS, key=lambda action: KINDS[action].rank))


def read_changes(reader: Reader, name: str = "changes") -> tuple[Change, ...]:
    """The changes listed under ``name``."""
    return tuple(Change.read(reader.child(name, n)) for n in range(len(reader.items(name))))


def by_key(changes: Sequence[Change]) -> dict[Key, Change]:
    return {change.key: change for change in changes}
