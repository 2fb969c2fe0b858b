"""The dialer's rules, one run at a time (docs/campaigns.md "How the dialer works"):
concurrency, claims, suppression, the calling window, retries, pacing, credit, the
workspace's cap, refused data, completion, and what a campaign call carries. The
same rules across two real workers: test_dialer_workers.py."""

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings
from prometheus_client import REGISTRY

from billing import services as billing
from billing.tests.helpers import balance
from campaigns import dialer
from campaigns import services as campaigns
from campaigns.dialer import dial, dial_due_campaigns
from campaigns.models import Campaign, Contact
from campaigns.tests.dialing import (
    FROM_NUMBER,
    active_calls,
    add_contacts,
    campaign_calls,
    end_call,
    make_campaign,
    numbers,
    statuses,
    suppress,
)
from campaigns.window import validate_window
from realtime.models import Event

LONDON = "+442079460123"
LOS_ANGELES = "+13105550123"


def failures() -> float:
    return REGISTRY.get_sample_value("callboard_background_failures_total", {"loop": "campaign-dial"}) or 0


def status_changes(campaign) -> list[dict]:
    return [row.data for row in Event.objects.filter(type="campaign-status-changed").order_by("seq")
            if row.data["campaign_id"] == str(campaign.pk)]


# --- concurrency and claims -------------------------------------------------------------------


def test_a_run_places_calls_up_to_max_concurrency_and_no_more(workspace):
    # given
    campaign = make_campaign(workspace, max_concurrency=3)
    add_contacts(campaign, numbers(10))

    # when
    first, second = dial(campaign.pk), dial(campaign.pk)

    # then
    assert (first, second) == (3, 0)
    assert active_calls(campaign) == 3
    assert statuses(campaign) == {"in-progress": 3, "pending": 7}


def test_a_call_that_ends_frees_its_slot_for_the_next_contact(workspace):
    # given a full campaign
    campaign = make_campaign(workspace, max_concurrency=2)
    add_contacts(campaign, numbers(5))
    dial(campaign.pk)
    call = campaign_calls(campaign).first()

    # when one call ends
    end_call(workspace, call.pk, "completed")

    # then the next run places exactly one call
    assert dial(campaign.pk) == 1
    assert active_calls(campaign) == 2


def test_a_contact_is_never_dialed_twice_at_once(workspace):
    # given more free slots than contacts
    campaign = make_campaign(workspace, max_concurrency=5)
    add_contacts(campaign, numbers(2))

    # when it dials again and again
    placed = dial(campaign.pk) + dial(campaign.pk)

    # then each contact has one call
    assert placed == 2
    assert sorted(campaign_calls(campaign).values_list("to_number", flat=True)) == sorted(numbers(2))


def test_contacts_are_called_in_upload_order(workspace):
    campaign = make_campaign(workspace, max_concurrency=1)
    contacts = add_contacts(campaign, numbers(3))

    dial(campaign.pk)

    assert campaign_calls(campaign).get().to_number == contacts[0].phone_number


def test_a_campaign_call_carries_the_campaign_the_contact_s_variables_and_the_campaign_s_numbers(
    workspace
):
    # given
    campaign = make_campaign(workspace)
    [contact] = add_contacts(campaign, ["+14155550123"], variables={"first_name": "Ada", "plan": "gold"})

    # when
    dial(campaign.pk)

    # then
    call = campaign_calls(campaign).get()
    assert (call.campaign_id, call.source, call.to_number, call.from_number, call.agent_name) == (
        str(campaign.pk), "campaign", "+14155550123", FROM_NUMBER, campaign.agent.name)
    assert call.variables == {"first_name": "Ada", "plan": "gold"}
    contact.refresh_from_db()
    assert (contact.status, contact.attempts, contact.last_call_id) == ("in-progress", 1, call.pk)
    assert Campaign.objects.get(pk=campaign.pk).progress_due is True


@pytest.mark.parametrize("status", ["draft", "scheduled", "paused", "completed", "canceled"])
def test_a_campaign_that_is_not_running_dials_nothing(workspace, status):
    campaign = make_campaign(workspace, status=status)
    add_contacts(campaign, numbers(2))

    assert dial(campaign.pk) == 0
    assert not campaign_calls(campaign).exists()


