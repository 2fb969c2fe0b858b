"""Request and response shapes of the calls, agents and runtime endpoints."""

from datetime import datetime
from typing import Any
from uuid import UUID

from ninja import Field, Schema

from calls.events import CallObject
from project.inputs import UtcDatetime


class CallIn(Schema):
    to_number: str = Field(description="E.164, e.g. +14155550123.", examples=["+14155550123"])
    from_number: str | None = Field(None, description="E.164; the deployment's default caller id if omitted.")
    agent: str | None = Field(None, description="An agent's name; the workspace's default agent if omitted.")
    variables: dict[str, Any] | None = Field(None, description="Free-form values the agent may use.")


class CallListParams(Schema):
    status: str | None = Field(None, description="A status, or a comma list of them.")
    active: bool | None = Field(None, description="true: not yet ended; false: ended.")
    agent: str | None = None
    direction: str | None = Field(None, description="inbound or outbound.")
    campaign_id: str | None = None
    created_after: UtcDatetime | None = None
    created_before: UtcDatetime | None = None


class CallPage(Schema):
    results: list[CallObject]
    next_page_token: str
    total_count: int


class EscalateIn(Schema):
    reason: str | None = Field(None, max_length=500)


class EscalatedOut(Schema):
    call: CallObject
    escalation_id: str


class CallEventOut(Schema):
    """A persisted event of the call, as its envelope (docs/reference/events.md#envelope)."""

    event_id: str
    type: str
    workspace_id: str
    call_id: str
    timestamp: datetime
    data: dict[str, Any]


class CallEventPage(Schema):
    results: list[CallEventOut]
    next_page_token: str
    total_count: int


class AgentIn(Schema):
    name: str = Field(min_length=1, max_length=64)
    language: str = Field("en-US", min_length=2, max_length=16)
    voice: str = Field("aria", min_length=1, max_length=64)
    max_duration_seconds: int = Field(600, ge=10, le=4 * 3600)
    greeting: str = Field(
        "Hello, thanks for calling. How can I help you today?", min_length=1, max_length=2000
    )
    nodes: list[str] = Field(default_factory=list, max_length=50)
    tools: list[str] = Field(default_factory=list, max_length=50)


class AgentPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=64)
    language: str | None = Field(None, min_length=2, max_length=16)
    voice: str | None = Field(None, min_length=1, max_length=64)
    max_duration_seconds: int | None = Field(None, ge=10, le=4 * 3600)
    greeting: str | None = Field(None, min_length=1, max_length=2000)
    nodes: list[str] | None = Field(None, max_length=50)
    tools: list[str] | None = Field(None, max_length=50)


class AgentOut(Schema):
    id: UUID
    name: str
    language: str
    voice: str
    max_duration_seconds: int
    greeting: str
    nodes: list[str]
    tools: list[str]
    is_default: bool
    created_at: datetime
    updated_at: datetime


class AgentPage(Schema):
    results: list[AgentOut]
    next_page_token: str
    total_count: int


class RuntimeBatchIn(Schema):
    events: list[Any] = Field(description="Runtime events: {event_id, call_id, type, timestamp?, data}.")


class RuntimeItemError(Schema):
    index: int
    event_id: str | None
    code: str
    message: str


class RuntimeBatchOut(Schema):
    accepted: int
    duplicates: int
    errors: list[RuntimeItemError]


class SubscriptionIn(Schema):
    client_id: str = Field(
        min_length=1,
        max_length=64,
        description="The `client_id` of your open workspace stream (from its `connected`).",
    )


class SubscriptionOut(Schema):
    call_id: str
    client_id: str
    subscribed: bool
