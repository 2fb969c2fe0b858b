"""Events about campaigns (docs/reference/events.md#workspace-events)."""

from typing import Literal

from pydantic import Field

from realtime.catalogue import Audience, EventData, register

CampaignStatus = Literal["draft", "scheduled", "running", "paused", "completed", "canceled"]

class CampaignStatusChanged(EventData):
    """A campaign's state changed."""

    campaign_id: str
    status: CampaignStatus
    previous_status: CampaignStatus | None

class CampaignProgress(EventData):
    """Contact counts of a campaign (at most one a second per campaign)."""

    campaign_id: str
    total: int = Field(ge=0)
    pending: int = Field(ge=0)
    in_progress: int = Field(ge=0)
    completed: int = Field(ge=0)
    failed: int = Field(ge=0)
    percent: float = Field(ge=0, le=100)

def register_events() -> None:
    register("campaign-status-changed", CampaignStatusChanged, audience=Audience.WORKSPACE)
    register("campaign-progress", CampaignProgress, audience=Audience.WORKSPACE)
