"""The emulator's settings: API keys, injected faults, and the response dialect.

Everything here is parsed from the command line forms below and validated up front, so
a typo in ``--fault`` is an error at start-up rather than a silently healthy server.

    --key VALUE=SCOPES          wfsync-dev-key=workflows:read,workflows:write
    --fault SPEC                latency=20ms,500=10%,429=5%,retry-after=1,drop-create=0.2
    --dialect SPEC              envelope=items,id=_id,page-cap=7,total=no,errors=text,
                                writes=status,titles=unique,defaults=yes,jobs=bullmq,
                                offset=+05:30
    --dialect FILE              a JSON object of the same settings, or a folder holding
                                one as dialect.json (what ``wfsync doctor --record`` saves)

The dialect exists because the platform's answer shapes are undocumented (SPEC §1,
"Assumptions the client must survive"): the emulator can answer in each form a client
must survive. ``writes`` is the answer to PATCH, DELETE, cancel and schedule: the
object (``object`` in the envelope, ``bare`` without), ``status`` only
(``{"status": true, "message": …}``), a MongoDB ``update-result`` under ``data``, or
``empty`` (204). ``titles=unique`` refuses a create (or a rename) whose title exists,
ignoring case, with 409. ``defaults=yes`` stores ``""``/``{}``/``[]`` for fields a body
leaves out. ``jobs=bullmq`` gives a job's state under ``state`` in BullMQ words, the job
in ``data`` beside a boolean ``status``. ``offset`` writes dates in that UTC offset.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta, timezone
from typing import Literal

from wfsync.emulator.store import JobTiming
from wfsync.errors import EmulatorConfigError

__all__ = [
    "DEV_KEY",
    "SCOPES",
    "WRITE_FORMS",
    "Dialect",
    "EmulatorConfig",
    "Faults",
    "dialect_file",
    "exposure_warning",
    "parse_dialect",
    "parse_faults",
    "parse_keys",
]

READ, WRITE = "workflows:read", "workflows:write"
SCOPES = frozenset({READ, WRITE})
# The one key a development emulator accepts when no --key is given.
DEV_KEY = "wfsync-dev-key"


@dataclass(frozen=True)
class Faults:
    """Injected trouble: a delay on every request and shares (0..1) of failing answers."""

    latency: float = 0.0
    error_500: float = 0.0
    error_429: float = 0.0
    retry_after: float = 1.0
    drop_create: float = 0.0

    @property
    def any(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name != "retry_after")


@dataclass(frozen=True)
class Dialect:
    """Which of the response forms of SPEC §1 the emulator answers with."""

    envelope: Literal["data", "items", "bare"] = "data"
    id_key: Literal["id", "_id"] = "id"
    page_cap: int | None = None
    total: bool = True
    errors: Literal["nest", "string", "text"] = "nest"
    writes: Literal["object", "bare", "status", "update-result", "empty"] = "object"
    unique_titles: bool = False
    defaults: bool = False
    jobs: Literal["platform", "bullmq"] = "platform"
    offset_minutes: int = 0

    @property
    def zone(self) -> timezone:
        """The UTC offset dates are written in."""
        return timezone(timedelta(minutes=self.offset_minutes))


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes one emulator; the defaults suit a development sandbox."""

    keys: Mapping[str, frozenset[str]] = field(default_factory=lambda: {DEV_KEY: SCOPES})
    faults: Faults = field(default_factory=Faults)
    dialect: Dialect = field(default_factory=Dialect)
    timing: JobTiming = field(default_factory=JobTiming)
    seed: int = 0
    fail_share: float = 0.0
    tick_seconds: float = 0.25