def test_a_run_is_bounded_and_leaves_the_rest_to_the_next_run(workspace):
    # given more suppressed contacts than one run handles (each is settled without a call)
    campaign = make_campaign(workspace)
    contacts = add_contacts(campaign, numbers(dialer.DIALS_PER_RUN + 5))
    for contact in contacts:
        suppress(workspace, contact.phone_number)

    # when
    dial(campaign.pk)

    # then one run settled DIALS_PER_RUN of them
    assert statuses(campaign) == {"skipped": dialer.DIALS_PER_RUN, "pending": 5}


# --- suppression -------------------------------------------------------------------------------


def test_a_number_suppressed_after_the_upload_is_skipped_not_called(workspace):
    # given
    campaign = make_campaign(workspace, max_concurrency=1)
    first, second = add_contacts(campaign, numbers(2))
    suppress(workspace, first.phone_number)

    # when
    placed = dial(campaign.pk)

    # then the suppressed contact is skipped and the slot goes to the next one
    assert placed == 1
    first.refresh_from_db()
    assert (first.status, first.outcome, first.attempts) == ("skipped", "suppressed", 0)
    assert list(campaign_calls(campaign).values_list("to_number", flat=True)) == [second.phone_number]


def test_another_workspace_s_suppression_does_not_apply(workspace, other_workspace):
    campaign = make_campaign(workspace)
    [contact] = add_contacts(campaign, numbers(1))
    suppress(other_workspace, contact.phone_number)

    assert dial(campaign.pk) == 1


# --- the calling window ----------------------------------------------------------------------


def _window_open_now_in(zone_name: str, *, timezone: str) -> dict:
    """A window, every day, of the two or three hours around the local time now in
    `zone_name` (not crossing midnight); eight hours west of London it is closed."""
    from zoneinfo import ZoneInfo

    hour = datetime.now(ZoneInfo(zone_name)).hour
    start, end = max(hour - 1, 0), hour + 2
    return validate_window(
        {"timezone": timezone, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
         "start": f"{start:02d}:00", "end": "23:59" if end > 23 else f"{end:02d}:00"},
        workspace_zone="UTC",
    )


def test_in_the_contacts_zones_only_the_contacts_whose_local_time_is_open_are_called(workspace):
    # given one contact in London and one in Los Angeles, and a window open now in London only
    window = _window_open_now_in("Europe/London", timezone="contact")
    campaign = make_campaign(workspace, calling_window=window)
    london, los_angeles = add_contacts(campaign, [LONDON, LOS_ANGELES])
    assert (london.timezone, los_angeles.timezone) == ("Europe/London", "America/Los_Angeles")

    # when
    placed = dial(campaign.pk) + dial(campaign.pk)

    # then
    assert placed == 1
    assert list(campaign_calls(campaign).values_list("to_number", flat=True)) == [LONDON]
    los_angeles.refresh_from_db()
    assert los_angeles.status == "pending"
    assert Campaign.objects.get(pk=campaign.pk).status == "running"


def test_a_window_closed_in_the_campaign_s_zone_dials_nothing(workspace):
    # given a window open now in London, for a campaign calling in Los Angeles time
    window = _window_open_now_in("Europe/London", timezone="America/Los_Angeles")
    campaign = make_campaign(workspace, calling_window=window)
    add_contacts(campaign, [LONDON, LOS_ANGELES])

    # when / then
    assert dial(campaign.pk) == 0
    assert statuses(campaign) == {"pending": 2}


def test_a_window_open_in_the_campaign_s_zone_calls_everyone_whatever_their_zone(workspace):
    window = _window_open_now_in("Europe/London", timezone="Europe/London")
    campaign = make_campaign(workspace, calling_window=window)
    add_contacts(campaign, [LONDON, LOS_ANGELES])

    assert dial(campaign.pk) == 2


# --- retries ----------------------------------------------------------------------------------


