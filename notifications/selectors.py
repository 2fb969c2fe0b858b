"""Reads of notifications for the REST API (docs/reference/rest.md#notifications):
each row carries the reader's own read state (`is_read`)."""

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet

from notifications.models import Notification, NotificationRead
from project.errors import NotFound
from workspaces.models import Workspace
from workspaces.scoping import scoped


def _with_read_state(notifications: QuerySet, reader) -> QuerySet:
    reads = NotificationRead.objects.filter(notification=OuterRef("pk"), **reader.lookup)
    return notifications.annotate(is_read=Exists(reads))


def notification_list(workspace: Workspace, *, reader, unread: bool | None = None) -> QuerySet:
    """The workspace's notifications as `reader` sees them; `unread` True: only the
    unread ones, False: only the read ones, None: all."""
    notifications = _with_read_state(scoped(Notification, workspace), reader)
    return notifications if unread is None else notifications.filter(is_read=not unread)


def notification_get(workspace: Workspace, notification_id, *, reader) -> Notification:
    """The workspace's notification; 404 if it has none by that id."""
    try:
        return notification_list(workspace, reader=reader).get(pk=notification_id)
    except (Notification.DoesNotExist, ValidationError, ValueError):
        raise NotFound("Notification not found.") from None


def unread_count(workspace: Workspace, *, reader) -> int:
    return notification_list(workspace, reader=reader, unread=True).count()
