"""Request and response shapes of the campaign endpoints (docs/reference/rest.md#campaigns).
The bounds shown here are the services' (campaigns/validation.py), which check every
caller; unknown fields are refused, so a misspelt setting is not silently ignored."""

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from campaigns.events import CampaignStatus
from campaigns.models import MAX_CALLS_PER_MINUTE, MAX_CONCURRENCY
from campaigns.validation import MAX_NAME_LENGTH
from project.inputs import UtcDatetime

WINDOW = (
    'When the campaign may dial: `{"timezone": "contact" or an IANA name (default the workspace\'s), '
    '"days": ["mon", …], "start": "09:00", "end": "17:00"}`; null: at any time '
    "(docs/campaigns.md \"Calling window\")."
)
RETRY = (
    '`{"max_attempts": 1 to 10 (default 3), "retry_on": ["no-answer", "busy", "failed", "voicemail"], '
    '"delay_seconds": 1 to 604800 (default 900)}`; a key left out keeps its default.'
)
START_AT = "When to start (ISO 8601 with a zone): starting before then makes the campaign `scheduled`."


class CampaignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    agent: str | None = Field(None, max_length=64,
                              description="An agent's name; the default agent if omitted.")
    from_number: str | None = Field(None, max_length=32,
                                    description="E.164; the deployment's default caller id if omitted.")
    # strict: a JSON true is not 1 (campaigns/validation.py refuses it too).
    max_concurrency: int = Field(5, ge=1, le=MAX_CONCURRENCY, strict=True,
                                 description="Calls at once, at most.")
    calls_per_minute: int | None = Field(
        None, ge=1, le=MAX_CALLS_PER_MINUTE, strict=True,
        description="Pacing: calls placed a minute, at most; null: none.",
    )
    calling_window: dict[str, Any] | None = Field(None, description=WINDOW)
    retry: dict[str, Any] | None = Field(None, description=RETRY)
    start_at: UtcDatetime | None = Field(None, description=START_AT)


class CampaignPatch(Schema):
    """The settings to change; one left out is kept. null takes `agent`, `from_number`
    and `retry` back to their defaults and clears the others."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=MAX_NAME_LENGTH)
    agent: str | None = Field(None, max_length=64)
    from_number: str | None = Field(None, max_length=32)
    max_concurrency: int | None = Field(None, ge=1, le=MAX_CONCURRENCY, strict=True)
    calls_per_minute: int | None = Field(None, ge=1, le=MAX_CALLS_PER_MINUTE, strict=True)
    calling_window: dict[str, Any] | None = Field(None, description=WINDOW)
    retry: dict[str, Any] | None = Field(None, description=RETRY)
    start_at: UtcDatetime | None = Field(None, description=START_AT)


class CampaignListParams(Schema):
    status: str | None = Field(None, max_length=200, description="A status, or a comma list of them.")


class RetryOut(Schema):
    max_attempts: int
    retry_on: list[Literal["no-answer", "busy", "failed", "voicemail"]]
    delay_seconds: int


class CampaignStats(Schema):
    """Contacts by status, as of the last `campaign-progress` (refreshed at most once a second)."""

    total: int
    pending: int
    in_progress: int
    retry_wait: int
    completed: int
    failed: int
    skipped: int
    percent: float = Field(description="Finished contacts (completed, failed, skipped) of all, one decimal.")


class CampaignOut(Schema):
    id: str
    name: str
    status: CampaignStatus
    agent: str = Field(description="The agent's name.")
    from_number: str
    max_concurrency: int
    calls_per_minute: int | None
    calling_window: dict[str, Any] | None = Field(description=WINDOW)
    retry: RetryOut
    start_at: datetime | None
    pause_reason: Literal["manual", "insufficient-balance"] | None
    stats: CampaignStats
    created_at: datetime
    started_at: datetime | None = Field(description="When it first ran.")
    completed_at: datetime | None = Field(description="When it completed or was canceled.")


class CampaignPage(Schema):
    results: list[CampaignOut]
    next_page_token: str
    total_count: int
