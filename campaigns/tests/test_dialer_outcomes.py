"""An ended campaign call settles its contact (docs/campaigns.md "How the dialer works"):
the outcome, a retry after `delay_seconds` only for the outcomes `retry_on` names and
up to `max_attempts`, and nothing twice."""

from datetime import timedelta

import pytest

from calls import services as calls
from campaigns.models import Campaign, Contact
from campaigns.outcomes import contact_call_ended
from campaigns.tests.dialing import add_contacts, end_call, make_campaign
from realtime.models import Event

RETRY = {"max_attempts": 3, "retry_on": ["no-answer", "busy", "voicemail"], "delay_seconds": 600}


def dialed(workspace, contact: Contact, *, attempts: int = 1):
    """The contact as the dialer leaves it: in progress on a fresh call."""
    call = calls.call_create(workspace=workspace, to_number=contact.phone_number, place=False,
                             source="campaign", campaign_id=str(contact.campaign_id))
    Contact.objects.filter(pk=contact.pk).update(status="in-progress", attempts=attempts,
                                                 last_call_id=call.pk)
    return call


def settle(workspace, call) -> Contact | None:
    """What the reaction does with the call's `call-ended`, read from the event log."""
    event = Event.objects.get(workspace=workspace, type="call-ended", call_id=str(call.pk))
    return contact_call_ended(workspace, call_id=event.data["call_id"], status=event.data["status"],
                              end_reason=event.data["end_reason"], ended_at=event.occurred_at)


@pytest.fixture
def campaign(workspace):
    return make_campaign(workspace, retry=RETRY)


@pytest.fixture
def contact(campaign):
    return add_contacts(campaign, ["+14155550123"])[0]


def test_a_completed_conversation_completes_the_contact(workspace, campaign, contact):
    # given
    call = dialed(workspace, contact)
    end_call(workspace, call.pk, "completed")

    # when
    settle(workspace, call)

    # then
    contact.refresh_from_db()
    assert (contact.status, contact.outcome, contact.attempts) == ("completed", "completed", 1)
    assert Campaign.objects.get(pk=campaign.pk).progress_due is True


@pytest.mark.parametrize("status, end_reason, outcome", [
    ("no-answer", None, "no-answer"),
    ("busy", None, "busy"),
    ("completed", "voicemail", "voicemail"),
])
def test_an_outcome_retry_on_names_waits_delay_seconds_from_the_end(
    workspace, campaign, contact, status, end_reason, outcome
):
    # given
    call = dialed(workspace, contact)
    ended = end_call(workspace, call.pk, status, end_reason)

    # when
    settle(workspace, call)

    # then
    contact.refresh_from_db()
    assert (contact.status, contact.outcome) == ("retry-wait", outcome)
    assert contact.next_attempt_at == ended.ended_at + timedelta(seconds=600)


@pytest.mark.parametrize("status, outcome", [("failed", "failed"), ("canceled", "canceled")])
def test_an_outcome_retry_on_does_not_name_fails_the_contact(workspace, campaign, contact, status, outcome):
    # given failed is not in this campaign's retry_on
    call = dialed(workspace, contact)
    end_call(workspace, call.pk, status)

    # when
    settle(workspace, call)

    # then
    contact.refresh_from_db()
    assert (contact.status, contact.outcome, contact.next_attempt_at) == ("failed", outcome, None)


def test_the_last_allowed_attempt_is_not_retried(workspace, campaign, contact):
    # given the third of three attempts
    call = dialed(workspace, contact, attempts=3)
    end_call(workspace, call.pk, "no-answer")

    # when
    settle(workspace, call)

    # then
    contact.refresh_from_db()
    assert (contact.status, contact.outcome, contact.attempts) == ("failed", "no-answer", 3)


def test_a_voicemail_without_retries_left_fails_the_contact_with_outcome_voicemail(
    workspace, campaign, contact
):
    call = dialed(workspace, contact, attempts=3)
    end_call(workspace, call.pk, "completed", "voicemail")

    settle(workspace, call)

    contact.refresh_from_db()
    assert (contact.status, contact.outcome) == ("failed", "voicemail")


def test_a_canceled_campaign_retries_nothing(workspace, campaign, contact):
    # given
    call = dialed(workspace, contact)
    Campaign.objects.filter(pk=campaign.pk).update(status="canceled")
    end_call(workspace, call.pk, "no-answer")

    # when
    settle(workspace, call)

    # then
    contact.refresh_from_db()
    assert (contact.status, contact.outcome) == ("failed", "no-answer")


@pytest.mark.parametrize("answered", [True, False], ids=["cut-off", "before-answer"])
def test_a_call_the_payment_wall_ended_puts_the_contact_back_without_counting_the_attempt(
    workspace, campaign, contact, answered
):
    # given
    call = dialed(workspace, contact, attempts=2)
    end_call(workspace, call.pk, "completed" if answered else "canceled", "insufficient-balance")

    # when
    settle(workspace, call)

    # then
    contact.refresh_from_db()
    assert (contact.status, contact.attempts, contact.outcome) == ("pending", 1, "insufficient-balance")
    assert contact.next_attempt_at is None


def test_a_redelivered_call_ended_changes_nothing_twice(workspace, campaign, contact):
    # given the ending was settled once
    call = dialed(workspace, contact)
    end_call(workspace, call.pk, "no-answer")
    settle(workspace, call)
    first = Contact.objects.get(pk=contact.pk)

    # when the same event comes again
    again = settle(workspace, call)

    # then
    assert again is None
    contact.refresh_from_db()
    assert (contact.status, contact.attempts, contact.next_attempt_at, contact.updated_at) == (
        first.status, first.attempts, first.next_attempt_at, first.updated_at)


def test_an_old_call_of_a_contact_dialed_again_since_changes_nothing(workspace, campaign, contact):
    # given the contact was retried: its last call is a newer one
    old = dialed(workspace, contact)
    end_call(workspace, old.pk, "no-answer")
    settle(workspace, old)
    dialed(workspace, contact, attempts=2)

    # when the old call's ending is delivered again
    assert settle(workspace, old) is None

    # then
    assert Contact.objects.get(pk=contact.pk).status == "in-progress"


def test_a_call_of_no_campaign_is_ignored(workspace):
    call = calls.call_create(workspace=workspace, to_number="+14155550123", place=False)
    end_call(workspace, call.pk, "busy")

    assert settle(workspace, call) is None
