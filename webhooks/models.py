"""Webhook endpoints and their deliveries (docs/webhooks.md).

A WebhookEndpoint is a URL of a workspace that receives its committed events,
signed with the endpoint's secret (Standard Webhooks). A WebhookDelivery is one
event for one endpoint: created by the reaction (webhooks/reactions.py), unique
per (endpoint, event), sent and retried by the sender process
(webhooks/sender.py), kept as the delivery log until WEBHOOKS_DELIVERY_RETENTION_DAYS.

The secret is kept as it was issued, for signing needs it (an HMAC key cannot
be kept as a hash), but sealed: encrypted with WEBHOOKS_SECRETS_KEYS
(webhooks/sealing.py). It is shown to the user once, on create and on rotate,
and never by the admin or the API afterwards."""

import uuid

from django.db import models
from django.db.models import Q

from webhooks import sealing
from workspaces.models import TenantModel


class SealedSecretField(models.CharField):
    """A secret, encrypted in the database and plain in Python (webhooks/sealing.py)."""

    def from_db_value(self, value, expression, connection):
        return value if value is None else sealing.unseal(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return sealing.seal(value) if value else value


class DisabledReason(models.TextChoices):
    MANUAL = "manual"  # a user set enabled=false
    GONE = "gone"  # the receiver answered 410 Gone
    FAILING = "failing"  # every attempt failed for WEBHOOKS_DISABLE_AFTER_DAYS


class WebhookEndpoint(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by webhook_list, which leads with the workspace.
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+",
                                  db_index=False)
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=500, blank=True, default="")
    # The event types it receives; null: every workspace event type.
    event_types = models.JSONField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=16, choices=DisabledReason.choices, blank=True, default="")
    secret = SealedSecretField(max_length=400)
    # After a rotation, the secret before it, still signing until previous_secret_expires_at.
    previous_secret = SealedSecretField(max_length=400, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # The workspace's event cursor when it was created or last enabled: it receives the
    # events committed after it, not the history the reaction may still be working through.
    since_seq = models.BigIntegerField(default=0)
    # The first failed attempt since the last success: past WEBHOOKS_DISABLE_AFTER_DAYS it is disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at", "-id"], name="webhook_list")]

    def __str__(self) -> str:
        return self.url[:100]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # no attempt made yet
    RETRYING = "retrying"  # an attempt failed; the next is at next_attempt_at
    SUCCEEDED = "succeeded"  # a 2xx answer
    FAILED = "failed"  # given up: out of attempts, 410, or the endpoint disabled


# Deliveries the sender still has to send: claimed when next_attempt_at is due.
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
# The last_error of the deliveries a disabling failed (webhooks.services; webhooks/claims.py says it too).
DISABLED_BEFORE_SENT = "The webhook was disabled before this delivery was sent."


class WebhookDelivery(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by the constraints and indexes below, which lead with these.
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+",
                                  db_index=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries",
                                 db_index=False)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=64)
    # The exact body sent (the event's envelope, compact JSON), the same on every attempt.
    payload = models.TextField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When an open delivery is due; while a sender holds it, the end of its lease.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set by a sender's claim, cleared when its result is recorded: with the lease
    # (next_attempt_at) still ahead, an attempt is under way (`in_flight` in the API).
    claimed = models.BooleanField(default=False)
    response_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.CharField(max_length=4096, blank=True, default="")
    last_error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # A batch of events handed to the reaction twice creates nothing twice.
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once"),
        ]
        indexes = [
            # The endpoint's log, newest first (project/pagination.py).
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhook_delivery_list"),
            # The sender's claim: open deliveries per endpoint by due time, and nothing
            # else (webhooks/claims.py `_due`: a skip scan over the endpoints, then each
            # endpoint's oldest).
            models.Index(fields=["endpoint", "next_attempt_at"], name="webhook_delivery_due_each",
                         condition=Q(status__in=["pending", "retrying"])),
            # Attempts in flight per endpoint, counted by every claim (webhooks/claims.py):
            # a few hundred rows at most, whatever the log holds.
            models.Index(fields=["endpoint"], name="webhook_delivery_in_flight", condition=Q(claimed=True)),
            # The retention trim by age, and the admin's list across workspaces.
            models.Index(fields=["created_at"], name="webhook_delivery_age"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"
