"""Request datetimes reach the database as UTC instants it can hold."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from project.inputs import as_utc


@pytest.mark.parametrize(("given", "expected"), [
    (datetime(2026, 4, 16, 22, 29, tzinfo=timezone(timedelta(hours=22, minutes=43))),
     datetime(2026, 4, 15, 23, 46, tzinfo=UTC)),
    (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), datetime.min.replace(tzinfo=UTC)),
    (datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), datetime.max.replace(tzinfo=UTC)),
])
def test_a_datetime_becomes_the_same_instant_in_utc_within_the_calendar(given, expected):
    assert as_utc(given) == expected
    assert as_utc(given).utcoffset() == timedelta(0)


def test_a_naive_datetime_is_left_to_the_fields_own_rule():
    assert as_utc(datetime(2026, 4, 16, 12, 0)) == datetime(2026, 4, 16, 12, 0)