def test_a_retry_is_not_dialed_before_its_time_and_is_dialed_after(workspace):
    # given a contact waiting for its retry
    campaign = make_campaign(workspace)
    [contact] = add_contacts(campaign, numbers(1))
    Contact.objects.filter(pk=contact.pk).update(
        status="retry-wait", attempts=1, outcome="no-answer",
        next_attempt_at=datetime.now(UTC) + timedelta(minutes=10),
    )

    # when it is not due yet
    assert dial(campaign.pk) == 0

    # and when its time has come
    Contact.objects.filter(pk=contact.pk).update(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
    assert dial(campaign.pk) == 1

    # then
    contact.refresh_from_db()
    assert (contact.status, contact.attempts) == ("in-progress", 2)


def test_a_due_retry_goes_before_contacts_never_called(workspace):
    campaign = make_campaign(workspace, max_concurrency=1)
    _fresh, retried = add_contacts(campaign, numbers(2))
    Contact.objects.filter(pk=retried.pk).update(
        status="retry-wait", attempts=1, next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))

    dial(campaign.pk)

    assert campaign_calls(campaign).get().to_number == retried.phone_number


@pytest.mark.parametrize("change", [
    {"max_attempts": 2},
    {"retry_on": ["busy"]},
    {"retry_on": []},
])
def test_a_retry_the_policy_changed_while_paused_no_longer_allows_is_not_dialed(workspace, change):
    """Given a paused campaign whose contact waits for a retry (its 2nd no-answer of 3
    allowed), when the policy is changed so that it allows no more (2 attempts, or no
    retry of no-answer) and the campaign resumes, then the contact is not called again:
    it fails with its last outcome, and the campaign, with nothing left, completes."""
    campaign = make_campaign(workspace, retry={"max_attempts": 3, "retry_on": ["no-answer", "busy"],
                                               "delay_seconds": 60})
    [contact] = add_contacts(campaign, numbers(1))
    Contact.objects.filter(pk=contact.pk).update(
        status="retry-wait", attempts=2, outcome="no-answer",
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
    campaigns.campaign_pause(workspace=workspace, campaign_id=campaign.pk)

    campaigns.campaign_update(workspace=workspace, campaign_id=campaign.pk,
                              retry={"max_attempts": 3, "retry_on": ["no-answer", "busy"], **change})
    campaigns.campaign_resume(workspace=workspace, campaign_id=campaign.pk)
    dial(campaign.pk)

    contact.refresh_from_db()
    assert (contact.status, contact.outcome, contact.attempts) == ("failed", "no-answer", 2)
    assert campaign_calls(campaign).count() == 0
    assert Campaign.objects.get(pk=campaign.pk).status == "completed"


def test_a_retry_the_changed_policy_still_allows_keeps_waiting(workspace):
    campaign = make_campaign(workspace, retry={"max_attempts": 3, "retry_on": ["no-answer"],
                                               "delay_seconds": 60})
    [contact] = add_contacts(campaign, numbers(1))
    Contact.objects.filter(pk=contact.pk).update(
        status="retry-wait", attempts=2, outcome="no-answer",
        next_attempt_at=datetime.now(UTC) + timedelta(minutes=1))
    campaigns.campaign_pause(workspace=workspace, campaign_id=campaign.pk)

    campaigns.campaign_update(workspace=workspace, campaign_id=campaign.pk,
                              retry={"max_attempts": 3, "retry_on": ["no-answer", "busy"],
                                     "delay_seconds": 5})

    contact.refresh_from_db()
    assert (contact.status, contact.outcome, contact.attempts) == ("retry-wait", "no-answer", 2)


# --- pacing -----------------------------------------------------------------------------------


def test_calls_per_minute_spaces_the_calls_without_bursts(workspace):
    # given 60 calls a minute: one a second, and free slots for five
    campaign = make_campaign(workspace, calls_per_minute=60, max_concurrency=5)
    add_contacts(campaign, numbers(5))

    # when a run dials, and another straight after
    first = dial(campaign.pk)
    second = dial(campaign.pk)

    # then one call, and the next not before a second later
    assert (first, second) == (1, 0)
    next_dial_at = Campaign.objects.get(pk=campaign.pk).next_dial_at
    placed_at = campaign_calls(campaign).get().created_at
    assert next_dial_at - placed_at >= timedelta(seconds=1)

    # when the campaign was last due an hour ago, it still places one call, not an hour's worth
    Campaign.objects.filter(pk=campaign.pk).update(next_dial_at=datetime.now(UTC) - timedelta(hours=1))
    assert dial(campaign.pk) == 1



def test_a_pace_changed_while_paused_does_not_wait_out_the_old_interval(workspace):
    # given a campaign paced at one call a minute that has just placed a call
    campaign = make_campaign(workspace, calls_per_minute=1, max_concurrency=5)
    add_contacts(campaign, numbers(3))
    assert dial(campaign.pk) == 1
    campaigns.campaign_pause(workspace=workspace, campaign_id=campaign.pk)

    # when the pace is raised to ten a second and the campaign resumes
    campaigns.campaign_update(workspace=workspace, campaign_id=campaign.pk, calls_per_minute=600)
    campaigns.campaign_resume(workspace=workspace, campaign_id=campaign.pk)

    # then it dials now, not a minute after the last call
    assert dial(campaign.pk) == 1

# --- credit -----------------------------------------------------------------------------------


def test_out_of_credit_the_campaign_pauses_for_insufficient_balance_and_calls_nobody(workspace):
    # given
    campaign = make_campaign(workspace)
    add_contacts(campaign, numbers(3))
    billing.adjust(workspace=workspace, amount=-balance(workspace), reason="test: spent", actor="staff:test")

    # when
    placed = dial(campaign.pk)

    # then
    campaign.refresh_from_db()
    assert placed == 0
    assert (campaign.status, campaign.pause_reason) == ("paused", "insufficient-balance")
    assert statuses(campaign) == {"pending": 3}
    assert status_changes(campaign)[-1]["status"] == "paused"


def test_the_beat_resumes_a_campaign_paused_for_credit_once_there_is_credit_again(workspace):
    # given a campaign paused for credit, and one paused by hand
    campaign = make_campaign(workspace, status="paused", pause_reason="insufficient-balance")
    by_hand = make_campaign(workspace, status="paused", pause_reason="manual")
    billing.adjust(workspace=workspace, amount=-balance(workspace), reason="test: spent", actor="staff:test")

    # when still without credit, nothing resumes
    dial_due_campaigns()
    assert Campaign.objects.get(pk=campaign.pk).status == "paused"

    # when there is credit again
    billing.top_up(workspace=workspace, amount=Decimal("20"), idempotency_key="k1", actor="test")
    dial_due_campaigns()

    # then only the one paused for credit runs again
    campaign.refresh_from_db()
    assert (campaign.status, campaign.pause_reason) == ("running", None)
    assert Campaign.objects.get(pk=by_hand.pk).status == "paused"


# --- the workspace's cap, refused data, failures -----------------------------------------------


@override_settings(CALLS_MAX_ACTIVE_PER_WORKSPACE=2)
def test_the_workspace_s_cap_on_active_calls_stops_the_round_and_keeps_the_contacts(workspace):
    campaign = make_campaign(workspace, max_concurrency=5)
    add_contacts(campaign, numbers(4))

    assert dial(campaign.pk) == 2
    assert statuses(campaign) == {"in-progress": 2, "pending": 2}
    assert Campaign.objects.get(pk=campaign.pk).status == "running"


def test_a_contact_the_call_service_refuses_fails_with_its_code_and_the_next_is_called(workspace):
    # given a first contact whose variables are larger than a call takes
    campaign = make_campaign(workspace, max_concurrency=1)
    first, second = add_contacts(campaign, numbers(2))
    Contact.objects.filter(pk=first.pk).update(variables={"notes": "x" * 20_000})

    # when
    placed = dial(campaign.pk)

    # then
    first.refresh_from_db()
    assert (placed, first.status, first.outcome) == (1, "failed", "variables_too_large")
    assert campaign_calls(campaign).get().to_number == second.phone_number


def test_a_contact_that_breaks_the_dialer_is_failed_logged_and_counted_and_the_next_is_called(
    workspace, caplog
):
    # given the database refuses any call to the first contact's number
    campaign = make_campaign(workspace, max_concurrency=1)
    first, second = add_contacts(campaign, numbers(2))
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE calls_call ADD CONSTRAINT no_call_to_first "
                       f"CHECK (to_number <> '{first.phone_number}')")
    before = failures()

    # when
    with caplog.at_level(logging.ERROR, logger="campaigns.dialer"):
        placed = dial(campaign.pk)

    # then
    first.refresh_from_db()
    assert (placed, first.status, first.outcome) == (1, "failed", "error")
    assert campaign_calls(campaign).get().to_number == second.phone_number
    assert failures() == before + 1
    assert any(str(first.pk) in record.getMessage() for record in caplog.records)


