"""Calling windows (docs/campaigns.md "Calling window"): what a valid window is, when it
is open in a zone's wall-clock time, and when it next opens, across daylight saving."""

import itertools
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.window import (
    WEEKDAYS,
    is_open,
    next_opening,
    validate_window,
    window_zone,
    zone_for_number,
    zones_open,
)
from project.errors import BadRequest, api_error_response

NEW_YORK, LONDON, SYDNEY = "America/New_York", "Europe/London", "Australia/Sydney"
EVERY_DAY = list(WEEKDAYS)


def window(start="09:00", end="17:00", days=EVERY_DAY, zone=NEW_YORK):
    return validate_window({"timezone": zone, "days": days, "start": start, "end": end},
                           workspace_zone="UTC")


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local(zone: str, *parts, fold=0) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold)


def refusal(value) -> BadRequest:
    with pytest.raises(BadRequest) as raised:
        validate_window(value, workspace_zone=NEW_YORK)
    return raised.value


# --- validation -------------------------------------------------------------------

VALID = {"days": ["mon"], "start": "09:00", "end": "17:00"}


@pytest.mark.parametrize(("value", "field"), [
    ("9 to 5", "calling_window"),
    (["mon"], "calling_window"),
    ({**VALID, "tz": "UTC"}, "calling_window"),
    ({"start": "09:00", "end": "17:00"}, "calling_window.days"),
    ({"days": ["mon"], "end": "17:00"}, "calling_window.start"),
    ({"days": ["mon"], "start": "09:00"}, "calling_window.end"),
    ({**VALID, "days": []}, "calling_window.days"),
    ({**VALID, "days": "mon"}, "calling_window.days"),
    ({**VALID, "days": ["monday"]}, "calling_window.days"),
    ({**VALID, "days": ["Mon"]}, "calling_window.days"),
    ({**VALID, "days": [1]}, "calling_window.days"),
    ({**VALID, "days": ["mon", "tue", "mon"]}, "calling_window.days"),
    ({**VALID, "days": [*WEEKDAYS, "mon"]}, "calling_window.days"),
    ({**VALID, "start": "9:00"}, "calling_window.start"),
    ({**VALID, "start": "24:00"}, "calling_window.start"),
    ({**VALID, "start": "09:60"}, "calling_window.start"),
    ({**VALID, "start": "09:00:00"}, "calling_window.start"),
    ({**VALID, "start": 900}, "calling_window.start"),
    ({**VALID, "start": "\u0661\u0669:00"}, "calling_window.start"),  # Arabic-Indic digits
    ({**VALID, "end": "5pm"}, "calling_window.end"),
    ({**VALID, "start": "17:00", "end": "17:00"}, "calling_window.end"),
    ({**VALID, "start": "22:00", "end": "02:00"}, "calling_window.end"),  # crosses midnight
    ({**VALID, "timezone": "Mars/Olympus_Mons"}, "calling_window.timezone"),
    ({**VALID, "timezone": "utc"}, "calling_window.timezone"),  # names are case-sensitive
    ({**VALID, "timezone": "localtime"}, "calling_window.timezone"),  # the host's, not a name
    ({**VALID, "timezone": "Contact"}, "calling_window.timezone"),
    ({**VALID, "timezone": 5}, "calling_window.timezone"),
])
def test_a_window_breaking_a_rule_is_refused_naming_the_field(value, field):
    # when
    error = refusal(value)

    # then
    assert (error.status, error.code, error.details["field"]) == (400, "invalid_calling_window", field)


def test_unknown_keys_are_named_with_the_valid_ones():
    error = refusal({**VALID, "tz": "UTC", "hours": 8})

    assert error.details == {"field": "calling_window", "unknown": ["hours", "tz"],
                             "valid": ["timezone", "days", "start", "end"]}


def test_a_valid_window_comes_back_normalised_with_days_in_week_order():
    # when
    stored = validate_window({"end": "17:30", "days": ["sun", "fri", "mon"], "start": "08:15",
                              "timezone": "contact"}, workspace_zone=NEW_YORK)

    # then
    assert stored == {"timezone": "contact", "days": ["mon", "fri", "sun"], "start": "08:15", "end": "17:30"}
    assert list(stored) == ["timezone", "days", "start", "end"]


@pytest.mark.parametrize("given_zone", [None, "absent"])
def test_a_window_without_a_zone_takes_the_workspaces(given_zone):
    value = dict(VALID) if given_zone == "absent" else {**VALID, "timezone": given_zone}

    assert validate_window(value, workspace_zone=SYDNEY)["timezone"] == SYDNEY


