"""How REST answers write an instant: ISO 8601 in UTC with a `Z`, as the event
envelope does (docs/reference/rest.md#requests-and-responses)."""

from datetime import UTC, datetime


def iso_utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None
