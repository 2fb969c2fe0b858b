"""What raises a notification (docs/notifications.md "What raises them"): each kind
raised today comes from a real flow (billing's charges and settlement, a campaign
completing through its services, a schedule run failing in the runner, an export's
`data-export-status`), through the reaction "notifications", once per occurrence,
with its `notification` event in the same transaction as its row."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import services as billing
from billing.tests.helpers import ANSWERED, answered_call, end_call
from calls.models import Agent
from campaigns.dialer import dial
from campaigns.tests.dialing import add_contacts, campaign_calls, make_campaign, numbers
from campaigns.tests.dialing import end_call as end_campaign_call
from notifications import services
from notifications.models import Notification
from notifications.reactions import TYPES
from notifications.reactions import react as handler
from project.testing import emitted
from realtime import reactions
from realtime.emit import emit
from realtime.models import Event, ReactionCursor
from schedules import runner
from schedules.tests.helpers import call_action, one_off

pytestmark = pytest.mark.django_db


def notifications_of(workspace) -> list[Notification]:
    return list(Notification.objects.filter(workspace=workspace).order_by("created_at", "id"))


def kinds_of(workspace) -> list[tuple[str, str]]:
    return [(n.kind, n.severity) for n in notifications_of(workspace)]


def spend_down_to(workspace, amount: str) -> None:
    """A staff adjustment leaving `amount` of credit (the opening credit is 100)."""
    billing.adjust(workspace=workspace, amount=Decimal(amount) - Decimal("100"), reason="test: spent",
                   actor="staff:test")


def test_the_reaction_is_registered_for_the_events_that_raise_notifications():
    [reaction] = [reaction for reaction in reactions.registered() if reaction.name == "notifications"]
    assert reaction.types == TYPES == {"payment-required", "campaign-status-changed", "data-export-status",
                                       "schedule-executed", "schedule-status-changed"}


def test_live_charges_crossing_the_threshold_raise_low_balance_once(workspace, react):
    # given 5.25 of credit (the threshold is 5.00) and three calls in progress
    spend_down_to(workspace, "5.25")
    for number in range(3):
        answered_call(workspace, at=ANSWERED + timedelta(seconds=number))

    # when the charge run charges a minute each (4.95 left), then another (4.65)
    billing.charge_live_calls(now=ANSWERED + timedelta(seconds=62))
    react(workspace)
    billing.charge_live_calls(now=ANSWERED + timedelta(seconds=122))
    react(workspace)

    # then one low-balance notification, about the workspace's credit
    [notification] = notifications_of(workspace)
    assert (notification.kind, notification.severity, notification.title) == ("low-balance", "warning",
                                                                              "Credit is low")
    assert "4.9500 USD" in notification.body and "5.0000 USD" in notification.body
    assert services.notification_object(notification)["subject"] is None


def test_a_settlement_to_zero_raises_payment_required(workspace, react):
    # given 0.50 of credit and a call in progress
    spend_down_to(workspace, "0.50")
    react(workspace)  # 0.50 is in the low band already: one low-balance
    call = answered_call(workspace)

    # when the call ends after ten minutes and its settlement takes the balance below zero
    end_call(workspace, call, after_seconds=600)
    react(workspace)

    # then
    assert kinds_of(workspace) == [("low-balance", "warning"), ("payment-required", "error")]
    assert notifications_of(workspace)[-1].title == "Credit exhausted"


def test_a_campaign_completing_through_its_services_raises_campaign_completed(
    workspace, eager_tasks, react
):
    # given a campaign with one contact, called
    campaign = make_campaign(workspace, name="Spring renewals")
    add_contacts(campaign, numbers(1))
    dial(campaign.pk)

    # when its call completes and the dialer settles the contact
    end_campaign_call(workspace, campaign_calls(campaign).get().pk, "completed")
    react(workspace)
    react(workspace)

    # then
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    [notification] = notifications_of(workspace)
    assert (notification.kind, notification.severity) == ("campaign-completed", "info")
    assert notification.title == "Campaign completed: Spring renewals"
    assert notification.body == "Every contact is done: 1 in all, 1 completed, 0 failed, 0 skipped."
    subject = services.notification_object(notification)["subject"]
    assert subject == {"type": "campaign", "id": str(campaign.pk)}


def test_a_schedule_run_failing_in_the_runner_raises_schedule_failed(workspace, react):
    # given no credit, and a one-off call due
    spend_down_to(workspace, "0")
    react(workspace)
    schedule = one_off(workspace, datetime.now(UTC) + timedelta(minutes=1), due=datetime.now(UTC),
                       action=call_action(), name="Morning check")

    # when the runner runs it and the call is refused
    runner.run_due_schedules()
    react(workspace)

    # then
    notification = notifications_of(workspace)[-1]
    assert (notification.kind, notification.severity) == ("schedule-failed", "error")
    assert notification.title == "Schedule failed: Morning check"
    assert "(insufficient_balance)" in notification.body
    subject = services.notification_object(notification)["subject"]
    assert subject == {"type": "schedule", "id": str(schedule.pk)}


def test_a_failing_one_off_raises_one_notification_not_two(workspace, react, settings):
    # given a one-off call by an agent that no longer exists: the run fails, and so does the schedule
    settings.VOICE_RUNTIME = "ingest"
    Agent.objects.create(workspace=workspace, name="night-shift")
    one_off(workspace, datetime.now(UTC) + timedelta(minutes=1), due=datetime.now(UTC),
            action=call_action(agent="night-shift"))
    Agent.objects.filter(workspace=workspace, name="night-shift").delete()

    runner.run_due_schedules()
    react(workspace)

    assert kinds_of(workspace) == [("schedule-failed", "error")]
    assert "(unknown_agent)" in notifications_of(workspace)[0].body


def test_a_one_off_that_missed_its_run_raises_schedule_failed(workspace, react):
    # given a one-off whose time passed more than its grace ago (the scheduler was down)
    due = datetime.now(UTC) - timedelta(seconds=61)
    schedule = one_off(workspace, datetime.now(UTC) + timedelta(minutes=1), due=due, misfire_grace_seconds=60,
                       name="Reminder")

    runner.run_due_schedules()
    react(workspace)

    [notification] = notifications_of(workspace)
    assert (notification.kind, notification.title) == ("schedule-failed", "Schedule failed: Reminder")
    assert "was missed" in notification.body and notification.subject_id == str(schedule.pk)


def test_an_executed_schedule_run_raises_nothing(workspace, react, settings):
    settings.VOICE_RUNTIME = "ingest"
    one_off(workspace, datetime.now(UTC) + timedelta(minutes=1), due=datetime.now(UTC))
    runner.run_due_schedules()
    react(workspace)
    assert notifications_of(workspace) == []


@pytest.mark.parametrize(("status", "kind", "severity", "title"), [
    ("completed", "export-ready", "info", "Export ready"),
    ("failed", "export-failed", "error", "Export failed"),
])
def test_an_export_ending_raises_its_notification(workspace, react, status, kind, severity, title):
    # given an export's events as the exports' services emit them (their models come with their issue)
    export_id = "5f0c6a84-8f0e-4a53-9d57-2b1c8f6d7e10"
    emit(workspace, "data-export-status", {"export_id": export_id, "status": "running", "progress": 50.0,
                                           "row_count": 500})
    emit(workspace, "data-export-status", {
        "export_id": export_id, "status": status, "progress": 100.0, "row_count": 1000,
        "download_url": f"/api/v1/exports/{export_id}/download" if status == "completed" else None,
        "error": "The storage refused the file." if status == "failed" else None,
    })

    # when the reaction runs
    react(workspace)

    # then one notification, about the export (a running one raises nothing)
    [notification] = notifications_of(workspace)
    assert (notification.kind, notification.severity, notification.title) == (kind, severity, title)
    assert services.notification_object(notification)["subject"] == {"type": "export", "id": export_id}
    if status == "failed":
        assert notification.body == "Export 5f0c6a84 failed: The storage refused the file."
    else:
        assert notification.body == "Export 5f0c6a84 is ready to download (1000 rows)."


def test_each_notification_goes_out_as_a_notification_event_with_its_object(workspace, react):
    spend_down_to(workspace, "4")
    react(workspace)

    [notification] = notifications_of(workspace)
    [event] = Event.objects.filter(workspace=workspace, type="notification")
    [data] = emitted(workspace, "notification")
    expected = services.notification_object(notification, read=False)
    assert datetime.fromisoformat(data.pop("created_at")) == expected.pop("created_at")
    assert data == expected
    assert event.data["read"] is False


def test_the_same_event_delivered_twice_raises_one_notification(workspace, react):
    # given a crossing that raised its notification
    spend_down_to(workspace, "4")
    react(workspace)

    # when the reaction's cursor goes back (a crash before its commit) and the events come again
    ReactionCursor.objects.filter(workspace=workspace, reaction="notifications").update(last_seq=0)
    react(workspace)
    # and the handler is handed the same envelope twice in one batch
    [row] = Event.objects.filter(workspace=workspace, type="payment-required")
    envelope = {"event_id": str(row.event_id), "type": row.type, "data": row.data}
    handler(workspace, [envelope, envelope])

    # then still one notification, and one notification event
    assert len(notifications_of(workspace)) == 1
    assert len(emitted(workspace, "notification")) == 1


def test_another_workspace_s_events_raise_nothing_in_this_one(workspace, other_workspace, react):
    spend_down_to(other_workspace, "4")
    react(other_workspace)
    react(workspace)

    assert notifications_of(workspace) == []
    assert kinds_of(other_workspace) == [("low-balance", "warning")]
    assert emitted(workspace, "notification") == []
