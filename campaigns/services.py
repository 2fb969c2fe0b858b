"""Every change to a campaign (docs/campaigns.md "Lifecycle", docs/reference/domain.md#campaigns).

A campaign's status changes only in `campaign_set_status`, on a campaign locked
by `campaign_locked`, which emits `campaign-status-changed` in the same
transaction. What people ask for (start, pause, resume, cancel, update, delete)
is allowed only from the statuses in `ACTIONS`; anything else is 409
`campaign_action_not_allowed` and changes nothing. Lock order, everywhere: the
workspace's event cursor (`hold_cursor`), then the campaign, then its contacts.
`campaign_locked` takes the first two, so a dial (the campaign, then a call's
`call-created`) and a call's ending (its events, then the campaign) cannot
deadlock.

The counts and `campaign-progress` are in campaigns/progress.py; its
`campaign_stats` and `campaign_progress_flush` are part of this module's
interface too.
"""

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from billing.services import account_of
from calls.agents import agent_named
from calls.inputs import e164
from campaigns import validation, window
from campaigns.models import (
    DIALABLE_CONTACT_STATUSES,
    FINISHED_CAMPAIGN_STATUSES,
    Campaign,
    CampaignStatus,
    Contact,
    ContactStatus,
    PauseReason,
    empty_stats,
)
from campaigns.progress import campaign_progress_flush
from campaigns.progress import campaign_stats as campaign_stats  # the interface, re-exported
from project.errors import Conflict, PaymentRequired
from project.timestamps import iso_utc
from realtime.emit import emit, hold_cursor
from workspaces.models import Workspace
from workspaces.scoping import get_scoped_for_update, scoped

DRAFT, SCHEDULED, RUNNING = CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.RUNNING
PAUSED, COMPLETED, CANCELED = CampaignStatus.PAUSED, CampaignStatus.COMPLETED, CampaignStatus.CANCELED

# Status -> the statuses a campaign may move to from it.
TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({SCHEDULED, RUNNING, CANCELED}),
    SCHEDULED: frozenset({RUNNING, PAUSED, CANCELED}),
    RUNNING: frozenset({PAUSED, COMPLETED, CANCELED}),
    PAUSED: frozenset({SCHEDULED, RUNNING, CANCELED}),
}
# Action -> the statuses it may be taken from (docs/campaigns.md "Lifecycle").
ACTIONS: dict[str, frozenset[str]] = {
    "start": frozenset({DRAFT}),
    "pause": frozenset({SCHEDULED, RUNNING}),
    "resume": frozenset({PAUSED}),
    "cancel": frozenset({DRAFT, SCHEDULED, RUNNING, PAUSED}),
    "update": frozenset({DRAFT, PAUSED}),
    "delete": frozenset({DRAFT}),
}
EDITABLE_FIELDS = frozenset({
    "name", "agent", "from_number", "max_concurrency", "calls_per_minute",
    "calling_window", "retry", "start_at",
})
UNFINISHED_CONTACT_STATUSES = (ContactStatus.PENDING, ContactStatus.IN_PROGRESS, ContactStatus.RETRY_WAIT)


# --- reading and locking ----------------------------------------------------------------


def campaign_locked(workspace: Workspace, campaign_id) -> Campaign:
    """The campaign, locked until the caller's transaction ends (call it inside
    `transaction.atomic()`), taken after the workspace's event cursor; 404 when the
    workspace has no such campaign."""
    hold_cursor(workspace)
    return get_scoped_for_update(Campaign, workspace, campaign_id, not_found="Campaign not found.")


def _contacts(campaign: Campaign) -> QuerySet:
    return scoped(Contact, campaign.workspace).filter(campaign=campaign)



def campaign_object(campaign: Campaign) -> dict[str, Any]:
    """The campaign as REST returns it (docs/reference/rest.md#campaigns). `stats`
    are the counts of the last `campaign-progress`."""
    return {
        "id": str(campaign.pk),
        "name": campaign.name,
        "status": campaign.status,
        "agent": campaign.agent.name,
        "from_number": campaign.from_number,
        "max_concurrency": campaign.max_concurrency,
        "calls_per_minute": campaign.calls_per_minute,
        "calling_window": campaign.calling_window,
        "retry": campaign.retry,
        "start_at": iso_utc(campaign.start_at),
        "pause_reason": campaign.pause_reason,
        "stats": campaign.stats,
        "created_at": iso_utc(campaign.created_at),
        "started_at": iso_utc(campaign.started_at),
        "completed_at": iso_utc(campaign.completed_at),
    }


# --- settings ---------------------------------------------------------------------------


