"""The sender's claim: due deliveries taken from PostgreSQL for one attempt each
(docs/webhooks.md "How deliveries are sent").

One transaction: the oldest due open deliveries are locked with `FOR UPDATE SKIP
LOCKED` (other senders skip them, nobody waits), at most the endpoint's free
share of WEBHOOKS_CONCURRENCY_PER_ENDPOINT each. That share counts the attempts
in flight of every sender (claimed, lease ahead), read under a transaction-level
advisory lock that orders the senders' claims: two senders claiming at once
cannot both take an endpoint's last slots. A claim is a few milliseconds, so
the lock costs the senders nothing they would notice; their attempt count goes up and
`next_attempt_at` moves to the end of a lease of WEBHOOKS_LEASE_SECONDS. A sender
that dies mid-attempt loses nothing: once the lease is over the delivery is due
again and any sender claims it. Deliveries of a disabled (or deleted) endpoint are
failed instead of claimed."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F

from webhooks import signing
from webhooks.attempt import Job
from webhooks.models import OPEN_STATUSES, DeliveryStatus, WebhookDelivery, WebhookEndpoint

SCAN_FACTOR = 4  # candidates read per free slot, so that a busy endpoint's backlog leaves room for others
CLAIM_LOCK = 0x77686B73  # pg_advisory_xact_lock's key for the senders' claims ("whks")


def claim(*, limit: int, in_flight: dict[str, int], now: datetime) -> list[Job]:
    """At most `limit` deliveries to send now; `in_flight` counts this sender's
    attempts per endpoint (those whose results are not written yet); the
    per-endpoint limit includes them and every other sender's."""
    cap = settings.WEBHOOKS_CONCURRENCY_PER_ENDPOINT
    with transaction.atomic():
        if connection.vendor == "postgresql":  # SQLite serializes every writer anyway
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])
        in_flight = _in_flight_everywhere(in_flight, now)
        full = [endpoint_id for endpoint_id, count in in_flight.items() if count >= cap]
        candidates = list(
            WebhookDelivery.objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lte=now)
            .exclude(endpoint_id__in=full).order_by("next_attempt_at")
            .select_for_update(skip_locked=True).values_list("pk", "endpoint_id")[:limit * SCAN_FACTOR]
        )
        chosen, taken = [], dict(in_flight)
        for delivery_id, endpoint_id in candidates:
            key = str(endpoint_id)
            if taken.get(key, 0) < cap and len(chosen) < limit:
                taken[key] = taken.get(key, 0) + 1
                chosen.append(delivery_id)
        if not chosen:
            return []
        return _take(chosen, now)


def _in_flight_everywhere(mine: dict[str, int], now: datetime) -> dict[str, int]:
    """Attempts in flight per endpoint: every sender's claimed deliveries whose lease
    is ahead, or this sender's own count where it is higher (a result written but
    its attempt not yet let go)."""
    claimed = (WebhookDelivery.objects.filter(claimed=True, next_attempt_at__gt=now)
               .values_list("endpoint_id").annotate(count=Count("pk")).order_by())
    counts = {str(endpoint_id): count for endpoint_id, count in claimed}
    for endpoint_id, count in mine.items():
        counts[endpoint_id] = max(counts.get(endpoint_id, 0), count)
    return counts


def _take(chosen: list, now: datetime) -> list[Job]:
    rows = WebhookDelivery.objects.filter(pk__in=chosen)
    endpoints = WebhookEndpoint.objects.in_bulk(set(rows.values_list("endpoint_id", flat=True)))
    usable = [pk for pk, endpoint_id in rows.values_list("pk", "endpoint_id")
              if endpoint_id in endpoints and endpoints[endpoint_id].enabled]
    rows.exclude(pk__in=usable).update(status=DeliveryStatus.FAILED, next_attempt_at=None, claimed=False,
                                       last_error="The webhook was disabled before this delivery was sent.")
    WebhookDelivery.objects.filter(pk__in=usable).update(
        attempts=F("attempts") + 1, last_attempt_at=now, claimed=True,
        next_attempt_at=now + timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS),
    )
    jobs = []
    for delivery in WebhookDelivery.objects.filter(pk__in=usable).only(
            "pk", "workspace_id", "endpoint_id", "event_id", "payload", "attempts"):
        endpoint = endpoints[delivery.endpoint_id]
        jobs.append(Job(
            delivery_id=str(delivery.pk), workspace_id=str(delivery.workspace_id),
            endpoint_id=str(delivery.endpoint_id), url=endpoint.url,
            secrets=tuple(signing.signing_secrets(endpoint, now=now)), event_id=str(delivery.event_id),
            payload=delivery.payload, attempts=delivery.attempts,
        ))
    return jobs