@pytest.mark.parametrize("alias", ["UTC", "Etc/UTC", "GMT", "US/Eastern", "Asia/Calcutta"])
def test_the_iana_databases_backward_compatible_names_are_accepted_as_written(alias):
    assert validate_window({**VALID, "timezone": alias}, workspace_zone=NEW_YORK)["timezone"] == alias


def test_no_window_stays_none_and_is_always_open():
    # given
    at = utc(2026, 12, 6, 3, 0)  # a Sunday, 03:00 UTC

    # then
    assert validate_window(None, workspace_zone=NEW_YORK) is None
    assert is_open(None, NEW_YORK, at) is True
    assert next_opening(None, NEW_YORK, at) == at
    assert zones_open(None, [NEW_YORK, LONDON], at) == {NEW_YORK, LONDON}


@pytest.mark.django_db
def test_the_workspace_zone_is_the_default_and_a_refusal_has_the_api_error_shape(workspace):
    # given: a workspace in Sydney
    workspace.timezone = SYDNEY
    workspace.save(update_fields=["timezone"])

    # when
    stored = validate_window({"days": ["tue"], "start": "10:00", "end": "12:00"},
                             workspace_zone=workspace.timezone)
    with pytest.raises(BadRequest) as raised:
        validate_window({**VALID, "start": "noon"}, workspace_zone=workspace.timezone)
    response = api_error_response(raised.value)

    # then
    assert stored["timezone"] == SYDNEY
    assert response.status_code == 400
    assert json.loads(response.content)["error"]["code"] == "invalid_calling_window"
    assert json.loads(response.content)["error"]["details"] == {"field": "calling_window.start"}


# --- open or closed ---------------------------------------------------------------

@pytest.mark.parametrize(("clock", "expected"), [
    ((8, 59, 59), False),
    ((9, 0, 0), True),   # start inclusive
    ((12, 0, 0), True),
    ((16, 59, 59), True),
    ((17, 0, 0), False),  # end exclusive
    ((23, 0, 0), False),
])
def test_a_window_opens_at_its_start_and_closes_at_its_end(clock, expected):
    # given: Monday 7 December 2026 in New York
    at = local(NEW_YORK, 2026, 12, 7, *clock)

    # then
    assert is_open(window(days=["mon"]), NEW_YORK, at) is expected
    assert (next_opening(window(days=["mon"]), NEW_YORK, at) == at) is expected


def test_the_day_of_week_is_the_zones_not_utcs():
    # given: Monday 08:00 in Sydney is still Sunday 21:00 in UTC
    at = local(SYDNEY, 2026, 12, 7, 8, 0)
    assert at.astimezone(UTC).weekday() == WEEKDAYS.index("sun")

    # then
    assert is_open(window("07:00", "09:00", ["mon"], SYDNEY), SYDNEY, at) is True
    assert is_open(window("07:00", "09:00", ["sun"], SYDNEY), SYDNEY, at) is False
    assert is_open(window("07:00", "09:00", ["mon"], SYDNEY), "UTC", at) is False


def test_contacts_are_called_in_their_own_time_and_multi_zone_numbers_in_the_workspaces():
    # given: a window in each contact's time, a workspace in Tokyo, Monday 17:30 UTC
    workspace_zone = "Asia/Tokyo"
    contact_window = window(zone="contact", days=["mon", "tue", "wed", "thu", "fri"])
    numbers = {"+14155550123": "America/Los_Angeles", "+12125550123": NEW_YORK,
               "+442079460000": LONDON, "+18005550123": ""}  # the last: toll-free, no single zone
    at = utc(2026, 12, 7, 17, 30)

    # when
    zones = {number: window_zone(contact_window, workspace_zone=workspace_zone,
                                 contact_zone=zone_for_number(number)) for number in numbers}

    # then: 09:30 in LA and 12:30 in New York are open; 17:30 in London has closed,
    # and the toll-free number follows Tokyo, where it is 02:30 on Tuesday
    assert {number: zone_for_number(number) for number in numbers} == numbers
    assert zones["+18005550123"] == workspace_zone
    assert zones_open(contact_window, zones.values(), at) == {"America/Los_Angeles", NEW_YORK}
    assert next_opening(contact_window, zones["+442079460000"], at) == utc(2026, 12, 8, 9, 0)
    assert next_opening(contact_window, workspace_zone, at) == local(workspace_zone, 2026, 12, 8, 9, 0)


