"""REST endpoints of notifications (docs/reference/rest.md#notifications). Thin: the
writes are in notifications.services, the reads in notifications.selectors.

Read state is the caller's own: a signed-in user's, or an API key's (each key is a
reader of its own). Marking read changes only that state, so it needs only the
`read` permission: a viewer, or a `read` key, marks what it has read."""

from django.http import HttpRequest
from ninja import Query, Router

from notifications import selectors, services
from notifications.events import NotificationObject
from notifications.schemas import NotificationListParams, NotificationPage, ReadAllOut, UnreadCountOut
from notifications.services import Reader
from project.errors import documented_errors
from project.pagination import PageParams, paginated
from workspaces.auth import READ, WorkspaceAuth

router = Router(tags=["notifications"])
AUTH_ERRORS = documented_errors(400, 401, 403, 429)  # 429: rate limits (docs/operations.md)
ONE = {**AUTH_ERRORS, **documented_errors(404)}


@router.get("/notifications", response={200: NotificationPage, **AUTH_ERRORS}, auth=WorkspaceAuth(READ))
def notification_list(request: HttpRequest, filters: Query[NotificationListParams],
                      params: Query[PageParams]):
    """The workspace's notifications, newest first, each with the caller's own `read`."""
    notifications = selectors.notification_list(request.auth.workspace, reader=Reader.of(request.auth),
                                                unread=filters.unread)
    return paginated(notifications, params, services.notification_object)


@router.get("/notifications/unread-count", response={200: UnreadCountOut, **AUTH_ERRORS},
            auth=WorkspaceAuth(READ))
def notification_unread_count(request: HttpRequest):
    """How many of the workspace's notifications the caller has not read."""
    return {"unread": selectors.unread_count(request.auth.workspace, reader=Reader.of(request.auth))}


@router.post("/notifications/read-all", response={200: ReadAllOut, **AUTH_ERRORS}, auth=WorkspaceAuth(READ))
def notification_read_all(request: HttpRequest):
    """Marks every notification of the workspace read, for the caller only."""
    reader = Reader.of(request.auth)
    marked = services.notifications_mark_all_read(workspace=request.auth.workspace, reader=reader)
    # Counted afresh: a notification raised while this request ran is still unread.
    return {"marked": marked, "unread": selectors.unread_count(request.auth.workspace, reader=reader)}


@router.get("/notifications/{notification_id}", response={200: NotificationObject, **ONE},
            auth=WorkspaceAuth(READ))
def notification_detail(request: HttpRequest, notification_id: str):
    notification = selectors.notification_get(request.auth.workspace, notification_id,
                                              reader=Reader.of(request.auth))
    return services.notification_object(notification)


@router.post("/notifications/{notification_id}/read", response={200: NotificationObject, **ONE},
             auth=WorkspaceAuth(READ))
def notification_read(request: HttpRequest, notification_id: str):
    """Marks the notification read for the caller (again changes nothing); others keep their own state."""
    notification = services.notification_mark_read(workspace=request.auth.workspace,
                                                   reader=Reader.of(request.auth),
                                                   notification_id=notification_id)
    return services.notification_object(notification)
