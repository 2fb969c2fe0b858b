"""Publishing committed events to Redis, and repairing what a crash left unpublished."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from project.redis_client import get_redis
from realtime import metrics
from realtime.channels import workspace_channel
from realtime.models import Event
from realtime.wire import encode_event, envelope

logger = logging.getLogger(__name__)

SWEEP_BATCH = 1000
TRIM_BATCH = 5000
TRIM_MAX_BATCHES = 200


def envelope_of(row: Event) -> dict:
    return envelope(event_id=str(row.event_id), type=row.type, workspace_id=str(row.workspace_id),
                    call_id=row.call_id, timestamp=row.occurred_at, data=row.data)


def message_of(row: Event) -> bytes:
    return encode_event(seq=row.seq, ts=row.occurred_at.timestamp(), type=row.type,
                        audience=row.audience, call_id=row.call_id, agent=row.agent,
                        envelope_body=envelope_of(row))


def publish(messages: list[tuple[int | None, str, bytes]]) -> bool:
    """Hands (event pk or None, workspace id, message) to Redis and marks the rows
    published. Never raises: a failure leaves the rows for the sweeper."""
    try:
        pipeline = get_redis().pipeline(transaction=False)
        for _, workspace_id, message in messages:
            pipeline.publish(workspace_channel(workspace_id), message)
        pipeline.execute()
    except Exception:  # Redis down or slow: the sweeper retries from the database
        logger.warning("publishing %d event(s) failed; the sweeper will retry", len(messages),
                       exc_info=True)
        metrics.publish_failures.inc()
        return False
    metrics.events_published.inc(len(messages))
    persisted = [pk for pk, _, _ in messages if pk is not None]
    if persisted:
        try:
            Event.objects.filter(pk__in=persisted).update(published_at=timezone.now())
        except Exception:  # the events went out; at worst the sweeper sends them again
            logger.warning("marking %d event(s) published failed", len(persisted), exc_info=True)
    return True


def sweep_unpublished(*, grace_seconds: float) -> int:
    """Publishes committed events still unpublished after `grace_seconds`.

    Streams drop a cursor they have already delivered, so a publish that the
    sweeper repeats reaches no client twice. Concurrent sweepers skip each
    other's rows.
    """
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    with transaction.atomic():
        rows = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(published_at__isnull=True, created_at__lt=cutoff)
            .order_by("workspace_id", "seq")[:SWEEP_BATCH]
        )
        if not rows:
            return 0
        published = publish([(row.pk, str(row.workspace_id), message_of(row)) for row in rows])
    if published:
        metrics.events_swept.inc(len(rows))
        logger.warning("sweeper published %d event(s) left unpublished", len(rows))
        return len(rows)
    return 0


def trim_history(*, hours: float) -> int:
    """Deletes published events older than the retention, in bounded batches."""
    cutoff = timezone.now() - timedelta(hours=hours)
    deleted = 0
    for _ in range(TRIM_MAX_BATCHES):
        ids = list(
            Event.objects.filter(created_at__lt=cutoff, published_at__isnull=False)
            .order_by("id").values_list("id", flat=True)[:TRIM_BATCH]
        )
        if not ids:
            break
        deleted += Event.objects.filter(id__in=ids).delete()[0]
    return deleted
