"""The `notification` event (docs/reference/events.md#workspace-events); its payload is the notification
object."""

from datetime import datetime
from typing import Literal

from realtime.catalogue import Audience, EventData, register

NotificationKind = Literal[
    "low-balance", "payment-required", "campaign-completed", "export-ready",
    "export-failed", "schedule-failed",
]


class NotificationObject(EventData):
    """A notification, as REST returns it."""

    id: str
    kind: NotificationKind
    severity: Literal["info", "warning", "error"]
    title: str
    body: str
    resource_type: str | None = None
    resource_id: str | None = None
    read: bool
    created_at: datetime


def register_events() -> None:
    register("notification", NotificationObject, audience=Audience.WORKSPACE)
