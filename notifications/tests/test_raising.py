"""What raises a notification (docs/notifications.md "What raises them"): each kind
raised today comes from a real flow (billing's charges and settlement, a campaign
completing through its services, a schedule run failing in the runner, an export
completing or failing in the exports' runner), through the reaction
"notifications", once per occurrence, with its `notification` event in the same transaction as its row."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import services as billing
from billing.tests.helpers import ANSWERED, answered_call, end_call
from calls.models import Agent
from campaigns.dialer import dial
from campaigns.tests.dialing import add_contacts, campaign_calls, make_campaign, numbers
from campaigns.tests.dialing import end_call as end_campaign_call
from exports import runner as export_runner
from exports import services as export_services
from exports.tests.helpers import make_calls
from notifications import services
from notifications.models import Notification
from notifications.reactions import TYPES
from notifications.reactions import react as handler
from project.testing import emitted
from realtime import reactions
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
                                       "schedule-executed", "schedule-status-changed",
                                       "webhook-status-changed"}


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


def _storage_at(settings, location) -> None:
    settings.STORAGES = {**settings.STORAGES, "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(location)}}}


def test_an_export_completing_in_the_runner_raises_export_ready(workspace, react, settings, tmp_path):
    # given a calls export of three calls, written by the worker's runner
    _storage_at(settings, tmp_path / "exports")
    make_calls(workspace, 3)
    export = export_services.export_create(workspace=workspace, kind="calls", format="csv", filters={})
    assert export_runner.export_run(str(export.pk)) == "completed"

    # when the reaction runs
    react(workspace)

    # then one notification, about the export (its queued and running events raised nothing)
    [notification] = notifications_of(workspace)
    assert (notification.kind, notification.severity, notification.title) == (
        "export-ready", "info", "Export ready")
    assert services.notification_object(notification)["subject"] == {"type": "export", "id": str(export.pk)}
    assert notification.body == f"Export {str(export.pk)[:8]} is ready to download (3 rows)."


def test_an_export_the_storage_refuses_raises_export_failed(workspace, react, settings, tmp_path):
    # given a storage whose location is a file, so saving the export fails
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    _storage_at(settings, blocked)
    make_calls(workspace, 2)
    export = export_services.export_create(workspace=workspace, kind="calls", format="jsonl", filters={})

    # when the runner writes it (the task fails with the storage's error) and the reaction runs
    with pytest.raises(NotADirectoryError):
        export_runner.export_run(str(export.pk))
    react(workspace)

    # then one error notification carrying the export's own error
    [notification] = notifications_of(workspace)
    assert (notification.kind, notification.severity, notification.title) == (
        "export-failed", "error", "Export failed")
    assert services.notification_object(notification)["subject"] == {"type": "export", "id": str(export.pk)}
    assert notification.body == (
        f"Export {str(export.pk)[:8]} failed: The export could not be written; request it again.")


def test_a_canceled_export_raises_nothing(workspace, react, settings, tmp_path):
    _storage_at(settings, tmp_path / "exports")
    export = export_services.export_create(workspace=workspace, kind="calls", format="csv", filters={})
    export_services.export_cancel(workspace=workspace, export_id=export.pk)
    react(workspace)
    assert notifications_of(workspace) == []


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


def test_webhook_disabled_names_the_host_only_for_readers_who_may_not_see_webhooks(workspace, react,
                                                                                    read_key):
    # given a webhook whose URL carries a token (as many receivers' do), which only admins may read
    from webhooks import services as webhooks

    url = "https://hooks.example.com/services/T0/B0/s3cr3t-path?token=s3cr3t-query"
    endpoint, _ = webhooks.webhook_create(workspace=workspace, url=url)

    # when the sender disables it (410)
    webhooks.webhook_disable(workspace=workspace, endpoint_id=endpoint.pk, reason="gone")
    react(workspace)

    # then a read key sees the notification, naming the host, and nothing of the URL's path or query
    [shown] = read_key.get("/api/v1/notifications").json()["results"]
    assert shown["kind"] == "webhook-disabled"
    assert shown["subject"] == {"type": "webhook", "id": str(endpoint.pk)}
    assert "hooks.example.com" in shown["body"] and "s3cr3t" not in shown["body"]