def _checked(workspace: Workspace, changes: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """The given settings, validated and normalised as the model stores them; a 400
    names the first that is wrong."""
    values: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "name":
            values[field] = validation.campaign_name(value)
        elif field == "agent":
            values[field] = agent_named(workspace, value)
        elif field == "from_number":
            values[field] = e164(value or settings.CALLS_DEFAULT_FROM_NUMBER, field="from_number")
        elif field == "max_concurrency":
            values[field] = validation.max_concurrency(value)
        elif field == "calls_per_minute":
            values[field] = validation.calls_per_minute(value)
        elif field == "calling_window":
            values[field] = None if value is None else window.validate_window(
                value, workspace_zone=workspace.timezone
            )
        elif field == "retry":
            values[field] = validation.retry_policy(value)
        elif field == "start_at":
            values[field] = validation.start_at(value, now=now)
        else:
            raise TypeError(f"a campaign has no setting {field!r}")
    return values


def campaign_create(
    *,
    workspace: Workspace,
    name: str,
    agent: str | None = None,
    from_number: str | None = None,
    max_concurrency: int = 5,
    calls_per_minute: int | None = None,
    calling_window: dict | None = None,
    retry: dict | None = None,
    start_at: datetime | None = None,
) -> Campaign:
    """A draft campaign, with `campaign-status-changed` (`previous_status` null).
    Without `agent` the workspace's default agent calls; without `from_number`, the
    deployment's default caller id."""
    settings_given = {
        "name": name, "agent": agent, "from_number": from_number, "max_concurrency": max_concurrency,
        "calls_per_minute": calls_per_minute, "calling_window": calling_window, "retry": retry,
        "start_at": start_at,
    }
    with transaction.atomic():
        hold_cursor(workspace)
        values = _checked(workspace, settings_given, now=datetime.now(UTC))
        campaign = Campaign.objects.create(workspace=workspace, status=DRAFT, stats=empty_stats(), **values)
        _emit_status(campaign, None)
    return campaign


def campaign_update(*, workspace: Workspace, campaign_id, **changes) -> Campaign:
    """Changes the given settings (PATCH: a setting left out is kept) of a draft or
    paused campaign. `null` takes a setting back to its default (`agent`,
    `from_number`, `retry`) or clears it (`calls_per_minute`, `calling_window`,
    `start_at`)."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"a campaign has no setting {sorted(unknown)[0]!r}")
    with transaction.atomic():
        campaign = campaign_locked(workspace, campaign_id)
        _allow(campaign, "update")
        values = _checked(workspace, changes, now=datetime.now(UTC))
        if "calls_per_minute" in values and values["calls_per_minute"] != campaign.calls_per_minute:
            # The next dial's time was set by the old pace: a faster pace (or none)
            # must not wait out the slower one's interval.
            values["next_dial_at"] = None
        for field, value in values.items():
            setattr(campaign, field, value)
        campaign.save(update_fields=[*values, "updated_at"])
        if "retry" in values:
            _end_retries_no_longer_allowed(campaign)
    return campaign


def _end_retries_no_longer_allowed(campaign: Campaign) -> None:
    """A changed retry policy applies to the contacts already waiting for a retry: one
    whose outcome it no longer names, or who has had `max_attempts` calls, fails now
    with its last outcome (the dialer would otherwise call it again)."""
    retry = campaign.retry
    ended = (
        _contacts(campaign)
        .filter(status=ContactStatus.RETRY_WAIT)
        .filter(Q(attempts__gte=retry["max_attempts"]) | ~Q(outcome__in=retry["retry_on"]))
        .update(status=ContactStatus.FAILED, next_attempt_at=None, updated_at=datetime.now(UTC))
    )
    if ended:
        campaign.progress_due = True
        campaign.save(update_fields=["progress_due"])


def campaign_delete(*, workspace: Workspace, campaign_id) -> None:
    """Deletes a draft and its contacts (one DELETE: nothing refers to a contact).
    A campaign that ever started stays, for its calls' sake: cancel it instead."""
    with transaction.atomic():
        campaign = campaign_locked(workspace, campaign_id)
        _allow(campaign, "delete")
        campaign.delete()


# --- status -----------------------------------------------------------------------------


def _allow(campaign: Campaign, action: str) -> None:
    if campaign.status not in ACTIONS[action]:
        raise Conflict(
            f"A campaign that is {campaign.status} cannot be asked to {action}.",
            code="campaign_action_not_allowed",
            details={"status": campaign.status, "action": action},
        )


def _emit_status(campaign: Campaign, previous: str | None) -> None:
    emit(
        campaign.workspace,
        "campaign-status-changed",
        {"campaign_id": str(campaign.pk), "status": campaign.status, "previous_status": previous},
    )


def campaign_set_status(
    campaign: Campaign, status: str, *, pause_reason: str | None = None, now: datetime | None = None
) -> Campaign:
    """Moves a locked campaign (`campaign_locked`, inside the caller's transaction)
    to `status` and emits `campaign-status-changed`. `pause_reason` is required for
    `paused` and cleared otherwise; `started_at` is set the first time it runs,
    `completed_at` when it completes or is canceled. A move `TRANSITIONS` does not
    allow is 409 `illegal_transition`."""
    previous = campaign.status
    if status not in TRANSITIONS.get(previous, frozenset()):
        raise Conflict(
            f"A campaign cannot go from {previous} to {status}.",
            code="illegal_transition",
            details={"from": previous, "to": status},
        )
    if (status == PAUSED) != (pause_reason in PauseReason.values):
        raise ValueError(f"pausing needs a pause reason, and only pausing: {status!r}, {pause_reason!r}")
    now = now or datetime.now(UTC)
    campaign.status = status
    campaign.pause_reason = pause_reason
    if status == RUNNING and campaign.started_at is None:
        campaign.started_at = now
    if status in FINISHED_CAMPAIGN_STATUSES:
        campaign.completed_at = now
    campaign.save(update_fields=["status", "pause_reason", "started_at", "completed_at", "updated_at"])
    _emit_status(campaign, previous)
    return campaign


def _live_status(campaign: Campaign, now: datetime) -> str:
    """Where starting or resuming goes: `scheduled` until `start_at`, else `running`."""
    return SCHEDULED if campaign.start_at is not None and campaign.start_at > now else RUNNING


def campaign_start(*, workspace: Workspace, campaign_id) -> Campaign:
    """draft → running (the dialer reacts to the event), or → scheduled when
    `start_at` is ahead. 409 `campaign_has_no_contacts` for an empty campaign."""
    now = datetime.now(UTC)
    with transaction.atomic():
        campaign = campaign_locked(workspace, campaign_id)
        _allow(campaign, "start")
        if not _contacts(campaign).exists():
            raise Conflict(
                "Add contacts before starting the campaign.",
                code="campaign_has_no_contacts",
                details={"status": campaign.status, "action": "start"},
            )
        return campaign_set_status(campaign, _live_status(campaign, now), now=now)


def campaign_pause(*, workspace: Workspace, campaign_id) -> Campaign:
    """running or scheduled → paused (`manual`). Calls in progress finish; no new
    one is placed."""
    with transaction.atomic():
        campaign = campaign_locked(workspace, campaign_id)
        _allow(campaign, "pause")
        return campaign_set_status(campaign, PAUSED, pause_reason=PauseReason.MANUAL)


def campaign_resume(*, workspace: Workspace, campaign_id) -> Campaign:
    """paused → running (or scheduled while `start_at` is ahead). A campaign paused
    for `insufficient-balance` while the credit is still exhausted is 402
    `insufficient_balance`: it resumes by itself after a top-up."""
    now = datetime.now(UTC)
    with transaction.atomic():
        campaign = campaign_locked(workspace, campaign_id)
        _allow(campaign, "resume")
        if campaign.pause_reason == PauseReason.INSUFFICIENT_BALANCE and account_of(workspace).blocked:
            raise PaymentRequired(
                "The workspace's credit is exhausted: top up, and the campaign resumes by itself.",
                code="insufficient_balance",
                details={"status": campaign.status, "pause_reason": campaign.pause_reason},
            )
        return campaign_set_status(campaign, _live_status(campaign, now), now=now)


def campaign_cancel(*, workspace: Workspace, campaign_id) -> Campaign:
    """Any unfinished campaign → canceled. Its pending and retry-wait contacts become
    `skipped` (outcome `canceled`) in one UPDATE; calls in progress finish and their
    contacts get their outcome as usual."""
    now = datetime.now(UTC)
    with transaction.atomic():
        campaign = campaign_locked(workspace, campaign_id)
        _allow(campaign, "cancel")
        skipped = _contacts(campaign).filter(status__in=DIALABLE_CONTACT_STATUSES).update(
            status=ContactStatus.SKIPPED, outcome="canceled", next_attempt_at=None, updated_at=now
        )
        campaign_set_status(campaign, CANCELED, now=now)
        if skipped:
            campaign.progress_due = True
            campaign_progress_flush(campaign, now=now)
    return campaign


def campaign_start_if_due(campaign: Campaign, *, now: datetime | None = None) -> bool:
    """Runs a locked scheduled campaign whose `start_at` has come; whether it did.
    The dialer's beat calls it for the due scheduled campaigns."""
    now = now or datetime.now(UTC)
    if campaign.status != SCHEDULED or _live_status(campaign, now) != RUNNING:
        return False
    campaign_set_status(campaign, RUNNING, now=now)
    return True


def campaign_complete_if_done(campaign: Campaign, *, now: datetime | None = None) -> bool:
    """Completes a locked running campaign none of whose contacts is pending, in
    progress or waiting for a retry; whether it did. The dialer calls it."""
    if campaign.status != RUNNING:
        return False
    if _contacts(campaign).filter(status__in=UNFINISHED_CONTACT_STATUSES).exists():
        return False
    now = now or datetime.now(UTC)
    campaign_set_status(campaign, COMPLETED, now=now)
    campaign_progress_flush(campaign, force=True, now=now)
    return True
