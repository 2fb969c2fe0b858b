"""What a campaign's settings may be (docs/reference/rest.md#campaigns): each check
returns the value to store, normalised, or raises a 400 naming what is wrong. The
services call these for every caller (REST, the admin, tests), so no path stores
a setting the dialer cannot use. The calling window has its own module
(campaigns/window.py)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from campaigns.models import MAX_CALLS_PER_MINUTE, MAX_CONCURRENCY, Campaign, default_retry
from project.errors import BadRequest

MAX_NAME_LENGTH = Campaign._meta.get_field("name").max_length
MAX_ATTEMPTS = 10
RETRY_OUTCOMES = ("no-answer", "busy", "failed", "voicemail")
# A retry waits at least a second and at most a week: a longer wait is a new campaign.
MAX_RETRY_DELAY_SECONDS = 7 * 24 * 3600
# How far ahead a campaign may be scheduled.
MAX_START_AHEAD = timedelta(days=366)


def campaign_name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadRequest(
            f"A campaign needs a name of 1 to {MAX_NAME_LENGTH} characters.",
            code="invalid_name",
            details={"field": "name"},
        )
    return name


def _whole_number(value: Any, *, field: str, low: int, high: int, code: str) -> int:
    # bool is an int to Python, not to a client.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(
            f"`{field}` must be a whole number from {low} to {high}.",
            code=code,
            details={"field": field, "min": low, "max": high},
        )
    return value


def max_concurrency(value: Any) -> int:
    return _whole_number(value, field="max_concurrency", low=1, high=MAX_CONCURRENCY,
                         code="invalid_max_concurrency")


def calls_per_minute(value: Any) -> int | None:
    if value is None:
        return None
    return _whole_number(value, field="calls_per_minute", low=1, high=MAX_CALLS_PER_MINUTE,
                         code="invalid_calls_per_minute")


def _retry_error(message: str, field: str) -> BadRequest:
    where = f"retry.{field}" if field else "retry"
    return BadRequest(message, code="invalid_retry", details={"field": where})


def retry_policy(value: Any) -> dict:
    """`{"max_attempts", "retry_on", "delay_seconds"}`; a key left out keeps its
    default, an unknown key is refused. `retry_on` comes back without repeats, in
    the contract's order."""
    if value is None:
        return default_retry()
    if not isinstance(value, dict):
        raise _retry_error("`retry` must be an object.", "")
    unknown = sorted(set(value) - set(default_retry()))
    if unknown:
        raise _retry_error(f"`retry` has no {', '.join(unknown)}.", unknown[0])
    policy = {**default_retry(), **value}
    attempts = policy["max_attempts"]
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS:
        raise _retry_error(f"`retry.max_attempts` must be a whole number from 1 to {MAX_ATTEMPTS}.",
                           "max_attempts")
    outcomes = policy["retry_on"]
    if not isinstance(outcomes, list) or not all(outcome in RETRY_OUTCOMES for outcome in outcomes):
        raise _retry_error(f"`retry.retry_on` must be a list of {', '.join(RETRY_OUTCOMES)}.", "retry_on")
    delay = policy["delay_seconds"]
    if isinstance(delay, bool) or not isinstance(delay, int) or not 1 <= delay <= MAX_RETRY_DELAY_SECONDS:
        raise _retry_error(
            f"`retry.delay_seconds` must be a whole number from 1 to {MAX_RETRY_DELAY_SECONDS}.",
            "delay_seconds",
        )
    return {
        "max_attempts": attempts,
        "retry_on": [outcome for outcome in RETRY_OUTCOMES if outcome in outcomes],
        "delay_seconds": delay,
    }


def start_at(value: datetime | None, *, now: datetime) -> datetime | None:
    """An instant with a zone, at most MAX_START_AHEAD from now. One in the past is
    fine: starting then means starting at once."""
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise BadRequest("`start_at` must be an ISO 8601 instant with a time zone.",
                         code="invalid_start_at", details={"field": "start_at"})
    if value - now > MAX_START_AHEAD:
        raise BadRequest(
            f"`start_at` may be at most {MAX_START_AHEAD.days} days ahead.",
            code="invalid_start_at",
            details={"field": "start_at", "max_days_ahead": MAX_START_AHEAD.days},
        )
    return value.astimezone(UTC)
