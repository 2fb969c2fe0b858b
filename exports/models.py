"""Data exports (docs/exports.md, docs/reference/rest.md#exports).

A DataExport is a request for a file of one kind of the workspace's rows (calls,
call events, ledger entries) in one format, with the filters of that kind's list
endpoint. A worker writes the file (exports/tasks.py) into the `exports` storage;
`file_name` names it there until it is deleted (canceled, expired)."""

import uuid

from django.db import models
from django.db.models import Q

from workspaces.models import TenantModel


class ExportKind(models.TextChoices):
    CALLS = "calls"
    CALL_EVENTS = "call-events"
    LEDGER = "ledger"


class ExportFormat(models.TextChoices):
    CSV = "csv"
    JSONL = "jsonl"


class ExportStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"


# Exports a workspace has waiting for or holding a worker: what EXPORTS_MAX_ACTIVE_PER_WORKSPACE bounds.
ACTIVE_EXPORT_STATUSES = frozenset({ExportStatus.QUEUED, ExportStatus.RUNNING})


class DataExport(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=ExportKind.choices)
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    # The list's filters as validated at request time, in their JSON form.
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.FloatField(default=0)
    row_count = models.PositiveBigIntegerField(default=0)
    # Rows the filters matched when the worker started: the denominator of `progress`.
    total_rows = models.PositiveBigIntegerField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    file_name = models.CharField(max_length=300, blank=True, default="")
    error = models.CharField(max_length=500, null=True, blank=True)  # noqa: DJ001
    requested_by = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When the file is deleted (retention); set on completion.
    expires_at = models.DateTimeField(null=True, blank=True)
    # Written by the worker at every batch: a running export whose worker died
    # (this stops moving) may be taken over by the redelivered task.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="export_list"),
            # The retention beat: completed exports whose time is up.
            models.Index(fields=["expires_at"], name="export_expiry", condition=Q(status="completed")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.format} ({self.status})"

    @property
    def content_type(self) -> str:
        return "text/csv; charset=utf-8" if self.format == ExportFormat.CSV else "application/x-ndjson"

    @property
    def download_name(self) -> str:
        return f"{self.kind}-{self.created_at:%Y%m%d-%H%M%S}-{str(self.pk)[:8]}.{self.format}"
