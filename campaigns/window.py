"""Calling windows: when a campaign may dial, in the workspace's zone, a named zone,
or each contact's own (docs/campaigns.md "Calling window").

A window is `{"timezone", "days", "start", "end"}` as `validate_window` returns it,
or None (any time). On a local day named in `days` it is open for one stretch of
real time: from the first instant the local clock reads `start` or later, until
the first instant it reads `end` or later (start inclusive, end exclusive). So a
start the clock skips (spring forward) opens at the jump, a start the clock shows
twice (fall back) opens at its first showing, and a window opens once a day.

The functions that answer "open?" take the zone to read the clock in: resolving
`"contact"` to a contact's zone is `window_zone`'s job, called by whoever knows the
contact.
"""

import functools
import re
import zoneinfo
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import phonenumbers
from phonenumbers import timezone as number_zones

from project.errors import BadRequest
from workspaces.zones import known_zones

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
CONTACT_ZONE = "contact"
WINDOW_KEYS = ("timezone", "days", "start", "end")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
# Windows open at least once a week; a day more covers a window whose only day
# this week is all skipped by a clock change. A day's stretch ends before the next
# local day begins, so the search starts on the local day of the instant asked about.
_SEARCH_DAYS = 9
# phonenumbers' answer for a number it cannot place.
_UNKNOWN_ZONE = "Etc/Unknown"


def zone_for_number(number: str | phonenumbers.PhoneNumber) -> str:
    """The IANA zone of a number (E.164 text, or one phonenumbers already parsed), or ""
    when the number spans several zones or none is known: the workspace's zone then
    applies."""
    if isinstance(number, str):
        try:
            number = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return ""
    zones = [zone for zone in number_zones.time_zones_for_number(number) if zone != _UNKNOWN_ZONE]
    return zones[0] if len(zones) == 1 else ""


def _refuse(part: str, message: str, **details) -> BadRequest:
    field = f"calling_window.{part}" if part else "calling_window"
    return BadRequest(message, code="invalid_calling_window", details={"field": field, **details})


