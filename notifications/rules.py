"""What raises each kind of notification (docs/notifications.md "What raises them"):
the committed event it is made from, and the words it says.

`draft(workspace, envelope)` turns one event of `TYPES` into the notification it
raises, or None when that event raises none (a campaign that paused, an export
still running, a schedule run that executed). It only reads; the reaction
(notifications/reactions.py) writes.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.db.models import Count

from campaigns.models import Campaign, Contact
from notifications.models import Kind, Severity
from schedules.models import RunOutcome, Schedule, ScheduleRun
from webhooks.models import WebhookEndpoint
from workspaces.models import Workspace
from workspaces.scoping import scoped

TYPES = frozenset({"payment-required", "campaign-status-changed", "data-export-status", "schedule-executed",
                   "schedule-status-changed", "webhook-status-changed"})


@dataclass(frozen=True)
class Draft:
    kind: str
    severity: str
    title: str
    body: str
    subject_type: str = ""
    subject_id: str = ""


def draft(workspace: Workspace, envelope: dict) -> Draft | None:
    rule = RULES.get(envelope["type"])
    return rule(workspace, envelope["data"]) if rule else None


def _payment_required(workspace: Workspace, data: dict) -> Draft:
    balance, threshold = data["balance"], data["threshold"]
    if data["reason"] == "low-balance":
        return Draft(Kind.LOW_BALANCE, Severity.WARNING, "Credit is low",
                     f"The balance is {balance} USD, at or below the alert threshold of {threshold} USD. "
                     "Top up to keep calls running.")
    return Draft(Kind.PAYMENT_REQUIRED, Severity.ERROR, "Credit exhausted",
                 f"The balance is {balance} USD: new calls are refused and calls in progress end. "
                 "Top up to continue.")


def _campaign_status_changed(workspace: Workspace, data: dict) -> Draft | None:
    if data["status"] != "completed":
        return None
    campaign_id = data["campaign_id"]
    name = scoped(Campaign, workspace).filter(pk=campaign_id).values_list("name", flat=True).first()
    counts = dict(scoped(Contact, workspace).filter(campaign_id=campaign_id).values_list("status")
                  .annotate(n=Count("pk")).values_list("status", "n"))
    total = sum(counts.values())
    return Draft(Kind.CAMPAIGN_COMPLETED, Severity.INFO, f"Campaign completed: {name or 'a campaign'}"[:200],
                 f"Every contact is done: {total} in all, {counts.get('completed', 0)} completed, "
                 f"{counts.get('failed', 0)} failed, {counts.get('skipped', 0)} skipped.",
                 "campaign", campaign_id)


def _data_export_status(workspace: Workspace, data: dict) -> Draft | None:
    export_id = data["export_id"]
    if data["status"] == "completed":
        rows = data["row_count"]
        return Draft(Kind.EXPORT_READY, Severity.INFO, "Export ready",
                     f"Export {export_id[:8]} is ready to download ({rows} row{'' if rows == 1 else 's'}).",
                     "export", export_id)
    if data["status"] == "failed":
        reason = data.get("error") or "no reason was given"
        return Draft(Kind.EXPORT_FAILED, Severity.ERROR, "Export failed",
                     f"Export {export_id[:8]} failed: {reason}"[:1000], "export", export_id)
    return None


def _schedule_executed(workspace: Workspace, data: dict) -> Draft | None:
    if data["outcome"] != "failed":
        return None
    schedule_id = data["schedule_id"]
    name = scoped(Schedule, workspace).filter(pk=schedule_id).values_list("name", flat=True).first()
    error = data.get("error") or {}
    due = datetime.fromisoformat(data["scheduled_for"]).strftime("%Y-%m-%d %H:%M UTC")
    return Draft(Kind.SCHEDULE_FAILED, Severity.ERROR, f"Schedule failed: {name or 'a schedule'}"[:200],
                 f"The run due at {due} was refused: {error.get('message', 'no reason was given')} "
                 f"({error.get('code', 'unknown')})."[:1000],
                 "schedule", schedule_id)


def _schedule_status_changed(workspace: Workspace, data: dict) -> Draft | None:
    """A one-off schedule that failed because its only run was missed (the server was
    down past its grace): that run fired no `schedule-executed`. A schedule that
    failed because its action was refused raised its notification from that run."""
    if data["status"] != "failed":
        return None
    schedule_id = data["schedule_id"]
    run = (scoped(ScheduleRun, workspace).filter(schedule_id=schedule_id)
           .order_by("-created_at", "-id").first())
    if run is None or run.outcome != RunOutcome.MISSED:
        return None
    name = scoped(Schedule, workspace).filter(pk=schedule_id).values_list("name", flat=True).first()
    return Draft(Kind.SCHEDULE_FAILED, Severity.ERROR, f"Schedule failed: {name or 'a schedule'}"[:200],
                 f"Its run due at {run.scheduled_for:%Y-%m-%d %H:%M} UTC was missed (more than its "
                 "grace late), so the schedule will not run.", "schedule", schedule_id)


WEBHOOK_REASONS = {
    "gone": "its receiver answered 410 Gone, asking for no more deliveries",
    "failing": "every delivery to it failed for days",
}


def _webhook_status_changed(workspace: Workspace, data: dict) -> Draft | None:
    """Disabled by the sender (410, or failing for days); not when a user disabled it.
    It names the URL's host only: every reader of the workspace sees notifications,
    a webhook's URL is for admins (its path or query often holds a token)."""
    if data["enabled"] or data["reason"] not in WEBHOOK_REASONS:
        return None
    webhook_id = data["webhook_id"]
    url = scoped(WebhookEndpoint, workspace).filter(pk=webhook_id).values_list("url", flat=True).first()
    host = urlsplit(url).hostname if url else None
    return Draft(Kind.WEBHOOK_DISABLED, Severity.ERROR, "Webhook disabled",
                 f"The webhook to {host or 'a deleted URL'} was disabled: {WEBHOOK_REASONS[data['reason']]}. "
                 "Fix the receiver, then enable it again.", "webhook", webhook_id)


RULES: dict[str, Callable[[Workspace, dict], Draft | None]] = {
    "payment-required": _payment_required,
    "campaign-status-changed": _campaign_status_changed,
    "data-export-status": _data_export_status,
    "schedule-executed": _schedule_executed,
    "schedule-status-changed": _schedule_status_changed,
    "webhook-status-changed": _webhook_status_changed,
}
