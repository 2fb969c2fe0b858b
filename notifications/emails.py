"""The email of a notification (docs/notifications.md "Email"): one message to each
owner and admin of its workspace who has an address, through Django's email backend.
Sent by a task after the notification committed (notifications/tasks.py), never in
the reaction's transaction, so a mail server that fails holds up nothing else."""

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from notifications.models import Notification
from workspaces.models import Membership, Role


def recipients(notification: Notification) -> list[str]:
    memberships = Membership.objects.filter(
        workspace_id=notification.workspace_id, role__in=[Role.OWNER, Role.ADMIN], user__is_active=True
    ).exclude(user__email="").select_related("user").order_by("user__email")
    return sorted({membership.user.email for membership in memberships})


def notification_email_send(*, notification_id: str) -> int:
    """How many messages went out: none when email is off, the kind is not emailed,
    the notification was trimmed meanwhile or nobody has an address."""
    if not settings.NOTIFICATIONS_EMAIL_ENABLED:
        return 0
    notification = Notification.objects.select_related("workspace").filter(pk=notification_id).first()
    if notification is None or notification.kind not in settings.NOTIFICATIONS_EMAIL_KINDS:
        return 0
    subject = f"[{notification.workspace.name}] {notification.title}"[:200]
    body = (f"{notification.body}\n\n"
            f"Workspace: {notification.workspace.name} ({notification.workspace.slug})\n"
            f"Kind: {notification.kind} ({notification.severity})\n"
            "You receive this as an owner or admin of the workspace.\n")
    messages = [EmailMessage(subject=subject, body=body, to=[address])
                for address in recipients(notification)]
    if not messages:
        return 0
    with get_connection() as connection:
        return connection.send_messages(messages) or 0
