"""A schedule's time as people write it -> the instant and the platform's zone.

The platform takes a UTC instant and a zone named ``GMT``, ``GMT_plus_N`` or
``GMT_minus_N``. People write ``2027-07-01T09:00`` in ``Europe/Berlin`` (SPEC §2):

- with a platform zone the date-time carries its offset or ``Z``;
- with an IANA zone it may be a local time without an offset, 09:00 on the wall clock
  there that day; an offset that is not the zone's at that instant is an error, and so
  is a local time the zone skips or repeats at a daylight-saving switch (it needs an
  explicit offset to say which instant is meant);
- an impossible date (``2027-02-30``) says what is wrong with it.

    >>> when = read_schedule("2027-07-01T09:00", "Europe/Berlin")
    >>> when.instant, when.timezone, when.local
    ('2027-07-01T07:00:00.000Z', 'GMT_plus_2', '2027-07-01 09:00 Europe/Berlin')
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

from wfsync.schema import utc_instant
from wfsync.yamlsource import Location

__all__ = [
    "PLATFORM_ZONES",
    "Schedule",
    "ScheduleError",
    "local_time",
    "platform_timezone",
    "read_schedule",
]

PLATFORM_ZONES = frozenset(
    ["GMT"] + [f"GMT_plus_{n}" for n in range(1, 15)] + [f"GMT_minus_{n}" for n in range(1, 13)]
)

# The shape of an ISO-8601 date-time; whether its numbers make a real date is asked of
# datetime afterwards, so that "2027-02-30" is told its day is wrong, not its format.
_DATE_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
)


@dataclass(frozen=True)
class Schedule:
    """A one-shot run a workflow must have pending: the instant ``at``, the platform's
    zone for it, and the IANA ``zone`` it was written in, when it was."""

    at: datetime
    timezone: str  # the platform's form: GMT, GMT_plus_N, GMT_minus_N
    location: Location | None = None
    zone: str | None = None

    @property
    def instant(self) -> str:
        """The instant in UTC, as the platform writes it: ``2027-07-01T08:00:00.000Z``."""
        return utc_instant(self.at)

    @property
    def local(self) -> str:
        """The wall-clock time in the zone it was written in: ``2027-07-01 09:00 Europe/Berlin``."""
        return local_time(self.at, self.zone or self.timezone)


@dataclass(frozen=True)
class ScheduleError:
    """Why a schedule cannot be used, and which of its two fields is wrong."""

    field: Literal["scheduledDate", "timezone"]
    message: str


def _offset_text(offset: timedelta | None) -> str:
    seconds = int(offset.total_seconds()) if offset is not None else 0
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}"


@functools.cache
def _zone(name: str) -> tzinfo | None:
    """The zone called ``name`` (a platform zone is a fixed offset), or None if unknown."""
    if name in PLATFORM_ZONES:
        from datetime import timezone

        hours = 0 if name == "GMT" else int(name.rsplit("_", 1)[1]) * (1 if "_plus_" in name else -1)
        return timezone(timedelta(hours=hours))
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def local_time(at: datetime | str, zone: str) -> str:
    """``at`` on the wall clock of ``zone``: ``2027-07-01 09:00 Europe/Berlin`` (seconds
    shown only when there are some)."""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")) if isinstance(at, str) else at
    where = _zone(zone)
    local = moment.astimezone(where) if where is not None else moment
    shown = local.strftime("%H:%M:%S" if local.second or local.microsecond else "%H:%M")
    return f"{local.year:04d}-{local.strftime('%m-%d')} {shown} {zone}"


def platform_timezone(name: str, at: datetime) -> tuple[str, str | None]:
    """The platform's zone name for ``name`` at the instant ``at``, or an error.

    ``GMT_plus_2`` stays as it is; ``Europe/Berlin`` becomes ``GMT_plus_1`` in winter and
    ``GMT_plus_2`` in summer. A zone whose offset then is not whole hours (Asia/Kolkata,
    +05:30) cannot be said in the platform's terms.
    """
    if name in PLATFORM_ZONES:
        return name, None
    zone = _zone(name)
    if zone is None:
        hint = "use GMT, GMT_plus_N, GMT_minus_N or an IANA zone such as Europe/Berlin"
        return name, f"unknown timezone {name!r}: {hint}"
    offset = at.astimezone(zone).utcoffset()
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


def read_schedule(
    written: str, timezone: str, *, name: str = "scheduledDate", location: Location | None = None
) -> Schedule | ScheduleError:
    """The schedule ``written`` in ``timezone`` means, or what is wrong with it; ``name``
    is how messages call the date field (``schedules[0].scheduledDate``)."""
    try:
        return _read(written, timezone, name, location)
    except OverflowError:  # 9999-12-31T23:00-05:00 is after the last instant datetime holds
        return ScheduleError(
            "scheduledDate", f"{name} {written!r} is not a real date: its instant is beyond year 1 to 9999"
        )


def _read(written: str, timezone: str, name: str, location: Location | None) -> Schedule | ScheduleError:
    shape = _DATE_TIME.fullmatch(written)
    if shape is None:
        return ScheduleError(
            "scheduledDate",
            f"{name} must be an ISO-8601 date-time such as 2027-07-01T09:00:00Z (or a local time "
            f"such as 2027-07-01T09:00 with an IANA timezone), not {written!r}",
        )
    offset = shape["offset"]
    try:
        naive = datetime.fromisoformat(f"{shape['date']}T{_fraction_cut(shape['time'])}")
    except ValueError as exc:
        return ScheduleError("scheduledDate", f"{name} {written!r} is not a real {_what(shape['date'], exc)}")
    zone = _zone(timezone)
    if zone is None:
        return ScheduleError("timezone", platform_timezone(timezone, datetime.now(UTC))[1] or "")
    iana = timezone not in PLATFORM_ZONES
    if offset is None and not iana:
        example = (
            f"{written}{'Z' if timezone == 'GMT' else _offset_text(naive.replace(tzinfo=zone).utcoffset())}"
        )
        return ScheduleError(
            "scheduledDate",
            f"{name} {written!r} has no UTC offset: with timezone {timezone} write one ({example}), "
            "or name an IANA zone such as Europe/Berlin to mean a local time there",
        )
    if offset is not None:
        fixed = _fixed(offset)
        if fixed is None:
            return ScheduleError(
                "scheduledDate", f"{name} {written!r} is not a real time: {offset} is not a UTC offset"
            )
        at = naive.replace(tzinfo=fixed)
        actual = at.astimezone(zone).utcoffset()
        if iana and actual != at.utcoffset():
            return ScheduleError(
                "scheduledDate",
                f"{name} {written!r} says UTC{_offset_text(at.utcoffset())}, but {timezone} is "
                f"UTC{_offset_text(actual)} at that instant ({utc_instant(at)}); write "
                f"{_retimed(at, zone)} for that instant, or leave the offset out to mean the "
                f"local time in {timezone}",
            )
    else:
        first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
        if first.utcoffset() != second.utcoffset():
            if _wall(first) != naive:
                return ScheduleError(
                    "scheduledDate",
                    f"{name} {written!r} does not exist in {timezone}: the clocks skip it at the "
                    f"daylight-saving switch; write the instant meant with its offset, such as "
                    f"{_retimed(first, zone)}",
                )
            return ScheduleError(
                "scheduledDate",
                f"{name} {written!r} occurs twice in {timezone}: the clocks go back over it at the "
                f"daylight-saving switch; write it with its offset: {_with_offset(first)} (the first) "
                f"or {_with_offset(second)} (the second)",
            )
        at = first
    platform, error = platform_timezone(timezone, at)
    if error:
        return ScheduleError("timezone", error)
    return Schedule(at.astimezone(UTC), platform, location, timezone if iana else None)


@functools.cache
def _fixed(offset: str) -> tzinfo | None:
    """The fixed zone of an offset as written (``Z``, ``+02:00``, ``-05:30``), or None
    when it is not one (``+25:00``)."""
    if offset in ("Z", "z"):
        return UTC
    from datetime import timezone

    hours, minutes = int(offset[1:3]), int(offset[4:6])
    if hours > 23 or minutes > 59:
        return None
    return timezone((-1 if offset[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes))


def _fraction_cut(time: str) -> str:
    """Python reads at most microseconds: nanoseconds written are cut, not an error."""
    whole, dot, fraction = time.partition(".")
    return f"{whole}.{fraction[:6].ljust(6, '0')}" if dot else whole


def _what(date: str, exc: ValueError) -> str:
    """What a date-time that datetime refused gets wrong: ``date: day is out of range for
    month (February 2027 has 28 days)``."""
    year, month, _ = (int(part) for part in date.split("-"))
    reason = str(exc)
    if "day is out of range" in reason and 1 <= month <= 12 and year >= 1:
        days = calendar.monthrange(year, month)[1]
        reason += f" ({calendar.month_name[month]} {year} has {days} days)"
    kind = "date" if any(word in reason for word in ("day", "month", "year")) else "time"
    return f"{kind}: {reason}"


def _wall(moment: datetime) -> datetime:
    """The wall-clock time ``moment`` shows after a round trip through UTC (naive)."""
    assert moment.tzinfo is not None
    return moment.astimezone(UTC).astimezone(moment.tzinfo).replace(tzinfo=None)


def _with_offset(moment: datetime) -> str:
    timespec = "minutes" if not (moment.second or moment.microsecond) else "auto"
    return moment.replace(tzinfo=None).isoformat(timespec=timespec) + _offset_text(moment.utcoffset())


def _retimed(moment: datetime, zone: tzinfo) -> str:
    """``moment`` as the zone's wall clock shows it, with the zone's offset."""
    return _with_offset(moment.astimezone(UTC).astimezone(zone))
