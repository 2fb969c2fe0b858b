"""Notifications and who has read them (docs/notifications.md).

A Notification is a workspace's, raised once per occurrence: it is unique per
source event (`source_event_id`, the committed event it was made from), so the
same event handed over twice cannot make two. Read state is per reader, a user
or an API key: a NotificationRead row says that reader has read it; no row,
unread. Reads go with their notification when it is trimmed."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from workspaces.models import ApiKey, TenantModel, Workspace


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Kind(models.TextChoices):
    LOW_BALANCE = "low-balance"
    PAYMENT_REQUIRED = "payment-required"
    CAMPAIGN_COMPLETED = "campaign-completed"
    EXPORT_READY = "export-ready"
    EXPORT_FAILED = "export-failed"
    SCHEDULE_FAILED = "schedule-failed"
    WEBHOOK_DISABLED = "webhook-disabled"


class Notification(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by notification_list, which leads with the workspace.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    title = models.CharField(max_length=200)
    body = models.CharField(max_length=1000)
    # What it is about ({"type", "id"} in the API); both empty for the workspace's credit.
    subject_type = models.CharField(max_length=32, blank=True, default="")
    subject_id = models.CharField(max_length=64, blank=True, default="")
    # The committed event it was raised from: at most one notification per event.
    source_event_id = models.UUIDField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The list pages by creation (project/pagination.py), newest first; trimming reads it too.
            models.Index(fields=["workspace", "-created_at", "-id"], name="notification_list"),
            # The beat's trim by age, and the admin's list across workspaces.
            models.Index(fields=["created_at"], name="notification_age"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"


class NotificationRead(TenantModel):
    """One reader has read one notification. The reader is a user or an API key, never both."""

    # Indexed by the unique constraints, which lead with the notification.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="reads",
                                     db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="notification_read_one_reader",
                condition=(Q(user__isnull=False, api_key__isnull=True)
                           | Q(user__isnull=True, api_key__isnull=False)),
            ),
            models.UniqueConstraint(fields=["notification", "user"], name="notification_read_once_by_user",
                                    condition=Q(user__isnull=False)),
            models.UniqueConstraint(fields=["notification", "api_key"], name="notification_read_once_by_key",
                                    condition=Q(api_key__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} read by {self.user_id or self.api_key_id}"
