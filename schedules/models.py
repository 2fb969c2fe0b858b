"""Schedules and their runs (docs/schedules.md, docs/reference/rest.md#schedules).

A ScheduleRun is one row per (schedule, scheduled time), unique: the guarantee
that a due run executes exactly once lives in that constraint, inserted in the
same transaction as the run's action, not in a lock that can expire."""

import uuid

from django.db import models
from django.db.models import Q

from workspaces.models import TenantModel, Workspace

DEFAULT_MISFIRE_GRACE_SECONDS = 300
MAX_MISFIRE_GRACE_SECONDS = 24 * 3600


class ScheduleStatus(models.TextChoices):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"


FINISHED_SCHEDULE_STATUSES = frozenset({ScheduleStatus.COMPLETED, ScheduleStatus.FAILED})


class Schedule(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=ScheduleStatus.choices, default=ScheduleStatus.ACTIVE)
    # A one-off schedule has `run_at`; a recurring one a 5-field `cron` read in `timezone`.
    run_at = models.DateTimeField(null=True, blank=True)
    cron = models.CharField(max_length=100, blank=True, default="")
    timezone = models.CharField(max_length=64, default="UTC")
    # {"type": "call", "to_number", "agent", "variables"} or {"type": "campaign", "campaign_id"}.
    action = models.JSONField()
    misfire_grace_seconds = models.PositiveIntegerField(default=DEFAULT_MISFIRE_GRACE_SECONDS)
    # The time of the next run; null unless active (a paused schedule's is worked out on resume).
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    run_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="schedule_list"),
            models.Index(fields=["workspace", "status", "-created_at", "-id"], name="schedule_status"),
            # The runner's tick: the active schedules of every workspace whose time has come.
            models.Index(fields=["next_run_at"], name="schedule_due", condition=Q(status="active")),
        ]
        constraints = [
            models.CheckConstraint(
                name="schedule_one_off_or_recurring",
                condition=(Q(run_at__isnull=False, cron="") | Q(run_at__isnull=True) & ~Q(cron="")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def recurring(self) -> bool:
        return bool(self.cron)


class RunOutcome(models.TextChoices):
    EXECUTED = "executed"
    MISSED = "missed"
    FAILED = "failed"


class ScheduleRun(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by schedule_run_once, which leads with the schedule.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs", db_index=False)
    scheduled_for = models.DateTimeField()
    # When the action ran; null for a missed run.
    executed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=RunOutcome.choices)
    call_id = models.UUIDField(null=True, blank=True)
    campaign_id = models.UUIDField(null=True, blank=True)
    # {"code", "message"} of a failed or missed run.
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["schedule", "scheduled_for"], name="schedule_run_once"),
        ]
        indexes = [
            # The runs list pages by creation (project/pagination.py), newest first.
            models.Index(fields=["schedule", "-created_at", "-id"], name="schedule_run_list"),
            models.Index(fields=["created_at"], name="schedule_run_age"),
        ]

    def __str__(self) -> str:
        return f"{self.scheduled_for:%Y-%m-%d %H:%M} {self.outcome}"
