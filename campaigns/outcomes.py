"""What an ended campaign call means for its contact (docs/campaigns.md "How the dialer works").

The call's status and end reason make the contact's `outcome`: `completed`
(or `voicemail` when the runtime reports that the call reached one), `busy`,
`no-answer`, `failed`, `canceled`. The contact then waits to be called again
(`retry-wait`, at the end + `retry.delay_seconds`) when the outcome is one the
campaign's `retry.retry_on` names, it has had fewer than `retry.max_attempts`
calls and the campaign is not canceled; otherwise it is finished: `completed`
for a completed conversation, `failed` for the rest.

A call the payment wall ended (`insufficient-balance`) is not the contact's
doing: it goes back to `pending` and that attempt is not counted, so the
contact is called again once a top-up resumes the campaign (the dialer's next
call is refused with 402 meanwhile, which pauses the campaign).

Idempotent: only the contact whose `last_call_id` is the call and which is
still `in-progress` changes; a redelivered `call-ended` finds none.
"""

from datetime import datetime, timedelta

from campaigns.models import Campaign, CampaignStatus, Contact, ContactStatus
from campaigns.services import campaign_locked
from workspaces.models import Workspace
from workspaces.scoping import scoped

PAYMENT_WALL = "insufficient-balance"


def outcome_of(status: str, end_reason: str | None) -> str:
    """A call's terminal status and end reason, as a contact's outcome."""
    if status == "completed":
        return "voicemail" if end_reason == "voicemail" else "completed"
    return status  # busy, no-answer, failed, canceled


def calls_awaited(workspace: Workspace, call_ids: list[str]) -> set[str]:
    """Which of the calls (ids) a contact in progress waits for: one query for a
    batch of endings, most of which are usually no campaign's."""
    waiting = scoped(Contact, workspace).filter(last_call_id__in=call_ids, status=ContactStatus.IN_PROGRESS)
    return {str(call_id) for call_id in waiting.values_list("last_call_id", flat=True)}


def contact_call_ended(
    workspace: Workspace, *, call_id, status: str, end_reason: str | None, ended_at: datetime
) -> Contact | None:
    """Settles the contact the call was placed for (inside the caller's transaction);
    the contact changed, or None when the call was no campaign's or was settled
    already. Marks the campaign's progress due."""
    settling = scoped(Contact, workspace).filter(last_call_id=call_id, status=ContactStatus.IN_PROGRESS)
    campaign_id = settling.values_list("campaign_id", flat=True).first()
    if campaign_id is None:  # no campaign's call, or settled already: no lock taken
        return None
    # The lock order of campaigns: the event cursor and the campaign, then the contact.
    campaign = campaign_locked(workspace, campaign_id)
    contact = settling.select_for_update().first()
    if contact is None:  # settled meanwhile
        return None
    if end_reason == PAYMENT_WALL and campaign.status != CampaignStatus.CANCELED:
        contact.status = ContactStatus.PENDING
        contact.attempts = max(0, contact.attempts - 1)
        contact.outcome = PAYMENT_WALL
        contact.next_attempt_at = None
    else:
        _settle(contact, campaign, outcome_of(status, end_reason), ended_at)
    contact.save(update_fields=["status", "attempts", "outcome", "next_attempt_at", "updated_at"])
    if not campaign.progress_due:
        campaign.progress_due = True
        campaign.save(update_fields=["progress_due"])
    return contact


def _settle(contact: Contact, campaign: Campaign, outcome: str, ended_at: datetime) -> None:
    retry = campaign.retry or {}
    contact.outcome = outcome
    contact.next_attempt_at = None
    if (
        outcome in retry.get("retry_on", ())
        and contact.attempts < retry.get("max_attempts", 1)
        and campaign.status != CampaignStatus.CANCELED
    ):
        contact.status = ContactStatus.RETRY_WAIT
        contact.next_attempt_at = ended_at + timedelta(seconds=retry.get("delay_seconds", 0))
    elif outcome == "completed":
        contact.status = ContactStatus.COMPLETED
    else:
        contact.status = ContactStatus.FAILED
