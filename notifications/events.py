"""The `notification` event (docs/reference/events.md#workspace-events); its payload is
the notification object, as REST returns it (docs/notifications.md)."""

from datetime import datetime
from typing import Literal, get_args

from pydantic import Field

from realtime.catalogue import Audience, EventData, register

NotificationKind = Literal[
    "low-balance", "payment-required", "campaign-completed", "export-ready",
    "export-failed", "schedule-failed", "webhook-disabled",
]
Severity = Literal["info", "warning", "error"]
KINDS: tuple[str, ...] = get_args(NotificationKind)


class NotificationSubject(EventData):
    """What a notification is about: `{"type": "campaign", "id": "..."}`."""

    type: Literal["campaign", "export", "schedule", "webhook"]
    id: str


class NotificationObject(EventData):
    """A notification. `read` is the reader's own state (a user's, or an API key's); in
    the `notification` event it is always false: the notification is new to everyone."""

    id: str
    kind: NotificationKind
    severity: Severity
    title: str
    body: str
    subject: NotificationSubject | None = Field(
        description="What it is about; null for the workspace's credit."
    )
    read: bool
    created_at: datetime


def register_events() -> None:
    register("notification", NotificationObject, audience=Audience.WORKSPACE)
