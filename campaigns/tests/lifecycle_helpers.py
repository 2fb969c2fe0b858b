"""Shared by the campaign lifecycle and API tests: contacts as the upload would leave
them, and the events that went out."""

from campaigns.models import Campaign, Contact
from project.testing import emitted
from realtime.models import Event


def add_contacts(campaign: Campaign, *statuses: str) -> list[Contact]:
    """One contact per status given (default: one pending), numbered on from +14155550100."""
    statuses = statuses or ("pending",)
    first = 100 + Contact.objects.filter(campaign=campaign).count()
    contacts = [
        Contact(
            workspace_id=campaign.workspace_id,
            campaign=campaign,
            phone_number=f"+1415555{first + index:04d}",
            status=status,
        )
        for index, status in enumerate(statuses)
    ]
    return Contact.objects.bulk_create(contacts)


def mark_progress_due(campaign: Campaign) -> None:
    """What the upload and the dialer do when contact counts change."""
    Campaign.objects.filter(pk=campaign.pk).update(progress_due=True)


def event_count(workspace) -> int:
    return Event.objects.filter(workspace=workspace).count()


def status_changes(workspace) -> list[tuple]:
    changes = emitted(workspace, "campaign-status-changed")
    return [(data["previous_status"], data["status"]) for data in changes]
