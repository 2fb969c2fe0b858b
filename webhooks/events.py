"""Events about webhook endpoints (docs/reference/events.md#workspace-events)."""

from typing import Literal

from realtime.catalogue import Audience, EventData, register

Reason = Literal["manual", "gone", "failing"]


class WebhookStatusChanged(EventData):
    """A webhook endpoint was enabled or disabled: by a user (`manual`), or by the
    sender when the receiver answered 410 (`gone`) or every attempt failed for
    WEBHOOKS_DISABLE_AFTER_DAYS (`failing`)."""

    webhook_id: str
    enabled: bool
    previous_enabled: bool
    reason: Reason


def register_events() -> None:
    register("webhook-status-changed", WebhookStatusChanged, audience=Audience.WORKSPACE)
