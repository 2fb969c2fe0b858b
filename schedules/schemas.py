"""Request and response shapes of the schedule endpoints (docs/reference/rest.md#schedules).
The rules are the services' (schedules/services.py, actions.py, timing.py), which
check every caller; unknown fields are refused, so a misspelt setting is not
silently ignored."""

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from project.inputs import UtcDatetime
from schedules.events import ScheduleStatus
from schedules.models import DEFAULT_MISFIRE_GRACE_SECONDS, MAX_MISFIRE_GRACE_SECONDS
from schedules.timing import MAX_CRON_LENGTH

ACTION = (
    'What a run does: `{"type": "call", "to_number", "agent", "variables", "from_number"}` places a call '
    '(agent and from_number optional), `{"type": "campaign", "campaign_id"}` starts a draft campaign.'
)
CRON = ("A 5-field cron expression (minute hour day-of-month month day-of-week), read in `timezone`; "
        "for a recurring schedule. Give `cron` or `run_at`, not both.")
RUN_AT = "When a one-off schedule runs (ISO 8601 with a zone, in the future, at most 366 days ahead)."
TIMEZONE = "The IANA zone `cron` is read in; the workspace's if omitted."
GRACE = "How late a run may still start; a run later than this is recorded `missed` (1 to 86400)."


class ScheduleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, description="Made from the action if omitted.")
    run_at: UtcDatetime | None = Field(None, description=RUN_AT)
    cron: str | None = Field(None, max_length=MAX_CRON_LENGTH, description=CRON)
    timezone: str | None = Field(None, max_length=64, description=TIMEZONE)
    action: dict[str, Any] = Field(description=ACTION)
    misfire_grace_seconds: int = Field(DEFAULT_MISFIRE_GRACE_SECONDS, ge=1, le=MAX_MISFIRE_GRACE_SECONDS,
                                       strict=True, description=GRACE)


class SchedulePatch(Schema):
    """The settings to change; one left out is kept. Setting `cron` makes a one-off
    schedule recurring, setting `run_at` the reverse."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    run_at: UtcDatetime | None = Field(None, description=RUN_AT)
    cron: str | None = Field(None, max_length=MAX_CRON_LENGTH, description=CRON)
    timezone: str | None = Field(None, max_length=64, description=TIMEZONE)
    action: dict[str, Any] | None = Field(None, description=ACTION)
    misfire_grace_seconds: int | None = Field(None, ge=1, le=MAX_MISFIRE_GRACE_SECONDS, strict=True,
                                              description=GRACE)


class ScheduleListParams(Schema):
    status: str | None = Field(None, max_length=200, description="A status, or a comma list of them.")


class RunListParams(Schema):
    outcome: str | None = Field(None, max_length=100, description="An outcome, or a comma list of them.")


class PreviewParams(Schema):
    cron: str | None = Field(None, max_length=MAX_CRON_LENGTH, description=CRON)
    run_at: UtcDatetime | None = Field(None, description=RUN_AT)
    timezone: str | None = Field(None, max_length=64, description=TIMEZONE)


class ScheduleOut(Schema):
    id: str
    name: str
    status: ScheduleStatus
    run_at: datetime | None = Field(description="A one-off schedule's time; null for a recurring one.")
    cron: str | None = Field(description="A recurring schedule's expression; null for a one-off one.")
    timezone: str
    action: dict[str, Any] = Field(description=ACTION)
    next_run_at: datetime | None = Field(description="null unless active.")
    next_runs: list[datetime] = Field(
        description="The next five run times (one for a one-off), unless paused or finished."
    )
    last_run_at: datetime | None = Field(description="When it last ran (executed or failed).")
    run_count: int = Field(description="Runs executed or failed (missed ones are not counted).")
    misfire_grace_seconds: int
    created_at: datetime
    updated_at: datetime


class SchedulePage(Schema):
    results: list[ScheduleOut]
    next_page_token: str
    total_count: int


class RunErrorOut(Schema):
    code: str
    message: str


class RunOut(Schema):
    id: str
    schedule_id: str
    scheduled_for: datetime
    executed_at: datetime | None = Field(description="null for a missed run.")
    outcome: Literal["executed", "missed", "failed"]
    call_id: str | None
    campaign_id: str | None
    error: RunErrorOut | None


class RunPage(Schema):
    results: list[RunOut]
    next_page_token: str
    total_count: int


class PreviewOut(Schema):
    cron: str | None
    run_at: datetime | None
    timezone: str
    next_runs: list[datetime] = Field(description="The next five times (one for a one-off).")