def _pairs(spec: str, what: str) -> Iterable[tuple[str, str]]:
    for part in filter(None, (piece.strip() for piece in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise EmulatorConfigError(f"{what} {spec!r}: expected NAME=VALUE, got {part!r}")
        yield key.strip().lower(), value.strip()


def _share(text: str, name: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise EmulatorConfigError(f"fault {name}: {text!r} is not a share such as 0.1 or 10%") from None
    if not 0.0 <= value <= 1.0:
        raise EmulatorConfigError(f"fault {name}: {text!r} is not between 0 and 1 (0% and 100%)")
    return value


def _seconds(text: str, name: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?", text)
    if not match:
        raise EmulatorConfigError(f"fault {name}: {text!r} is not a duration such as 20ms or 1.5s")
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


_FAULT_NAMES = {
    "latency": ("latency", _seconds),
    "500": ("error_500", _share),
    "429": ("error_429", _share),
    "retry-after": ("retry_after", _seconds),
    "drop-create": ("drop_create", _share),
}


def parse_faults(specs: Iterable[str], base: Faults = Faults()) -> Faults:
    """``["latency=20ms,500=10%", "429=0.05"]`` -> Faults; later settings win."""
    faults = base
    for spec in specs:
        for name, value in _pairs(spec, "fault"):
            if name not in _FAULT_NAMES:
                known = ", ".join(_FAULT_NAMES)
                raise EmulatorConfigError(f"fault {spec!r}: unknown fault {name!r} (known: {known})")
            attribute, parse = _FAULT_NAMES[name]
            faults = replace(faults, **{attribute: parse(value, name)})
    return faults


def parse_keys(specs: Iterable[str]) -> dict[str, frozenset[str]]:
    """``["k1=workflows:read", "k2=workflows:read,workflows:write"]`` -> {key: scopes}."""
    keys: dict[str, frozenset[str]] = {}
    for spec in specs:
        key, sep, scopes_text = spec.partition("=")
        if not sep or not key:
            raise EmulatorConfigError("--key: expected KEY=SCOPES, such as KEY=workflows:read")
        scopes = frozenset(filter(None, (scope.strip() for scope in scopes_text.split(","))))
        unknown = scopes - SCOPES
        if unknown:
            raise EmulatorConfigError(
                f"--key: unknown scope {sorted(unknown)[0]!r} (known: {', '.join(sorted(SCOPES))})"
            )
        keys[key] = scopes
    return keys


WRITE_FORMS = ("object", "bare", "status", "update-result", "empty")

_CHOICES = {
    "envelope": ("envelope", ("data", "items", "bare")),
    "id": ("id_key", ("id", "_id")),
    "errors": ("errors", ("nest", "string", "text")),
    "writes": ("writes", WRITE_FORMS),
    "jobs": ("jobs", ("platform", "bullmq")),
}
_KNOWN = "envelope, id, page-cap, total, errors, writes, titles, defaults, jobs, offset"


def _offset_minutes(value: str) -> int:
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})|Z", value)
    if not match:
        raise EmulatorConfigError(f"dialect offset: {value!r} is not a UTC offset such as +05:30 or Z")
    if value == "Z":
        return 0
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total >= 24 * 60:
        raise EmulatorConfigError(f"dialect offset: {value!r} is not between -23:59 and +23:59")
    return -total if sign == "-" else total


def dialect_file(path: str) -> str:
    """The settings a JSON file holds (``{"envelope": "items", "page-cap": 7}``), or a folder's
    ``dialect.json`` (a ``wfsync doctor --record`` folder), as a ``--dialect`` SPEC."""
    import json
    import os

    file = os.path.join(path, "dialect.json") if os.path.isdir(path) else path
    try:
        with open(file, encoding="utf-8") as handle:
            settings = json.load(handle)
    except OSError as exc:
        raise EmulatorConfigError(
            f"dialect {path!r}: not a SPEC such as envelope=items, nor a readable "
            f"file ({exc.strerror or exc})"
        ) from None
    except ValueError as exc:
        raise EmulatorConfigError(f"dialect file {file}: not JSON ({exc})") from None
    if not isinstance(settings, dict) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in settings.values()
    ):
        raise EmulatorConfigError(
            f"dialect file {file}: expected an object of settings such as "
            '{"envelope": "items", "page-cap": 7}'
        )
    for name, value in settings.items():
        if "," in str(name) + str(value) or "=" in str(name) + str(value):
            raise EmulatorConfigError(f"dialect file {file}: {name!r}: {value!r} is not a setting")
    return ",".join(f"{name}={value}" for name, value in settings.items())


def parse_dialect(specs: Iterable[str], base: Dialect = Dialect()) -> Dialect:
    """``["envelope=items,id=_id,page-cap=7,total=no"]`` -> Dialect; a SPEC without ``=`` is
    a file or folder (:func:`dialect_file`)."""
    dialect = base
    for spec in specs:
        if spec.strip() and "=" not in spec:
            spec = dialect_file(spec.strip())
        for name, value in _pairs(spec, "dialect"):
            if name in _CHOICES:
                attribute, allowed = _CHOICES[name]
                if value not in allowed:
                    raise EmulatorConfigError(f"dialect {name}: {value!r} is not one of {', '.join(allowed)}")
                dialect = replace(dialect, **{attribute: value})  # type: ignore[arg-type]
            elif name == "page-cap":
                if not value.isdigit() or int(value) < 1:
                    raise EmulatorConfigError(f"dialect page-cap: {value!r} is not a positive integer")
                dialect = replace(dialect, page_cap=int(value))
            elif name in ("total", "defaults"):
                if value not in ("yes", "no"):
                    raise EmulatorConfigError(f"dialect {name}: {value!r} is not yes or no")
                on = value == "yes"
                dialect = replace(dialect, total=on) if name == "total" else replace(dialect, defaults=on)
            elif name == "titles":
                if value not in ("free", "unique"):
                    raise EmulatorConfigError(f"dialect titles: {value!r} is not free or unique")
                dialect = replace(dialect, unique_titles=value == "unique")
            elif name == "offset":
                dialect = replace(dialect, offset_minutes=_offset_minutes(value))
            else:
                raise EmulatorConfigError(f"dialect {spec!r}: unknown setting {name!r} (known: {_KNOWN})")
    return dialect


def exposure_warning(host: str, keys: Mapping[str, frozenset[str]]) -> str | None:
    """A warning when the emulator listens beyond this machine with the well-known key.

    ``wfsync-dev-key`` is printed in every README: on a reachable address it lets anyone
    on the network write to the emulator.
    """
    import ipaddress

    if DEV_KEY not in keys:
        return None
    name = host.strip("[]").lower()
    try:
        loopback = ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = name == "localhost" or name.endswith(".localhost")
    if loopback:
        return None
    return (
        f"Warning: listening on {host}, beyond this machine, with the development key "
        f"{DEV_KEY} that anyone can read in the documentation: pass --key KEY=SCOPES"
    )