def test_a_named_zone_overrides_the_contacts():
    named = window(zone=LONDON)

    assert window_zone(named, workspace_zone=NEW_YORK, contact_zone=SYDNEY) == LONDON
    assert window_zone(None, workspace_zone=NEW_YORK, contact_zone=SYDNEY) == NEW_YORK


def test_a_closed_window_opens_at_its_next_day():
    # given: weekdays 09:00-17:00 in New York, asked on Friday 18:00
    at = local(NEW_YORK, 2026, 12, 11, 18, 0)

    # then: Monday 09:00, in UTC
    opening = next_opening(window(days=["mon", "tue", "wed", "thu", "fri"]), NEW_YORK, at)
    assert opening == utc(2026, 12, 14, 14, 0) and opening.tzinfo is UTC


def test_a_naive_instant_is_a_programming_error():
    with pytest.raises(ValueError, match="aware"):
        is_open(window(), NEW_YORK, datetime(2026, 12, 7, 12, 0))


# --- daylight saving ------------------------------------------------------------------

@pytest.mark.parametrize(("zone", "day_before", "day_after", "opens_before", "opens_after"), [
    # spring forward: the local 09:00 comes an hour earlier in UTC
    (NEW_YORK, (2026, 3, 7), (2026, 3, 8), utc(2026, 3, 7, 14), utc(2026, 3, 8, 13)),
    (LONDON, (2026, 3, 28), (2026, 3, 29), utc(2026, 3, 28, 9), utc(2026, 3, 29, 8)),
    # fall back: an hour later
    (NEW_YORK, (2026, 10, 31), (2026, 11, 1), utc(2026, 10, 31, 13), utc(2026, 11, 1, 14)),
    (LONDON, (2026, 10, 24), (2026, 10, 25), utc(2026, 10, 24, 8), utc(2026, 10, 25, 9)),
])
def test_a_window_keeps_its_local_hours_across_a_clock_change(zone, day_before, day_after,
                                                              opens_before, opens_after):
    # given: 09:00-17:00 every day
    nine_to_five = window(zone=zone)

    # when: asked at local midnight on each side of the change
    first = next_opening(nine_to_five, zone, local(zone, *day_before))
    second = next_opening(nine_to_five, zone, local(zone, *day_after))

    # then: 09:00 local both days; the UTC instant moved by an hour
    assert (first, second) == (opens_before, opens_after)
    assert first.astimezone(ZoneInfo(zone)).hour == second.astimezone(ZoneInfo(zone)).hour == 9
    assert is_open(nine_to_five, zone, opens_after + timedelta(hours=8) - timedelta(seconds=1))
    assert not is_open(nine_to_five, zone, opens_after + timedelta(hours=8))


@pytest.mark.parametrize(("zone", "day", "start", "opens"), [
    # 02:00 -> 03:00 in New York: 02:30 never shows, the window opens at 03:00 EDT
    (NEW_YORK, (2026, 3, 8), "02:30", utc(2026, 3, 8, 7, 0)),
    # 01:00 -> 02:00 in London: 01:30 never shows, the window opens at 02:00 BST
    (LONDON, (2026, 3, 29), "01:30", utc(2026, 3, 29, 1, 0)),
])
def test_a_start_the_clock_skips_opens_at_the_next_valid_instant(zone, day, start, opens):
    # given
    skipped_start = window(start, "05:00", zone=zone)

    # when
    opening = next_opening(skipped_start, zone, local(zone, *day))

    # then
    assert opening == opens
    assert opening.astimezone(ZoneInfo(zone)).strftime("%H:%M") == ("03:00" if zone == NEW_YORK else "02:00")
    assert is_open(skipped_start, zone, opening)
    assert not is_open(skipped_start, zone, opening - timedelta(seconds=1))


def test_a_window_the_clock_skips_entirely_opens_the_next_week():
    # given: Sundays 02:00-02:30 in New York; on 8 March 2026 02:00-02:59 never shows
    skipped = window("02:00", "02:30", ["sun"])

    # then
    assert next_opening(skipped, NEW_YORK, local(NEW_YORK, 2026, 3, 8)) == local(NEW_YORK, 2026, 3, 15, 2, 0)


