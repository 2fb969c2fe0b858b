"""How campaigns act on committed events (the reaction "campaigns", registered in
campaigns/apps.py; docs/campaigns.md "How the dialer works").

- `call-ended` of a campaign's call: the contact's outcome (campaigns/outcomes.py),
  and a dialer run for its campaign, so the freed slot is taken at once rather
  than at the beat's next tick.
- `campaign-status-changed` to `running` (started, resumed, or a scheduled start):
  a dialer run.
- `balance-updated`: campaigns paused for `insufficient-balance` resume once the
  account is no longer blocked.

The handler runs in the transaction that advances the reaction's cursor, so its
writes commit exactly once with it; runs are enqueued on commit. It locks a
campaign only after the workspace's event cursor (`campaign_locked`), the lock
order of campaigns; endings of calls no contact waits for cost one query a batch.
"""

from datetime import datetime

from campaigns.dialer import dial_after_commit, resume_paused_for_credit
from campaigns.models import Campaign, CampaignStatus, PauseReason
from campaigns.outcomes import calls_awaited, contact_call_ended
from workspaces.models import Workspace
from workspaces.scoping import scoped

TYPES = {"call-ended", "campaign-status-changed", "balance-updated"}


def react(workspace: Workspace, events: list[dict]) -> None:
    to_dial: set[str] = set()
    balance_moved = False
    awaited = calls_awaited(workspace, [event["data"]["call_id"] for event in events
                                        if event["type"] == "call-ended"])
    for event in events:
        data = event["data"]
        if event["type"] == "call-ended" and data["call_id"] in awaited:
            contact = contact_call_ended(
                workspace,
                call_id=data["call_id"],
                status=data["status"],
                end_reason=data.get("end_reason"),
                ended_at=datetime.fromisoformat(event["timestamp"]),
            )
            if contact is not None:
                to_dial.add(str(contact.campaign_id))
        elif event["type"] == "campaign-status-changed" and data["status"] == CampaignStatus.RUNNING:
            to_dial.add(data["campaign_id"])
        elif event["type"] == "balance-updated":
            balance_moved = True
    if balance_moved:
        # Locks the paused campaigns (after the event cursor) and emits their resumption.
        resume_paused_for_credit(
            scoped(Campaign, workspace).filter(
                status=CampaignStatus.PAUSED, pause_reason=PauseReason.INSUFFICIENT_BALANCE
            )
        )
    for campaign_id in sorted(to_dial):
        dial_after_commit(campaign_id)
