"""Every change to a data export (docs/exports.md "Statuses").

queued → running → completed → expired, or → failed / canceled. A status changes
only on an export locked after the workspace's event cursor (`hold_cursor`: the
project's lock order, cursor then rows), and `data-export-status` is emitted in
the same transaction: on every status change, and while running at most once per
EXPORTS_PROGRESS_INTERVAL_SECONDS (the runner decides when, exports/runner.py).
The worker learns of a cancellation at its next batch: its progress update
matches only a running export. A run is one claim (`started_at` names it): a
worker whose export was taken over by a redelivered task (its heartbeat went
stale) matches no longer either, so it stops, and it can neither complete nor
fail the export that the other worker now writes.
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import storages
from django.db import transaction

from exports import kinds, links
from exports.models import ACTIVE_EXPORT_STATUSES, DataExport, ExportStatus
from project.errors import Conflict, TooManyRequests
from project.metrics import background_failures
from project.timestamps import iso_utc
from realtime.emit import emit, hold_cursor
from workspaces.models import Workspace
from workspaces.scoping import get_scoped_for_update, scoped

RUNNING = ExportStatus.RUNNING
logger = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def storage():
    return storages["exports"]


def download_url(export: DataExport) -> str | None:
    return links.download_path(export) if export.status == ExportStatus.COMPLETED else None


def export_object(export: DataExport) -> dict[str, Any]:
    """The export as REST returns it (docs/reference/rest.md#exports); a completed
    one's `download_url` is signed afresh on every read."""
    return {
        "id": str(export.pk),
        "kind": export.kind,
        "format": export.format,
        "filters": export.filters,
        "status": export.status,
        "progress": round(export.progress, 1),
        "row_count": export.row_count,
        "size_bytes": export.size_bytes,
        "download_url": download_url(export),
        "expires_at": iso_utc(export.expires_at),
        "error": export.error,
        "created_at": iso_utc(export.created_at),
        "completed_at": iso_utc(export.completed_at),
    }


def _emit_status(export: DataExport) -> None:
    emit(export.workspace, "data-export-status", {
        "export_id": str(export.pk),
        "status": export.status,
        "progress": round(export.progress, 1),
        "row_count": export.row_count,
        "download_url": download_url(export),
        "error": export.error,
    })


def _locked(workspace: Workspace, export_id) -> DataExport:
    hold_cursor(workspace)
    return get_scoped_for_update(DataExport, workspace, export_id, not_found="Export not found.")


def export_create(*, workspace: Workspace, kind: str, format: str, filters: dict,
                  requested_by: str = "") -> DataExport:
    """A queued export; its task is enqueued once the transaction commits. A bad
    filter is the list endpoint's own 400 and creates nothing; a workspace with
    EXPORTS_MAX_ACTIVE_PER_WORKSPACE exports queued or running is 429 `too_many_exports`."""
    from exports.tasks import run_export

    stored = kinds.parse_filters(workspace, kind, filters)
    limit = settings.EXPORTS_MAX_ACTIVE_PER_WORKSPACE
    with transaction.atomic():
        hold_cursor(workspace)  # serialises the count below with the workspace's other requests
        active = scoped(DataExport, workspace).filter(status__in=ACTIVE_EXPORT_STATUSES).count()
        if active >= limit:
            raise TooManyRequests(
                f"This workspace already has {active} exports queued or running (at most {limit}); "
                "wait for one to finish or cancel one.",
                code="too_many_exports", details={"limit": limit, "active": active},
                headers={"Retry-After": "10"},
            )
        export = DataExport.objects.create(workspace=workspace, kind=kind, format=format, filters=stored,
                                           requested_by=requested_by, heartbeat_at=_now())
        _emit_status(export)
        # robust: a broker that refuses the task leaves the export queued (202), and the
        # sweep sends it again once its heartbeat is stale (`expire_due_exports`).
        transaction.on_commit(lambda: run_export.delay(str(export.pk)), robust=True)
    return export


def export_cancel(*, workspace: Workspace, export_id) -> DataExport:
    """A queued or running export is canceled at once; its worker stops at its next
    batch and deletes what it wrote. 409 `export_not_cancelable` otherwise."""
    with transaction.atomic():
        export = _locked(workspace, export_id)
        if export.status not in ACTIVE_EXPORT_STATUSES:
            raise Conflict(f"A {export.status} export cannot be canceled.", code="export_not_cancelable",
                           details={"status": export.status})
        export.status = ExportStatus.CANCELED
        export.completed_at = _now()
        export.save(update_fields=["status", "completed_at"])
        _emit_status(export)
    return export


# --- the worker's side (exports/runner.py) -----------------------------------------------


class Waiting:
    """The claim's answer when the workspace already has an export running: this
    one stays queued and its task goes to the back of the queue (exports/tasks.py)."""


WAITING = Waiting()


def export_claim(export_id: str) -> DataExport | Waiting | None:
    """The export, now running, for the worker that claims it; None when there is
    nothing to do (canceled while queued, finished, or running on a live worker);
    WAITING while another export of its workspace runs, so that one workspace
    holds at most EXPORTS_MAX_RUNNING_PER_WORKSPACE of the exports workers and
    every other workspace's exports pass its queued ones. A running export whose
    heartbeat stopped (its worker died; the broker handed the task out again) is
    taken over and written from the start."""
    export = DataExport.objects.select_related("workspace").filter(pk=export_id).first()
    if export is None or export.status not in ACTIVE_EXPORT_STATUSES:
        return None
    stale = _now() - timedelta(seconds=settings.EXPORTS_STALE_SECONDS / 2)
    if export.status == ExportStatus.QUEUED and _running_count(export.workspace, export.pk, stale) >= \
            settings.EXPORTS_MAX_RUNNING_PER_WORKSPACE:
        return _wait(export)
    # Counted before the workspace's lock: a count of a million rows takes a moment,
    # and the lock orders every event of the workspace.
    total_rows = kinds.rows(export.workspace, export.kind, export.filters).count()
    with transaction.atomic():
        export = _locked(export.workspace, export_id)
        taken_over = export.status == RUNNING and (export.heartbeat_at or export.created_at) < stale
        if export.status != ExportStatus.QUEUED and not taken_over:
            return None
        if not taken_over and _running_count(export.workspace, export.pk, stale) >= \
                settings.EXPORTS_MAX_RUNNING_PER_WORKSPACE:
            return _wait(export)
        now = _now()
        export.status, export.started_at, export.heartbeat_at = RUNNING, now, now
        export.progress, export.row_count, export.total_rows = 0, 0, total_rows
        export.save(update_fields=["status", "started_at", "heartbeat_at", "progress", "row_count",
                                   "total_rows"])
        if not taken_over:
            _emit_status(export)
    return export


def _running_count(workspace: Workspace, export_id, stale: datetime) -> int:
    running = scoped(DataExport, workspace).filter(status=RUNNING, heartbeat_at__gte=stale)
    return running.exclude(pk=export_id).count()


def _wait(export: DataExport) -> Waiting:
    # A queued export's heartbeat says its task is alive (the sweep re-sends a queued
    # export whose heartbeat went stale: a task the broker lost).
    DataExport.objects.filter(pk=export.pk, status=ExportStatus.QUEUED).update(heartbeat_at=_now())
    return WAITING


def _percent(export: DataExport, rows: int) -> float:
    if not export.total_rows:
        return 99.0
    return min(99.0, 100.0 * rows / export.total_rows)  # 100 is for completed


def export_progress(export: DataExport, *, rows: int, announce: bool) -> bool:
    """Records `rows` written; with `announce`, emits `data-export-status`. False
    when the export is no longer running (canceled): the worker stops."""
    export.row_count, export.progress = rows, _percent(export, rows)
    changes = {"row_count": rows, "progress": export.progress, "heartbeat_at": _now()}
    this_run = DataExport.objects.filter(pk=export.pk, status=RUNNING, started_at=export.started_at)
    if not announce:
        return this_run.update(**changes) == 1
    with transaction.atomic():
        hold_cursor(export.workspace)
        if this_run.update(**changes) != 1:
            return False
        _emit_status(export)
    return True


def export_complete(export: DataExport, *, rows: int, size_bytes: int, file_name: str) -> bool:
    """Completed, with its file; False (the caller deletes the file) when it was
    canceled meanwhile, or taken over by another run."""
    with transaction.atomic():
        current = _locked(export.workspace, export.pk)
        if current.status != RUNNING or current.started_at != export.started_at:
            return False
        now = _now()
        current.status, current.progress, current.row_count = ExportStatus.COMPLETED, 100.0, rows
        current.size_bytes, current.file_name, current.completed_at = size_bytes, file_name, now
        current.expires_at = now + timedelta(seconds=settings.EXPORTS_RETENTION_SECONDS)
        current.save(update_fields=["status", "progress", "row_count", "size_bytes", "file_name",
                                    "completed_at", "expires_at"])
        _emit_status(current)
    return True


def export_fail(export: DataExport, *, error: str) -> None:
    with transaction.atomic():
        current = _locked(export.workspace, export.pk)
        if current.status != RUNNING or current.started_at != export.started_at:
            return
        current.status, current.error, current.completed_at = ExportStatus.FAILED, error[:500], _now()
        current.save(update_fields=["status", "error", "completed_at"])
        _emit_status(current)


# --- retention (the beat, exports/tasks.py) ----------------------------------------------


def export_expire(export: DataExport) -> bool:
    """Deletes a completed export's file; the export is `expired`."""
    with transaction.atomic():
        current = _locked(export.workspace, export.pk)
        if current.status != ExportStatus.COMPLETED:
            return False
        if current.file_name:
            storage().delete(current.file_name)
        current.status, current.file_name = ExportStatus.EXPIRED, ""
        current.save(update_fields=["status", "file_name"])
        _emit_status(current)
    return True


def expire_due_exports(*, limit: int = 500) -> int:
    """Expires the completed exports past their retention, oldest first, up to
    `limit` a run; fails running ones whose worker stopped beating; and sends again
    the task of queued ones whose heartbeat went stale (the broker lost or refused it)."""
    now = _now()
    due = DataExport.objects.select_related("workspace").filter(
        status=ExportStatus.COMPLETED, expires_at__lte=now).order_by("expires_at")[:limit]
    expired = 0
    for export in due:
        # One file the storage cannot delete stops nobody else's: logged, counted, left
        # completed for the next run.
        try:
            expired += export_expire(export)
        except Exception:
            logger.exception("export %s could not be expired", export.pk)
            background_failures.labels("exports-expire").inc()
    stale = now - timedelta(seconds=settings.EXPORTS_STALE_SECONDS)
    for export in DataExport.objects.select_related("workspace").filter(
            status=RUNNING, heartbeat_at__lt=stale)[:limit]:
        try:
            export_fail(export, error="The worker writing this export stopped; request it again.")
        except Exception:
            logger.exception("stale export %s could not be failed", export.pk)
            background_failures.labels("exports-stale").inc()
    from exports.tasks import run_export

    lost = DataExport.objects.filter(status=ExportStatus.QUEUED, heartbeat_at__lt=stale).order_by(
        "heartbeat_at").values_list("pk", flat=True)[:limit]
    for export_id in lost:
        try:
            run_export.delay(str(export_id))
        except Exception:
            logger.exception("queued export %s could not be sent again", export_id)
            background_failures.labels("exports-resend").inc()
            break  # the broker is down: the next run tries again
        DataExport.objects.filter(pk=export_id, status=ExportStatus.QUEUED).update(heartbeat_at=now)
    return expired