def test_a_start_the_clock_shows_twice_opens_once_at_its_first_showing():
    # given: 01:30-04:00 in New York; on 1 November 2026 01:00-01:59 shows twice
    # (EDT from 05:00 UTC, then EST from 06:00 UTC)
    repeated_start = window("01:30", "04:00")
    day = [utc(2026, 11, 1, 4, 0) + timedelta(minutes=minute) for minute in range(8 * 60)]

    # when
    opening = next_opening(repeated_start, NEW_YORK, day[0])
    openings = [at for before, at in itertools.pairwise(day)
                if is_open(repeated_start, NEW_YORK, at) and not is_open(repeated_start, NEW_YORK, before)]

    # then: 01:30 EDT, open straight through the second 01:00-01:30 until 04:00 EST
    # (compared in UTC: Python never finds a repeated local time equal to another zone's)
    assert opening == local(NEW_YORK, 2026, 11, 1, 1, 30, fold=0).astimezone(UTC) == utc(2026, 11, 1, 5, 30)
    assert openings == [opening]
    assert is_open(repeated_start, NEW_YORK, local(NEW_YORK, 2026, 11, 1, 1, 10, fold=1))
    assert not is_open(repeated_start, NEW_YORK, utc(2026, 11, 1, 9, 0))  # 04:00 EST


def test_an_end_the_clock_shows_twice_closes_at_its_first_showing():
    # given: 00:00-01:30 in New York on the fall-back day
    repeated_end = window("00:00", "01:30")

    # then: closed from 01:30 EDT, and not reopened when the clock reads 01:00 again
    assert is_open(repeated_end, NEW_YORK, utc(2026, 11, 1, 5, 29))
    assert not is_open(repeated_end, NEW_YORK, utc(2026, 11, 1, 5, 30))
    assert not is_open(repeated_end, NEW_YORK, local(NEW_YORK, 2026, 11, 1, 1, 10, fold=1))


def test_a_clock_turned_back_over_midnight_keeps_the_days_window_open_through_it():
    # given: Fridays 00:00-03:00 at Casey station, whose clock went on 5 March 2010 (a
    # Friday) from 01:59:59 (+11) back to Thursday 23:00 (+08) at 15:00 UTC
    zone = "Antarctica/Casey"
    fridays = window("00:00", "03:00", ["fri"], zone)
    thursday_again = utc(2010, 3, 4, 15, 30)
    assert thursday_again.astimezone(ZoneInfo(zone)).strftime("%a %H:%M") == "Thu 23:30"

    # then: one stretch, from the first Friday 00:00 (13:00 UTC) to Friday 03:00 (+08)
    assert next_opening(fridays, zone, utc(2010, 3, 4, 12, 0)) == utc(2010, 3, 4, 13, 0)
    assert is_open(fridays, zone, thursday_again)
    assert next_opening(fridays, zone, thursday_again) == thursday_again
    assert not is_open(fridays, zone, utc(2010, 3, 4, 19, 0))


# --- property: next_opening is the first open instant --------------------------------

ZONES = [NEW_YORK, LONDON, SYDNEY, "UTC", "Asia/Kolkata", "America/Santiago",
         "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns"]


@st.composite
def windows(draw):
    days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
    start = draw(st.integers(0, 24 * 60 - 2))
    end = draw(st.integers(start + 1, 24 * 60 - 1))
    return window(f"{start // 60:02}:{start % 60:02}", f"{end // 60:02}:{end % 60:02}", days)


# Instants through 2026 (every clock change of the sampled zones lies in it), to the second.
instants = st.integers(0, 365 * 86400 - 1).map(lambda second: utc(2026, 1, 1) + timedelta(seconds=second))


@settings(max_examples=120, deadline=None)
@given(window_=windows(), zone=st.sampled_from(ZONES), at=instants)
def test_next_opening_is_open_and_nothing_before_it_is(window_, zone, at):
    # when
    opening = next_opening(window_, zone, at)

    # then: open there, and closed just before it unless that is `at` itself
    assert opening is not None and opening >= at
    assert is_open(window_, zone, opening)
    assert is_open(window_, zone, at) == (opening == at)
    if opening > at:
        assert not is_open(window_, zone, opening - timedelta(seconds=1))
    # and no whole minute between them is open (sampled over the first 36 hours)
    minute = at.replace(second=0) + timedelta(minutes=1)
    while minute < min(opening, at + timedelta(hours=36)):
        assert not is_open(window_, zone, minute), minute
        minute += timedelta(minutes=1)
