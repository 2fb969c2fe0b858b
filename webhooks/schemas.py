"""Request and response shapes of the webhook endpoints (docs/reference/rest.md#webhooks)."""

from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from webhooks.events import Reason

EVENT_TYPES = ('"all" (every workspace event type, also those added later), or a list of workspace event '
               "types of the catalogue (docs/reference/events.md#workspace-events).")
EventTypes = Literal["all"] | Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)]


class WebhookIn(Schema):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="https:// (http:// only where the deployment allows it).")
    event_types: EventTypes = Field("all", description=EVENT_TYPES)
    description: str = Field("", max_length=500)
    enabled: bool = True


class WebhookPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=2000)
    event_types: EventTypes | None = Field(None, description=EVENT_TYPES)
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = None


class WebhookOut(Schema):
    id: str
    url: str
    event_types: EventTypes
    description: str
    enabled: bool
    disabled_reason: Reason | None = Field(description="Why it is disabled: `manual` (a user), `gone` (the "
                                                       "receiver answered 410), `failing` (every attempt "
                                                       "failed for days).")
    failing_since: datetime | None = Field(description="The first failed attempt since the last success.")
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation: until when the previous secret signs too.")
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="The signing secret (`whsec_…`), shown only now: keep it.")


class WebhookPage(Schema):
    results: list[WebhookOut]
    next_page_token: str
    total_count: int


DeliveryStatus = Literal["pending", "retrying", "succeeded", "failed"]


class DeliveryOut(Schema):
    id: str
    webhook_id: str
    event_id: str = Field(description="The event's id, also sent as the `webhook-id` header.")
    event_type: str
    status: DeliveryStatus
    attempts: int
    in_flight: bool = Field(description="A sender is making an attempt now (its result is not in yet); "
                                        "`next_attempt_at` is null meanwhile, and retrying it is 409 "
                                        "`delivery_in_flight`.")
    response_status_code: int | None = Field(description="The last attempt's HTTP status, if it got one.")
    response_body: str = Field(description="The start of the last answer's body (at most 4 KiB).")
    last_error: str | None = Field(description="Why the last attempt failed, if it did.")
    duration_ms: int | None = Field(description="The last attempt's time to its answer.")
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When the next attempt is due, while one is.")
    delivered_at: datetime | None


class DeliveryListParams(Schema):
    status: str | None = Field(None, max_length=200, description="A status, or a comma list of them.")


class DeliveryPage(Schema):
    results: list[DeliveryOut]
    next_page_token: str
    total_count: int
