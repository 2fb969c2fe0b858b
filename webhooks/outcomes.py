"""What an attempt's result does to its delivery and its endpoint (docs/webhooks.md "Retries").

- 2xx: succeeded; the endpoint's failure streak ends.
- 410: failed, and the endpoint is disabled (`gone`).
- anything else (another status, a redirect, a timeout, a refused address, a
  connection error): retried after the next delay of WEBHOOKS_RETRY_SCHEDULE, with
  ± WEBHOOKS_RETRY_JITTER, or after a 429's or 503's Retry-After (at most
  WEBHOOKS_RETRY_AFTER_MAX_SECONDS); failed once the schedule is spent. The
  endpoint's streak starts; an endpoint failing for WEBHOOKS_DISABLE_AFTER_DAYS
  is disabled (`failing`).

`record` writes a batch of results in one transaction: endpoints first, then
deliveries, each locked in id order (the house order of webhooks.services is
cursor, endpoint, delivery; the sender never takes a cursor while it holds rows).
A result is written only if its delivery is still on the attempt it was claimed
for: one taken over after its lease ran out (or sent again by hand) belongs to its
new attempt. Disabling emits `webhook-status-changed`, so it runs after that
commit, through `webhook_disable` (cursor first); a crash in between leaves the
endpoint enabled and its next failure disables it."""

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from project.metrics import background_failures
from webhooks import metrics, services
from webhooks.attempt import Result
from webhooks.models import OPEN_STATUSES, DeliveryStatus, DisabledReason, WebhookDelivery, WebhookEndpoint
from workspaces.models import Workspace

logger = logging.getLogger(__name__)
WRITE_CHUNK = 500  # rows per UPDATE
FIELDS = ["status", "response_status_code", "response_body", "last_error", "duration_ms", "next_attempt_at",
          "delivered_at", "claimed"]


def retry_delay(attempts: int, *, retry_after: float | None = None, rng=random) -> float | None:
    """Seconds until the attempt after attempt number `attempts`; None when there is none."""
    schedule = settings.WEBHOOKS_RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    if retry_after is not None:
        return min(max(retry_after, 1.0), float(settings.WEBHOOKS_RETRY_AFTER_MAX_SECONDS))
    jitter = settings.WEBHOOKS_RETRY_JITTER
    return schedule[attempts - 1] * rng.uniform(1 - jitter, 1 + jitter)


def _apply(delivery: WebhookDelivery, result: Result, now: datetime) -> None:
    delivery.response_status_code = result.status_code
    delivery.response_body = result.body.replace("\x00", "")
    delivery.last_error = result.error
    delivery.duration_ms = result.duration_ms
    delivery.claimed = False
    if result.succeeded:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, now, None
        return
    delay = None if result.gone else retry_delay(result.job.attempts, retry_after=result.retry_after)
    if delay is None:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    else:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.RETRYING, now + timedelta(seconds=delay)


# One UPDATE ... FROM unnest(arrays) per batch: Django's bulk_update builds a CASE per
# field and row in Python, which held the GIL long enough to stall the sender's event
# loop, and a VALUES list of 8 placeholders a row cost psycopg's client-side binding
# a parse of thousands of placeholders per batch (docs/PERFORMANCE.md "Webhooks").
_UPDATE = """
    UPDATE webhooks_webhookdelivery AS d SET status = v.status, response_status_code = v.code,
           response_body = v.body, last_error = v.error, duration_ms = v.duration,
           next_attempt_at = v.next_at, delivered_at = v.delivered_at, claimed = false
    FROM unnest(%s::uuid[], %s::varchar[], %s::smallint[], %s::varchar[], %s::varchar[], %s::integer[],
                %s::timestamptz[], %s::timestamptz[])
         AS v(id, status, code, body, error, duration, next_at, delivered_at)
    WHERE d.id = v.id"""


def _write(deliveries: list[WebhookDelivery]) -> None:
    if connection.vendor != "postgresql":  # SQLite, a laptop's `make run`: no arrays, no hot path
        WebhookDelivery.objects.bulk_update(deliveries, FIELDS, batch_size=WRITE_CHUNK)
        return
    for start in range(0, len(deliveries), WRITE_CHUNK):
        chunk = deliveries[start:start + WRITE_CHUNK]
        columns = [[d.pk for d in chunk], [d.status for d in chunk], [d.response_status_code for d in chunk],
                   [d.response_body for d in chunk], [d.last_error for d in chunk],
                   [d.duration_ms for d in chunk], [d.next_attempt_at for d in chunk],
                   [d.delivered_at for d in chunk]]
        with connection.cursor() as cursor:
            cursor.execute(_UPDATE, columns)


def record(results: list[Result], *, now: datetime) -> int:
    """Writes the results; how many were still current."""
    succeeded = {result.job.endpoint_id for result in results if result.succeeded}
    failing = {result.job.endpoint_id for result in results if not result.succeeded} - succeeded
    by_id = {result.job.delivery_id: result for result in results}
    with transaction.atomic():
        endpoints = WebhookEndpoint.objects.filter(pk__in=succeeded | failing)
        # NO KEY UPDATE: the reaction inserting deliveries takes KEY SHARE locks on
        # their webhooks (the foreign key's check, at its commit) in its own order; a
        # plain FOR UPDATE here waited for it while it waited for us (a deadlock seen
        # at 1,000 events/s).
        list(endpoints.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True))
        endpoints.filter(pk__in=succeeded, failing_since__isnull=False).update(failing_since=None)
        endpoints.filter(pk__in=failing, failing_since__isnull=True).update(failing_since=now)
        open_ = WebhookDelivery.objects.filter(pk__in=by_id, status__in=OPEN_STATUSES)
        current = [WebhookDelivery(pk=pk, attempts=attempts)
                   for pk, attempts in open_.select_for_update().order_by("pk").values_list("pk", "attempts")
                   if attempts == by_id[str(pk)].job.attempts]
        for delivery in current:
            _apply(delivery, by_id[str(delivery.pk)], now)
        _write(current)
    for delivery in current:
        metrics.attempts.labels(delivery.status).inc()
    _disable_after_commit(results, failing, now)
    return len(current)


def _disable_after_commit(results: list[Result], failing: set[str], now: datetime) -> None:
    gone = {result.job.endpoint_id: result.job.workspace_id for result in results if result.gone}
    cutoff = now - timedelta(days=settings.WEBHOOKS_DISABLE_AFTER_DAYS)
    worn = WebhookEndpoint.objects.filter(pk__in=failing - set(gone), enabled=True, failing_since__lt=cutoff)
    targets = [(endpoint_id, workspace_id, DisabledReason.GONE) for endpoint_id, workspace_id in gone.items()]
    targets += [(str(endpoint_id), workspace_id, DisabledReason.FAILING)
                for endpoint_id, workspace_id in worn.values_list("pk", "workspace_id")]
    for endpoint_id, workspace_id, reason in targets:
        try:
            workspace = Workspace.objects.get(pk=workspace_id)
            if services.webhook_disable(workspace=workspace, endpoint_id=endpoint_id, reason=reason):
                logger.warning("webhook %s disabled (%s)", endpoint_id, reason)
        except Exception:
            logger.exception("webhook %s could not be disabled; its next failure tries again", endpoint_id)
            background_failures.labels("webhooks-disable").inc()