# --- completion -------------------------------------------------------------------------------


def test_the_campaign_completes_when_every_contact_is_terminal_and_no_call_is_active(workspace):
    # given one contact dialed, one suppressed
    campaign = make_campaign(workspace)
    first, second = add_contacts(campaign, numbers(2))
    suppress(workspace, second.phone_number)
    dial(campaign.pk)
    assert Campaign.objects.get(pk=campaign.pk).status == "running"

    # when its call ends and settles the contact
    call = end_call(workspace, campaign_calls(campaign).get().pk, "completed")
    Contact.objects.filter(pk=first.pk).update(status="completed", outcome="completed")
    dial(campaign.pk)

    # then
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    assert status_changes(campaign)[-1]["status"] == "completed"
    assert call.status == "completed"


def test_a_campaign_with_retries_still_waiting_does_not_complete(workspace):
    campaign = make_campaign(workspace)
    [contact] = add_contacts(campaign, numbers(1))
    Contact.objects.filter(pk=contact.pk).update(
        status="retry-wait", attempts=1, next_attempt_at=datetime.now(UTC) + timedelta(minutes=5))

    dial(campaign.pk)

    assert Campaign.objects.get(pk=campaign.pk).status == "running"


# --- the beat ---------------------------------------------------------------------------------


def test_the_beat_starts_a_scheduled_campaign_whose_start_has_come_and_not_one_still_ahead(workspace):
    # given
    due = make_campaign(workspace, status="scheduled", start_at=datetime.now(UTC) - timedelta(seconds=1))
    ahead = make_campaign(workspace, status="scheduled", start_at=datetime.now(UTC) + timedelta(hours=1))

    # when
    dial_due_campaigns()

    # then
    assert Campaign.objects.get(pk=due.pk).status == "running"
    assert status_changes(due)[-1] == {"campaign_id": str(due.pk), "status": "running",
                                       "previous_status": "scheduled"}
    assert Campaign.objects.get(pk=ahead.pk).status == "scheduled"


def test_the_beat_wakes_the_running_campaigns_with_work_due_and_only_those(workspace):
    # given a campaign with a contact due, and one with every contact finished (to complete)
    add_contacts(make_campaign(workspace), numbers(1))
    finished = make_campaign(workspace)
    [contact] = add_contacts(finished, numbers(1, first=3000000))
    Contact.objects.filter(pk=contact.pk).update(status="completed", outcome="completed")
    # and campaigns with nothing due now: paced, a retry ahead, out of hours, paused
    add_contacts(make_campaign(workspace, calls_per_minute=1,
                               next_dial_at=datetime.now(UTC) + timedelta(seconds=30)), numbers(1))
    waiting = make_campaign(workspace)
    [contact] = add_contacts(waiting, numbers(1, first=4000000))
    Contact.objects.filter(pk=contact.pk).update(status="retry-wait", next_attempt_at=datetime.now(UTC)
                                                 + timedelta(minutes=5))
    closed = _window_open_now_in("Europe/London", timezone="America/Los_Angeles")
    add_contacts(make_campaign(workspace, calling_window=closed), numbers(1))
    add_contacts(make_campaign(workspace, status="paused", pause_reason="manual"), numbers(1))

    # when / then
    assert dial_due_campaigns() == 2