def validate_window(value, *, workspace_zone: str) -> dict | None:
    """The window as stored: keys in contract order, `timezone` filled with
    `workspace_zone` when absent or null (the zone at the time the window is set),
    `days` in week order. None stays None (no window: any time). Raises BadRequest
    `invalid_calling_window`, `details.field` naming the part that is wrong."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _refuse("", "`calling_window` must be an object, or null for any time.")
    unknown = sorted(str(key)[:32] for key in value if key not in WINDOW_KEYS)
    if unknown:
        raise _refuse("", f"`calling_window` has unknown keys: {', '.join(unknown[:5])}.",
                      unknown=unknown[:5], valid=list(WINDOW_KEYS))
    for key in ("days", "start", "end"):
        if key not in value:
            raise _refuse(key, f"`calling_window.{key}` is required.")
    start, end = _clock(value, "start"), _clock(value, "end")
    if start >= end:
        raise _refuse("end", "`calling_window.end` must be later than `start`: "
                             "a window cannot cross midnight.")
    return {
        "timezone": _zone(value.get("timezone"), workspace_zone),
        "days": _days(value["days"]),
        "start": value["start"],
        "end": value["end"],
    }


def _zone(name, workspace_zone: str) -> str:
    if name is None:
        return workspace_zone
    if name == CONTACT_ZONE or (isinstance(name, str) and name in known_zones()):
        return name
    raise _refuse("timezone", '`calling_window.timezone` must be "contact" or an IANA time zone name.')


def _days(days) -> list[str]:
    if not isinstance(days, list) or not 1 <= len(days) <= len(WEEKDAYS):
        raise _refuse("days", "`calling_window.days` must be a list of one to seven days.",
                      valid=list(WEEKDAYS))
    if not all(isinstance(day, str) and day in WEEKDAYS for day in days):
        raise _refuse("days", "`calling_window.days` holds a day that is not one of mon..sun.",
                      valid=list(WEEKDAYS))
    if len(set(days)) != len(days):
        raise _refuse("days", "`calling_window.days` names a day twice.")
    return [day for day in WEEKDAYS if day in days]


def _clock(window: dict, key: str) -> time:
    text = window[key]
    if not isinstance(text, str) or not _CLOCK.fullmatch(text):
        raise _refuse(key, f"`calling_window.{key}` must be a 24-hour time HH:MM, e.g. 09:00.")
    return time.fromisoformat(text)


def window_zone(window: dict | None, *, workspace_zone: str, contact_zone: str = "") -> str:
    """The zone whose clock the window is read in for one contact: the window's named
    zone, or for "contact" the contact's own, the workspace's when it has none."""
    if window is None:
        return workspace_zone
    if window["timezone"] == CONTACT_ZONE:
        return contact_zone or workspace_zone
    return window["timezone"]


def is_open(window: dict | None, zone: str, at: datetime) -> bool:
    """Whether the window is open at the aware instant `at`, reading the clock in the
    IANA `zone` (never "contact": see `window_zone`). None is always open."""
    if window is None:
        return True
    # A clock turned back over midnight shows the day before again after the day's
    # stretch has opened (Antarctica/Casey, 5 March 2010): look at the next day's too.
    stretches = _stretches(window, zone, _local_day(at, zone), 2)
    return any(opens <= at < closes for opens, closes in stretches)


def next_opening(window: dict | None, zone: str, at: datetime) -> datetime | None:
    """The first instant at or after the aware `at` when the window is open, in UTC:
    `at` itself when open. None when it does not open within eight days (a validated
    window always does)."""
    if window is None:
        return at.astimezone(UTC)
    for opens, closes in _stretches(window, zone, _local_day(at, zone), _SEARCH_DAYS):
        if at < closes:
            return max(opens, at).astimezone(UTC)
    return None


def zones_open(window: dict | None, zones: Iterable[str], at: datetime) -> set[str]:
    """Which of `zones` (IANA names; repeats are fine) have the window open at `at`."""
    return {zone for zone in set(zones) if is_open(window, zone, at)}


def _local_day(at: datetime, zone: str) -> date:
    if at.tzinfo is None:
        raise ValueError("calling windows compare aware datetimes only")
    return at.astimezone(_tz(zone)).date()


# ZoneInfo keeps only the last few zones alive; past them it reads the file again.
@functools.lru_cache(maxsize=1024)
def _tz(zone: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(zone)


def _stretches(window: dict, zone: str, first: date, count: int):
    """(opens, closes) in UTC for each window day among `count` local days from `first`."""
    for offset in range(count):
        day = first + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] in window["days"]:
            stretch = _stretch(zone, day, window["start"], window["end"])
            if stretch:
                yield stretch


# The dialer asks about the same few hundred zones and the same days every second.
@functools.lru_cache(maxsize=8192)
def _stretch(zone: str, day: date, start: str, end: str) -> tuple[datetime, datetime] | None:
    tz = _tz(zone)
    opens = _first_reading(day, time.fromisoformat(start), tz)
    closes = _first_reading(day, time.fromisoformat(end), tz)
    return (opens, closes) if opens < closes else None


def _first_reading(day: date, clock: time, tz: zoneinfo.ZoneInfo) -> datetime:
    """The first instant the clock in `tz` reads `clock` on `day`, or later if it skips it."""
    wall = datetime.combine(day, clock)
    # fold=0 is the first showing of a repeated time (PEP 495).
    instant = wall.replace(tzinfo=tz).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # Skipped: fold=1 reads the wall with the offset after the jump, which lands before
    # it; fold=0 with the offset before it, which lands after. The jump lies between,
    # on a whole second: find the first second whose clock reads `clock` or later.
    before = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    after = int(instant.timestamp())
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)
