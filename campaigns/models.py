"""Campaigns, their contacts and the workspace's suppression list
(docs/reference/rest.md#campaigns, docs/reference/domain.md#campaigns, docs/campaigns.md)."""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from calls.models import Agent
from workspaces.models import TenantModel, Workspace

MAX_CONCURRENCY = 100
MAX_CALLS_PER_MINUTE = 600


class CampaignStatus(models.TextChoices):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELED = "canceled"


FINISHED_CAMPAIGN_STATUSES = frozenset({CampaignStatus.COMPLETED, CampaignStatus.CANCELED})


class PauseReason(models.TextChoices):
    MANUAL = "manual"
    INSUFFICIENT_BALANCE = "insufficient-balance"


def default_retry() -> dict:
    return {"max_attempts": 3, "retry_on": ["no-answer", "busy", "failed", "voicemail"], "delay_seconds": 900}


def empty_stats() -> dict:
    return {"total": 0, "pending": 0, "in_progress": 0, "retry_wait": 0, "completed": 0, "failed": 0,
            "skipped": 0, "percent": 0.0}


class Campaign(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="campaigns")
    from_number = models.CharField(max_length=20)
    max_concurrency = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(MAX_CONCURRENCY)]
    )
    calls_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_CALLS_PER_MINUTE)]
    )
    # {"timezone": "contact" | IANA name, "days": ["mon", ...], "start": "09:00", "end": "17:00"};
    # null: any time (docs/campaigns.md "Calling window").
    calling_window = models.JSONField(null=True, blank=True)
    retry = models.JSONField(default=default_retry)
    start_at = models.DateTimeField(null=True, blank=True)
    # null (not "") when running: the contract shows `pause_reason: null`.
    pause_reason = models.CharField(  # noqa: DJ001
        max_length=32, choices=PauseReason.choices, null=True, blank=True
    )
    # The contact counts as of the last `campaign-progress` (refreshed at most once a
    # second), so that lists and the event agree and no read counts 100,000 rows.
    stats = models.JSONField(default=empty_stats)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Dialer state, changed only under the campaign's row lock.
    next_dial_at = models.DateTimeField(null=True, blank=True, help_text="Pacing: no dial before this.")
    progress_emitted_at = models.DateTimeField(null=True, blank=True)
    progress_due = models.BooleanField(default=False, help_text="Contacts changed since the last progress.")

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="campaign_list"),
            models.Index(fields=["workspace", "status", "-created_at", "-id"], name="campaign_status"),
            # The dialer's beat: the running (and due scheduled) campaigns of every workspace.
            models.Index(fields=["status"], name="campaign_live",
                         condition=Q(status__in=["running", "scheduled"])),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class ContactStatus(models.TextChoices):
    PENDING = "pending"
    IN_PROGRESS = "in-progress"
    RETRY_WAIT = "retry-wait"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


DIALABLE_CONTACT_STATUSES = (ContactStatus.PENDING, ContactStatus.RETRY_WAIT)
TERMINAL_CONTACT_STATUSES = frozenset({ContactStatus.COMPLETED, ContactStatus.FAILED, ContactStatus.SKIPPED})


class Contact(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Every read of contacts names the campaign, which leads each index: one for the
    # workspace alone would be a write per row of a 100,000-row upload for nothing.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="contacts", db_index=False)
    phone_number = models.CharField(max_length=20)
    variables = models.JSONField(default=dict, blank=True)
    # The contact's own IANA zone, from the number (phonenumbers' time zone data);
    # "" when the number spans several zones: the workspace's zone applies.
    timezone = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=ContactStatus.choices, default=ContactStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_call_id = models.UUIDField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Why the contact is where it is: the last call's outcome (`completed`, `voicemail`,
    # `no-answer`, `busy`, `failed`, `canceled`), `suppressed`, or an error code.
    outcome = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001 (null: no outcome yet)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "phone_number"],
                                    name="contact_number_once_per_campaign"),
        ]
        indexes = [
            models.Index(fields=["campaign", "-created_at", "-id"], name="contact_list"),
            models.Index(fields=["campaign", "status", "-created_at", "-id"], name="contact_status"),
            # What the dialer claims next: due contacts, oldest first.
            models.Index(fields=["campaign", "next_attempt_at"], name="contact_due",
                         condition=Q(status__in=["pending", "retry-wait"])),
            models.Index(fields=["last_call_id"], name="contact_by_call",
                         condition=Q(last_call_id__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.phone_number} ({self.status})"


class Suppression(TenantModel):
    """A number the workspace must never call from a campaign (do-not-call)."""

    id = models.BigAutoField(primary_key=True)
    # Indexed by suppressed_once_per_workspace, which leads with it.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    phone_number = models.CharField(max_length=20)
    reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "phone_number"],
                                    name="suppressed_once_per_workspace"),
        ]
        indexes = [models.Index(fields=["workspace", "-created_at", "-id"], name="suppression_list")]

    def __str__(self) -> str:
        return self.phone_number
