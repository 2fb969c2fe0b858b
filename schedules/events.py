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
    `executed`), or was refused (`failed`, with the `error`)."""

    schedule_id: str
    executed_at: datetime
    call_id: str | None = None
    campaign_id: str | None = None
    next_run_at: datetime | None = Field(None, description="null: the schedule has no run left.")
    run_id: str | None = None
    scheduled_for: datetime | None = None
    outcome: Literal["executed", "failed"] = "executed"
    error: RunError | None = None


def register_events() -> None:
    register("schedule-status-changed", ScheduleStatusChanged, audience=Audience.WORKSPACE)
    register("schedule-executed", ScheduleExecuted, audience=Audience.WORKSPACE)
