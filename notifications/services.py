"""Every change to notifications (docs/notifications.md).

- `notifications_raise` writes the notifications a batch of committed events
  raises, each with its `notification` event in the same transaction, and skips an
  event that already raised one (`source_event_id` is unique): the reaction
  (notifications/reactions.py) calls it inside the round that advances its cursor,
  so each occurrence makes exactly one notification even when delivered twice.
  It keeps the workspace's newest NOTIFICATIONS_MAX_PER_WORKSPACE and enqueues the
  emails after commit, so a mail server that fails cannot undo or hold the round.
- Read state is the reader's own (a user, or an API key): `notification_mark_read`
  and `notifications_mark_all_read` write NotificationRead rows and emit nothing,
  since a workspace event would tell every reader about one reader's state.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications import rules, selectors
from notifications.models import Notification, NotificationRead
from realtime.emit import Emission, emit_many, hold_cursor
from workspaces.models import Workspace
from workspaces.scoping import scoped

logger = logging.getLogger(__name__)
TRIM_BATCH = 1000  # rows one trim deletes per workspace and per statement


@dataclass(frozen=True)
class Reader:
    """Whose read state: a signed-in user's, or an API key's (exactly one)."""

    user_id: int | None = None
    api_key_id: object | None = None

    @classmethod
    def of(cls, principal) -> "Reader":
        if principal.api_key is not None:
            return cls(api_key_id=principal.api_key.pk)
        return cls(user_id=principal.user.pk)

    @property
    def lookup(self) -> dict:
        return {"api_key_id": self.api_key_id} if self.api_key_id is not None else {"user_id": self.user_id}


def notification_object(notification: Notification, *, read: bool | None = None) -> dict:
    """The notification as REST and the `notification` event give it; `read` is the
    reader's state (a row annotated by the selectors carries it)."""
    subject = None
    if notification.subject_type:
        subject = {"type": notification.subject_type, "id": notification.subject_id}
    return {
        "id": str(notification.pk),
        "kind": notification.kind,
        "severity": notification.severity,
        "title": notification.title,
        "body": notification.body,
        "subject": subject,
        "read": bool(getattr(notification, "is_read", False) if read is None else read),
        "created_at": notification.created_at,
    }


# --- raising ---------------------------------------------------------------------------------


def notifications_raise(*, workspace: Workspace, events: list[dict]) -> list[Notification]:
    """The notifications `events` (committed envelopes) raise, written and emitted;
    events that raised one already, or raise none, are skipped. The new ones."""
    drafts = [(event, rules.draft(workspace, event)) for event in events]
    drafts = [(event, draft) for event, draft in drafts if draft is not None]
    if not drafts:
        return []
    with transaction.atomic():
        # The house order: the workspace's event cursor before any row of ours.
        hold_cursor(workspace)
        seen = {str(pk) for pk in scoped(Notification, workspace).filter(
            source_event_id__in=[event["event_id"] for event, _ in drafts]).values_list("source_event_id",
                                                                                         flat=True)}
        created = []
        for event, draft in drafts:
            if event["event_id"] in seen:
                continue
            seen.add(event["event_id"])
            created.append(Notification.objects.create(
                workspace=workspace, kind=draft.kind, severity=draft.severity, title=draft.title,
                body=draft.body, subject_type=draft.subject_type, subject_id=draft.subject_id,
                source_event_id=event["event_id"],
            ))
        if created:
            emit_many(workspace, [Emission("notification", notification_object(n, read=False))
                                  for n in created])
            _trim_to_limit(workspace)
            _email_after_commit(created)
    return created


def _trim_to_limit(workspace: Workspace) -> int:
    """Keeps the workspace's newest NOTIFICATIONS_MAX_PER_WORKSPACE (and their reads)."""
    limit = settings.NOTIFICATIONS_MAX_PER_WORKSPACE
    beyond = list(scoped(Notification, workspace).order_by("-created_at", "-id")
                  .values_list("pk", flat=True)[limit:limit + TRIM_BATCH])
    if not beyond:
        return 0
    deleted, _ = scoped(Notification, workspace).filter(pk__in=beyond).delete()
    return deleted


def _email_after_commit(notifications: list[Notification]) -> None:
    """Each notification of a kind to email is sent by a task once the round commits:
    robust, so a broker that refuses loses the email (logged), never the notification."""
    if not settings.NOTIFICATIONS_EMAIL_ENABLED:
        return
    from notifications.tasks import email_notification

    kinds = set(settings.NOTIFICATIONS_EMAIL_KINDS)
    wanted = [str(notification.pk) for notification in notifications if notification.kind in kinds]

    def enqueue_emails() -> None:
        for notification_id in wanted:
            email_notification.delay(notification_id)

    if wanted:
        transaction.on_commit(enqueue_emails, robust=True)


def notifications_trim(*, now=None) -> int:
    """Deletes notifications older than NOTIFICATIONS_RETENTION_DAYS, in bounded batches
    (the beat's task); how many. System-wide: old rows of every workspace alike."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.NOTIFICATIONS_RETENTION_DAYS)
    total = 0
    for _ in range(100):  # at most 100,000 rows a run; the next run takes the rest
        old = Notification.objects.filter(created_at__lt=cutoff)
        batch = list(old.values_list("pk", flat=True)[:TRIM_BATCH])
        if not batch:
            break
        Notification.objects.filter(pk__in=batch).delete()
        total += len(batch)
    return total


# --- read state ------------------------------------------------------------------------------


def notification_mark_read(*, workspace: Workspace, reader: Reader, notification_id) -> Notification:
    """The reader has read it (again is a no-op); 404 for another workspace's."""
    notification = selectors.notification_get(workspace, notification_id, reader=reader)
    NotificationRead.objects.bulk_create(
        [NotificationRead(workspace=workspace, notification=notification, **reader.lookup)],
        ignore_conflicts=True,
    )
    notification.is_read = True
    return notification


def notifications_mark_all_read(*, workspace: Workspace, reader: Reader) -> int:
    """Every notification of the workspace the reader has not read, read now; how many.
    Bounded: a workspace keeps at most NOTIFICATIONS_MAX_PER_WORKSPACE."""
    unread = list(selectors.notification_list(workspace, reader=reader, unread=True)
                  .values_list("pk", flat=True))
    NotificationRead.objects.bulk_create(
        [NotificationRead(workspace=workspace, notification_id=pk, **reader.lookup) for pk in unread],
        ignore_conflicts=True, batch_size=500,
    )
    return len(unread)
