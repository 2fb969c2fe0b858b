"""Shared by the notification tests: notifications raised the way exports raise them
(their `data-export-status`, through the reaction), for tests about reading them."""

import uuid

from notifications.models import Notification
from realtime import reactions
from realtime.emit import emit


def exports_completed(workspace, count: int = 1) -> list[Notification]:
    """`count` export-ready notifications, oldest first."""
    for _ in range(count):
        export_id = str(uuid.uuid4())
        emit(workspace, "data-export-status", {"export_id": export_id, "status": "completed",
                                               "progress": 100.0, "row_count": 10})
    reactions.run(workspace.pk)
    return list(Notification.objects.filter(workspace=workspace).order_by("created_at", "id"))
