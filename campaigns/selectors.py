"""Reads of campaigns for the REST API and the dashboard (docs/reference/rest.md#campaigns)."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from campaigns.models import Campaign, CampaignStatus
from project.errors import BadRequest, NotFound
from workspaces.models import Workspace
from workspaces.scoping import scoped


def campaign_get(workspace: Workspace, campaign_id) -> Campaign:
    """The workspace's campaign, with its agent; 404 if it has none by that id."""
    try:
        campaign = scoped(Campaign, workspace).select_related("agent").get(pk=campaign_id)
    except (Campaign.DoesNotExist, ValidationError, ValueError):
        raise NotFound("Campaign not found.") from None
    campaign.workspace = workspace
    return campaign


def campaign_list(workspace: Workspace, *, status: str | None = None) -> QuerySet:
    """The workspace's campaigns, with their agents; `status` is one status or a comma
    list of them (400 `invalid_status` for one that does not exist)."""
    campaigns = scoped(Campaign, workspace).select_related("agent")
    if status:
        wanted = {part.strip() for part in status.split(",") if part.strip()}
        unknown = wanted - set(CampaignStatus.values)
        if unknown:
            raise BadRequest(
                f"{sorted(unknown)[0]!r} is not a campaign status.",
                code="invalid_status",
                details={"valid": list(CampaignStatus.values)},
            )
        campaigns = campaigns.filter(status__in=wanted)
    return campaigns
