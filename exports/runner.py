"""The worker's side of an export: rows from the database to a file in storage,
a batch at a time (docs/exports.md "How exports run").

Rows come through a server-side cursor (`QuerySet.iterator`: on PostgreSQL a
named cursor, outside any transaction so that progress and events commit as they
happen), EXPORTS_BATCH_ROWS at a time, and are written to a temporary file on
the worker's disk; the finished file goes to the `exports` storage in one
`save` (a multipart upload on S3). Nothing but one batch is ever in memory,
whatever the row count (docs/PERFORMANCE.md "Exports").
"""

import logging
import tempfile
import time
from itertools import islice

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File

from exports import kinds, services
from exports.models import DataExport
from exports.writers import WRITERS

logger = logging.getLogger(__name__)


def export_run(export_id: str) -> str:
    """Claims and writes the export; what happened, for the task's log."""
    export = services.export_claim(export_id)
    if export is None:
        return "skipped"
    if export is services.WAITING:
        return "waiting"
    try:
        return _write(export)
    except SoftTimeLimitExceeded:
        limit = settings.EXPORTS_TIME_LIMIT_SECONDS
        services.export_fail(export, error=f"It took longer than {limit} seconds; narrow its filters.")
        return "timed out"
    except Exception:
        logger.exception("export %s failed", export.pk)
        services.export_fail(export, error="The export could not be written; request it again.")
        raise


def _write(export: DataExport) -> str:
    spec = kinds.KINDS[export.kind]
    batch_rows = settings.EXPORTS_BATCH_ROWS
    rows = kinds.rows(export.workspace, export.kind, export.filters).values_list(*spec.fields)
    written, last_announced = 0, time.monotonic()
    # Deleted when closed: a canceled or failed export leaves nothing behind.
    with tempfile.TemporaryFile(prefix="callboard-export-") as out:
        writer = WRITERS[export.format](out, spec)
        writer.header()
        cursor = rows.iterator(chunk_size=batch_rows)
        try:
            while batch := list(islice(cursor, batch_rows)):
                writer.rows(batch)
                written += len(batch)
                announce = time.monotonic() - last_announced >= settings.EXPORTS_PROGRESS_INTERVAL_SECONDS
                if not services.export_progress(export, rows=written, announce=announce):
                    return "canceled"
                if announce:
                    last_announced = time.monotonic()
        finally:
            cursor.close()
        size = out.tell()
        out.seek(0)
        name = services.storage().save(f"{export.workspace_id}/{export.pk}.{export.format}", File(out))
    if not services.export_complete(export, rows=written, size_bytes=size, file_name=name):
        # Canceled while the file was being saved, or taken over by a redelivered run: on
        # S3 (file_overwrite) that run may have saved under the same key and completed.
        if not DataExport.objects.filter(pk=export.pk, file_name=name).exists():
            services.storage().delete(name)
        return "canceled"
    return "completed"
