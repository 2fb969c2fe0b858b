"""When a schedule runs (docs/schedules.md "Time zones and daylight saving"): cron
expressions read in the schedule's zone, a local time that does not exist runs at
the next valid instant, a local time that happens twice runs once."""

from datetime import UTC, datetime
from itertools import islice

import pytest

from project.errors import ApiError
from schedules import timing


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def times(cron: str, zone: str, after: str, count: int) -> list[datetime]:
    return list(islice(timing.cron_times(cron, zone, utc(after)), count))


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        # New York springs forward on 2026-03-08: 02:00 EST becomes 03:00 EDT.
        ("America/New_York", "2026-03-07T12:00", ["2026-03-08T07:00", "2026-03-09T06:30"]),
        # Berlin springs forward on 2026-03-29: 02:00 CET becomes 03:00 CEST.
        ("Europe/Berlin", "2026-03-28T12:00", ["2026-03-29T01:00", "2026-03-30T00:30"]),
    ],
)
def test_a_local_time_that_does_not_exist_runs_at_the_next_valid_instant(zone, after, expected):
    # given a daily 02:30, which the spring-forward night skips
    # when its times are worked out across that night
    runs = times("30 2 * * *", zone, after, 2)

    # then that night's run is at 03:00 local, the first instant after the gap, and the next day's at 02:30
    assert runs == [utc(moment) for moment in expected]


@pytest.mark.parametrize(
    ("zone", "cron", "after", "expected"),
    [
        # New York falls back on 2026-11-01: 01:00-02:00 happens twice (EDT, then EST).
        ("America/New_York", "30 1 * * *", "2026-10-31T12:00", ["2026-11-01T05:30", "2026-11-02T06:30"]),
        # Berlin falls back on 2026-10-25: 02:00-03:00 happens twice (CEST, then CET).
        ("Europe/Berlin", "30 2 * * *", "2026-10-24T12:00", ["2026-10-25T00:30", "2026-10-26T01:30"]),
    ],
)
def test_a_local_time_that_happens_twice_runs_once(zone, cron, after, expected):
    # when a daily time inside the repeated hour is worked out across the fall-back night
    runs = times(cron, zone, after, 2)

    # then it runs at the first of the two, and next on the following day
    assert runs == [utc(moment) for moment in expected]


def test_an_hourly_expression_follows_the_real_hours_through_a_repeated_hour():
    # given every hour, on the night New York falls back
    # when its times are worked out
    runs = times("0 * * * *", "America/New_York", "2026-11-01T04:30", 3)

    # then both 01:00s run (an hour apart in real time), then 02:00 EST: no hour is skipped or doubled
    assert runs == [utc("2026-11-01T05:00"), utc("2026-11-01T06:00"), utc("2026-11-01T07:00")]


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        # a fixed 01:30: 01:30 EDT (05:30 UTC) has passed and 01:30 EST does not run; the next day's
        ("30 1 * * *", "2026-11-01T06:10", "2026-11-02T06:30"),
        # every quarter of 01:xx, which follows the real minutes: 01:15 EST, five minutes on
        ("*/15 1 * * *", "2026-11-01T06:10", "2026-11-01T06:15"),
    ],
)
def test_the_next_time_after_an_instant_of_the_repeated_hour_is_after_it(cron, after, expected):
    # given New York's fall-back night, and an instant of its second 01:00-02:00 (EST, 06:00-07:00 UTC),
    # such as a create, a resume or a change at 01:10 EST
    # when the schedule's next time is worked out from it
    following = timing.next_run_after(cron=cron, timezone="America/New_York", run_at=None, after=utc(after))

    # then it is after that instant, never a time of the first pass that has gone by
    assert following == utc(expected)
    assert times(cron, "America/New_York", after, 1) == [utc(expected)]


def test_an_expression_is_read_in_the_schedules_zone():
    # when 09:00 on weekdays is read in Tokyo (UTC+9, no daylight saving) from a Saturday
    runs = times("0 9 * * mon-fri", "Asia/Tokyo", "2026-12-05T00:00", 2)

    # then it is Monday 00:00 UTC, then Tuesday's
    assert runs == [utc("2026-12-07T00:00"), utc("2026-12-08T00:00")]


def test_spaces_are_normalised():
    assert timing.cron_expression("  */15   9-17 * *  1-5 ") == "*/15 9-17 * * 1-5"


@pytest.mark.parametrize(
    "cron",
    [
        "* * * *",  # four fields
        "0 * * * * *",  # six: seconds are not part of the contract
        "61 * * * *",
        "0 24 * * *",
        "0 0 30 2 *",  # February never has a 30th
        "@daily",
        "*/0 * * * *",
        "",
        "   ",
        "0 0 * * " + "1," * 60 + "1",  # longer than 100 characters
        17,
        None,
    ],
)
def test_a_cron_expression_that_cannot_be_used_is_a_400_naming_the_field(cron):
    with pytest.raises(ApiError) as refused:
        timing.cron_expression(cron)

    assert (refused.value.code, refused.value.details["field"]) == ("invalid_cron", "cron")


# "localtime" is the host's own zone file, which differs from one machine to the next
@pytest.mark.parametrize(
    "zone", ["Mars/Olympus", "", "utc+2", "Europe/Berlin ", None, 3, "localtime", "Factory"]
)
def test_a_zone_that_is_not_an_iana_name_is_a_400_naming_the_field(zone):
    with pytest.raises(ApiError) as refused:
        timing.time_zone(zone)

    assert (refused.value.code, refused.value.details["field"]) == ("invalid_timezone", "timezone")


def test_a_one_off_schedule_has_one_time_and_none_after_it():
    # given a one-off time
    run_at = utc("2026-12-24T18:00")

    # then it is its only time
    assert timing.upcoming(cron="", timezone="UTC", run_at=run_at, after=utc("2026-12-01T00:00")) == [run_at]
    assert timing.next_run_after(cron="", timezone="UTC", run_at=run_at, after=run_at) is None
