"""When a schedule runs (docs/schedules.md "Time zones and daylight saving").

Cron expressions are read by cronsim (Healthchecks' evaluator), in the
schedule's IANA zone through zoneinfo. We measured it beside croniter 7.0.0
(docs/PERFORMANCE.md "Schedules"): across a fall-back change croniter runs
`30 1 * * *` at both 01:30s, and it parses and steps about eight times slower.
cronsim follows Debian cron's rules, which are the contract's:

- a fixed local time that does not exist (spring forward) runs at the next valid
  instant: `30 2 * * *` in New York on 2026-03-08 runs at 03:00 EDT;
- a fixed local time that happens twice (fall back) runs once, at its first;
- an expression with a wildcard hour (`0 * * * *`, `*/15 * * * *`) follows the
  clock's real hours, so every hour of the repeated one runs too.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from project.errors import BadRequest
from workspaces.zones import known_zones

MAX_CRON_LENGTH = 100
PREVIEW_RUNS = 5
# How far ahead a one-off schedule may be set.
MAX_RUN_AT_AHEAD = timedelta(days=366)


def cron_expression(value, *, field: str = "cron") -> str:
    """A 5-field expression (minute, hour, day of month, month, day of week), with
    single spaces; 400 `invalid_cron` naming the field for anything else."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CRON_LENGTH:
        raise _invalid_cron(f"`{field}` must be a cron expression of at most {MAX_CRON_LENGTH} characters.",
                            field)
    fields = value.split()
    if len(fields) != 5:
        raise _invalid_cron(
            f"`{field}` must have 5 fields (minute hour day-of-month month day-of-week), "
            f"not {len(fields)}.",
            field,
        )
    expression = " ".join(fields)
    try:
        next(CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC)))
    except (CronSimError, StopIteration) as error:
        reason = str(error) or "it never runs"
        message = f"`{field}` is not a cron expression that can run: {reason.lower()}."
        raise _invalid_cron(message, field) from None
    return expression


def check_runs_soon(cron: str, zone: str, *, now: datetime, field: str = "cron") -> None:
    """400 `invalid_cron` for an expression whose first run is more than
    MAX_RUN_AT_AHEAD away (`0 0 31 2 1#5`: every 28 years): such a rare one also
    costs milliseconds for each time shown of it, on every list page."""
    first = next(cron_times(cron, zone, now), None)
    if first is None or first - now > MAX_RUN_AT_AHEAD:
        when = f"not before {first:%Y-%m-%d}" if first else "never"
        raise BadRequest(
            f"`{field}` first runs {when}: a schedule must run within {MAX_RUN_AT_AHEAD.days} days.",
            code="invalid_cron", details={"field": field, "max_days_ahead": MAX_RUN_AT_AHEAD.days},
        )


def _invalid_cron(message: str, field: str) -> BadRequest:
    return BadRequest(message, code="invalid_cron", details={"field": field})


def time_zone(value, *, field: str = "timezone") -> str:
    """An IANA zone name (the campaigns' list: not the host's own `localtime`);
    400 `invalid_timezone` naming the field otherwise."""
    if isinstance(value, str) and value in known_zones():
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise BadRequest(f"`{field}` must be an IANA time zone name, such as Europe/Berlin.",
                     code="invalid_timezone", details={"field": field})


def run_at_instant(value, *, now: datetime, field: str = "run_at") -> datetime:
    """A one-off time: an instant with a zone, after now and at most
    MAX_RUN_AT_AHEAD ahead; 400 `invalid_run_at` otherwise."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise BadRequest(f"`{field}` must be an ISO 8601 instant with a time zone.",
                         code="invalid_run_at", details={"field": field})
    if value <= now:
        raise BadRequest(f"`{field}` must be in the future.", code="invalid_run_at",
                         details={"field": field, "now": now.isoformat()})
    if value - now > MAX_RUN_AT_AHEAD:
        days = MAX_RUN_AT_AHEAD.days
        raise BadRequest(f"`{field}` may be at most {days} days ahead.",
                         code="invalid_run_at", details={"field": field, "max_days_ahead": days})
    return value.astimezone(UTC)


def cron_times(cron: str, zone: str, after: datetime) -> Iterator[datetime]:
    """The instants (UTC) a cron expression names in a zone, strictly after `after`.

    cronsim ignores `fold`: started at an instant of the second pass through a
    repeated hour (01:10 EST on New York's fall-back night), it counts from the
    first pass (01:10 EDT, an hour earlier) and names times already gone by, such
    as 01:30 EDT. Those are skipped; at most one repeated hour's worth of them."""
    for moment in CronSim(cron, after.astimezone(ZoneInfo(zone))):
        instant = moment.astimezone(UTC)
        if instant > after:
            yield instant


def next_run_after(*, cron: str, timezone: str, run_at: datetime | None, after: datetime) -> datetime | None:
    """The schedule's first time strictly after `after`; None when it has none left
    (a one-off whose time is not after `after`)."""
    if not cron:
        return run_at if run_at is not None and run_at > after else None
    return next(cron_times(cron, timezone, after), None)


def upcoming(*, cron: str, timezone: str, run_at: datetime | None, after: datetime,
             count: int = PREVIEW_RUNS) -> list[datetime]:
    """The schedule's next `count` times after `after` (a one-off has at most one)."""
    if not cron:
        return [run_at] if run_at is not None and run_at > after else []
    return list(islice(cron_times(cron, timezone, after), count))
