"""Publishing committed events to Redis, and repairing what a crash left unpublished."""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from project.redis_client import get_redis
from realtime import grip, metrics, reactions
from realtime.channels import workspace_channel
from realtime.models import Event, PendingPublish
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


def publish(messages: list[tuple[str, bytes]], pending_id: int | None = None, *,
            sweeping: bool = False) -> bool:
    """Hands (workspace id, message) pairs to Redis, and with REALTIME_FRONT=pushpin
    to Pushpin too; then the outbox row of the batch (`pending_id`, None when
    nothing was persisted) goes. Never raises: a failure of either leaves the row
    for the sweeper (`sweeping`), which publishes to both again (the hubs drop
    cursors they have delivered; see grip.publish for Pushpin)."""
    try:
        pipeline = get_redis().pipeline(transaction=False)
        for workspace_id, message in messages:
            pipeline.publish(workspace_channel(workspace_id), message)
        held = grip.queue_reads(pipeline, messages) if grip.pushpin_front() else None
        results = pipeline.execute()
        if held is not None:
            grip.publish(messages, held, results[len(messages):], sweeping=sweeping)
    except Exception:  # Redis or Pushpin down or slow: the sweeper retries from the database
        logger.warning("publishing %d event(s) failed; the sweeper will retry", len(messages),
                       exc_info=True)
        metrics.publish_failures.inc()
        return False
    metrics.events_published.inc(len(messages))
    if pending_id is not None:
        try:
            PendingPublish.objects.filter(pk=pending_id).delete()
        except Exception:  # the events went out; at worst the sweeper sends them again
            logger.warning("clearing outbox row %d failed", pending_id, exc_info=True)
    return True


def sweep_unpublished(*, grace_seconds: float) -> int:
    """Publishes the events of outbox rows older than `grace_seconds` and clears
    the rows; the number of events.

    Streams drop a cursor they have already delivered, so a publish that the
    sweeper repeats reaches no client twice. Concurrent sweepers skip each
    other's rows.
    """
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    with transaction.atomic():
        pending = list(
            PendingPublish.objects.select_for_update(skip_locked=True)
            .filter(created_at__lt=cutoff)
            .order_by("id")[:SWEEP_BATCH]
        )
        if not pending:
            return 0
        rows = []
        for batch in pending:
            rows += Event.objects.filter(
                workspace_id=batch.workspace_id, seq__gte=batch.first_seq, seq__lte=batch.last_seq
            ).order_by("seq")
        published = publish([(str(row.workspace_id), message_of(row)) for row in rows], sweeping=True)
        if published:
            PendingPublish.objects.filter(pk__in=[batch.pk for batch in pending]).delete()
    if published:
        metrics.events_swept.inc(len(rows))
        logger.warning("sweeper published %d event(s) left unpublished", len(rows))
        return len(rows)
    return 0


def waiting_for_publish() -> QuerySet:
    """The events an outbox row still holds: committed, not yet handed to Redis."""
    return Event.objects.filter(Exists(PendingPublish.objects.filter(
        workspace_id=OuterRef("workspace_id"), first_seq__lte=OuterRef("seq"), last_seq__gte=OuterRef("seq")
    )))


def trim_history(*, hours: float) -> int:
    """Deletes events older than the retention, in bounded batches; an event still
    waiting for its publish stays until it is published, and one that a reaction
    wants and has not handled stays until it has (logged and counted by
    `reactions.note_overruns`: a reaction that keeps failing makes the log grow)."""
    cutoff = timezone.now() - timedelta(hours=hours)
    old = Event.objects.filter(created_at__lt=cutoff).exclude(pk__in=waiting_for_publish().values("pk"))
    unhandled = reactions.unhandled()
    if unhandled is not None:
        old = old.exclude(unhandled)
    deleted, after = 0, 0
    for _ in range(TRIM_MAX_BATCHES):
        # Past the last batch: what was kept is not read again by every batch.
        ids = list(old.filter(id__gt=after).order_by("id").values_list("id", flat=True)[:TRIM_BATCH])
        if not ids:
            break
        deleted += Event.objects.filter(id__in=ids).delete()[0]
        after = ids[-1]
    if unhandled is not None:
        reactions.note_overruns(cutoff)
    return deleted
