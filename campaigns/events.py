"""Events about campaigns and schedules (docs/reference/events.md#workspace-events)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from realtime.catalogue import Audience, EventData, register

CampaignStatus = Literal["draft", "scheduled", "running", "paused", "completed", "canceled"]
ScheduleStatus = Literal["active", "paused", "completed", "failed"]


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


class ScheduleStatusChanged(EventData):
    """A schedule's state changed."""

    schedule_id: str
    status: ScheduleStatus
    previous_status: ScheduleStatus | None


class ScheduleExecuted(EventData):
    """A schedule fired: it placed a call or started a campaign."""

    schedule_id: str
    executed_at: datetime
    call_id: str | None = None
    campaign_id: str | None = None
    next_run_at: datetime | None = None


def register_events() -> None:
    register("campaign-status-changed", CampaignStatusChanged, audience=Audience.WORKSPACE)
    register("campaign-progress", CampaignProgress, audience=Audience.WORKSPACE)
    register("schedule-status-changed", ScheduleStatusChanged, audience=Audience.WORKSPACE)
    register("schedule-executed", ScheduleExecuted, audience=Audience.WORKSPACE)
