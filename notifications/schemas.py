"""Request and response shapes of the notification endpoints
(docs/reference/rest.md#notifications). The object is the `notification` event's
payload (notifications/events.py): one schema for REST and the stream."""

from ninja import Field, Schema

from notifications.events import NotificationObject


class NotificationListParams(Schema):
    unread: bool | None = Field(None, description="true: only those the caller has not read; false: only "
                                                  "those it has; omitted: all.")


class NotificationPage(Schema):
    results: list[NotificationObject]
    next_page_token: str
    total_count: int


class UnreadCountOut(Schema):
    unread: int = Field(description="Notifications of the workspace the caller has not read.")


class ReadAllOut(Schema):
    marked: int = Field(description="How many were unread and are read now.")
    unread: int = Field(description="What is left unread: 0.")
