"""End to end: campaigns dialed by real Celery workers, their calls played by the
simulated runtime at high speed, each ending settling its contact and dialing the
next through the reaction (docs/campaigns.md "How the dialer works")."""

import itertools
from collections import defaultdict

import pytest

from calls.models import ACTIVE_STATUSES, Call
from campaigns import services as campaigns
from campaigns.models import Campaign, Contact
from campaigns.tasks import dial_campaign
from campaigns.tests.dialing import add_contacts, campaign_calls, make_campaign, numbers
from project.testing import wait_for, worker_process

# Fast calls, so that a campaign of a few dozen contacts turns over its slots many times.
ENV = {"VOICE_RUNTIME": "simulated", "SIMULATOR_SPEED": "40"}
NO_RETRY = {"max_attempts": 1, "retry_on": [], "delay_seconds": 1}


def _finished(campaign) -> bool:
    return Campaign.objects.get(pk=campaign.pk).status == "completed"


def _unfinished(campaign) -> int:
    return Contact.objects.filter(campaign=campaign).exclude(status__in=["completed", "failed"]).count()


def _overlapping_calls_per_number(campaign) -> dict[str, int]:
    """Numbers that had two calls at once: one created before the other ended."""
    by_number = defaultdict(list)
    for call in campaign_calls(campaign).order_by("created_at"):
        by_number[call.to_number].append(call)
    overlaps = {}
    for number, calls in by_number.items():
        for earlier, later in itertools.pairwise(calls):
            if earlier.ended_at is None or later.created_at < earlier.ended_at:
                overlaps[number] = overlaps.get(number, 0) + 1
    return overlaps


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_two_workers_dialing_one_campaign_never_exceed_its_max_concurrency(tmp_path, workspace):
    # given a campaign of 24 contacts, three at a time
    campaign = make_campaign(workspace, status="draft", max_concurrency=3, retry=NO_RETRY)
    add_contacts(campaign, numbers(24))
    samples: list[int] = []

    def sample_until_done() -> bool:
        samples.append(Call.objects.filter(campaign_id=str(campaign.pk), status__in=ACTIVE_STATUSES).count())
        return _finished(campaign)

    with (
        worker_process(tmp_path, env=ENV, name="dialer-a"),
        worker_process(tmp_path, env=ENV, name="dialer-b"),
    ):
        # when it starts, with a burst of runs that both workers take at once
        campaigns.campaign_start(workspace=workspace, campaign_id=campaign.pk)
        for _ in range(8):
            dial_campaign.delay(str(campaign.pk))
        wait_for(sample_until_done, timeout=180, interval=0.02,
                 message=lambda: f"not completed: {_unfinished(campaign)} contacts left")

    # then the limit held in every sample, and was reached
    assert max(samples) == 3, samples
    # and every contact was called once, never twice at once
    assert campaign_calls(campaign).count() == 24
    assert _overlapping_calls_per_number(campaign) == {}
    assert _unfinished(campaign) == 0


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_small_campaign_runs_to_completion_through_a_worker_with_retries_within_its_policy(
    tmp_path, workspace
):
    # given a campaign that retries every unfinished outcome once, a second later
    retry = {"max_attempts": 2, "retry_on": ["no-answer", "busy", "failed", "voicemail"], "delay_seconds": 1}
    campaign = make_campaign(workspace, status="draft", max_concurrency=4, retry=retry)
    contacts = add_contacts(campaign, numbers(12), variables={"first_name": "Ada"})

    with worker_process(tmp_path, env=ENV, beat=True):
        # when it starts
        campaigns.campaign_start(workspace=workspace, campaign_id=campaign.pk)
        # then it completes by itself
        wait_for(lambda: _finished(campaign), timeout=180, message="the campaign did not complete")

    contacts = list(Contact.objects.filter(campaign=campaign))
    calls = list(campaign_calls(campaign))
    assert {contact.status for contact in contacts} <= {"completed", "failed"}
    assert all(1 <= contact.attempts <= 2 for contact in contacts)
    assert sum(contact.attempts for contact in contacts) == len(calls)
    assert all(call.variables == {"first_name": "Ada"} and call.source == "campaign" for call in calls)
    # a contact called twice was retried only for an outcome retry_on names
    for contact in contacts:
        if contact.attempts == 2:
            first = min((call for call in calls if call.to_number == contact.phone_number),
                        key=lambda call: call.created_at)
            assert first.status != "completed" or first.end_reason == "voicemail"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_paced_campaign_wakes_itself_for_each_call_no_sooner_than_its_pace(tmp_path, workspace):
    # given 120 calls a minute (one every half second), slots for all, calls that stay
    # up (a runtime outside plays them), and no beat: only the dialer's own wake-ups dial
    campaign = make_campaign(workspace, status="draft", max_concurrency=4, calls_per_minute=120)
    add_contacts(campaign, numbers(4))

    with worker_process(tmp_path, env={"VOICE_RUNTIME": "ingest"}, name="paced"):
        # when it starts
        campaigns.campaign_start(workspace=workspace, campaign_id=campaign.pk)

        # then every contact is called, one call at a time
        wait_for(lambda: campaign_calls(campaign).count() == 4, timeout=60,
                 message=lambda: f"{campaign_calls(campaign).count()} of 4 calls placed")

    placed = sorted(campaign_calls(campaign).values_list("created_at", flat=True))
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(placed)]
    assert min(gaps) >= 0.5, gaps
