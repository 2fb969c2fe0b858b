"""The dialer acts on committed events through the reaction "campaigns"
(docs/campaigns.md "How the dialer works"): a campaign call's end settles its
contact and dials the next at once, a start dials, and a top-up resumes a campaign
paused for credit. Runs here are the registered reaction's, run in this process;
Celery runs its tasks eagerly, so a run the reaction enqueues dials right here."""

from decimal import Decimal

import pytest

from billing import services as billing
from billing.tests.helpers import balance
from campaigns import services as campaigns
from campaigns.dialer import dial
from campaigns.models import Campaign, Contact
from campaigns.tests.dialing import (
    active_calls,
    add_contacts,
    campaign_calls,
    end_call,
    make_campaign,
    numbers,
)
from project.celery import app as celery_app
from realtime import reactions


@pytest.fixture
def eager_tasks(settings):
    """Tasks run where they are enqueued, in this test's transaction; calls are left
    to a runtime outside (the simulated one would play each to its end at once)."""
    settings.VOICE_RUNTIME = "ingest"
    celery_app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    celery_app.conf.update(task_always_eager=False, task_eager_propagates=False)


def react(workspace, capture) -> None:
    """Runs the workspace's reactions now, and what they enqueue on commit."""
    with capture(execute=True):
        reactions.run(workspace.pk)


def test_the_campaign_reaction_is_registered_for_the_dialer_s_events():
    [reaction] = [reaction for reaction in reactions.registered() if reaction.name == "campaigns"]
    assert reaction.types == {"call-ended", "campaign-status-changed", "balance-updated"}


def test_a_campaign_call_s_end_settles_its_contact_and_dials_the_next_at_once(
    workspace, eager_tasks, django_capture_on_commit_callbacks
):
    # given a campaign calling one contact at a time
    campaign = make_campaign(workspace, max_concurrency=1)
    first, second = add_contacts(campaign, numbers(2))
    dial(campaign.pk)
    react(workspace, django_capture_on_commit_callbacks)

    # when the call ends
    end_call(workspace, campaign_calls(campaign).get().pk, "busy")
    react(workspace, django_capture_on_commit_callbacks)

    # then the contact has its outcome and the freed slot went to the next contact
    first.refresh_from_db()
    assert (first.status, first.outcome) == ("retry-wait", "busy")
    assert Contact.objects.get(pk=second.pk).status == "in-progress"
    assert active_calls(campaign) == 1


def test_starting_a_campaign_dials_it(workspace, eager_tasks, django_capture_on_commit_callbacks):
    # given
    campaign = make_campaign(workspace, status="draft", max_concurrency=2)
    add_contacts(campaign, numbers(3))

    # when
    campaigns.campaign_start(workspace=workspace, campaign_id=campaign.pk)
    react(workspace, django_capture_on_commit_callbacks)

    # then
    assert active_calls(campaign) == 2


def test_credit_running_out_pauses_the_campaign_and_a_top_up_resumes_it(
    workspace, eager_tasks, django_capture_on_commit_callbacks
):
    # given a running campaign in a workspace whose credit is gone
    campaign = make_campaign(workspace, max_concurrency=2)
    add_contacts(campaign, numbers(3))
    billing.adjust(workspace=workspace, amount=-balance(workspace), reason="test: spent", actor="staff:test")
    react(workspace, django_capture_on_commit_callbacks)

    # when it dials, it pauses for insufficient balance
    assert dial(campaign.pk) == 0
    campaign.refresh_from_db()
    assert (campaign.status, campaign.pause_reason) == ("paused", "insufficient-balance")

    # when a top-up lifts the block
    billing.top_up(workspace=workspace, amount=Decimal("10"), idempotency_key="resume-1", actor="test")
    react(workspace, django_capture_on_commit_callbacks)

    # then it runs again and calls
    campaign.refresh_from_db()
    assert (campaign.status, campaign.pause_reason) == ("running", None)
    assert active_calls(campaign) == 2


def test_a_top_up_that_leaves_the_account_blocked_resumes_nothing(
    workspace, eager_tasks, django_capture_on_commit_callbacks
):
    # given a paused campaign and a debt larger than the top-up
    campaign = make_campaign(workspace, status="paused", pause_reason="insufficient-balance")
    billing.adjust(workspace=workspace, amount=-balance(workspace) - 50, reason="test: debt",
                   actor="staff:test")

    # when
    billing.top_up(workspace=workspace, amount=Decimal("10"), idempotency_key="not-enough", actor="test")
    react(workspace, django_capture_on_commit_callbacks)

    # then
    assert Campaign.objects.get(pk=campaign.pk).status == "paused"


def test_a_campaign_paused_by_hand_stays_paused_after_a_top_up(
    workspace, eager_tasks, django_capture_on_commit_callbacks
):
    campaign = make_campaign(workspace, status="paused", pause_reason="manual")

    billing.top_up(workspace=workspace, amount=Decimal("10"), idempotency_key="manual", actor="test")
    react(workspace, django_capture_on_commit_callbacks)

    assert Campaign.objects.get(pk=campaign.pk).status == "paused"


def test_the_last_contact_settled_completes_the_campaign(
    workspace, eager_tasks, django_capture_on_commit_callbacks
):
    # given one contact, called
    campaign = make_campaign(workspace)
    add_contacts(campaign, numbers(1))
    dial(campaign.pk)

    # when its call completes
    end_call(workspace, campaign_calls(campaign).get().pk, "completed")
    react(workspace, django_capture_on_commit_callbacks)

    # then
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    assert Contact.objects.get(campaign=campaign).status == "completed"
