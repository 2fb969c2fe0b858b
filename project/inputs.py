"""Types for request fields whose values go into database queries as given."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC. Python accepts offsets up to ±23:59 and PostgreSQL
    only up to ±15:59 (a 500); an instant that falls outside years 1..9999 in UTC
    becomes that end of the calendar, which compares the same way. A naive value
    is left as it is, for the field's own rule (the runtime ingest refuses it)."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.max if value.year == datetime.max.year else datetime.min).replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
