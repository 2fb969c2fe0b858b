"""Events about schedules (docs/reference/events.md#workspace-events)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from realtime.catalogue import Audience, EventData, register

ScheduleStatus = Literal["active", "paused", "completed", "failed"]


class ScheduleStatusChanged(EventData):
    """A schedule's state changed (`previous_status` null: it was created)."""

    schedule_id: str
    status: ScheduleStatus
    previous_status: ScheduleStatus | None


class RunError(EventData):
    code: str
    message: str


class ScheduleExecuted(EventData):
    """A schedule fired: its action placed a call or started a campaign (`outcome`
    `executed`), or was refused (`failed`, with the `error`). A run recorded
    `missed` fires nothing: it is in `GET /schedules/{id}/runs`."""

    schedule_id: str
    run_id: str
    scheduled_for: datetime = Field(description="The time the run was due.")
    executed_at: datetime = Field(description="When the runner ran it.")
    outcome: Literal["executed", "failed"]
    error: RunError | None = Field(description="Why the action was refused (a REST error code and message).")
    call_id: str | None = Field(None, description="The call a call action placed.")
    campaign_id: str | None = Field(None, description="The campaign a campaign action started.")
    next_run_at: datetime | None = Field(None, description="null: the schedule has no run left.")


def register_events() -> None:
    register("schedule-status-changed", ScheduleStatusChanged, audience=Audience.WORKSPACE)
    register("schedule-executed", ScheduleExecuted, audience=Audience.WORKSPACE)
