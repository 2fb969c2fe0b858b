"""The sender's claim: due deliveries taken from PostgreSQL for one attempt each
(docs/webhooks.md "How deliveries are sent").

One transaction: the oldest due open deliveries are locked with `FOR UPDATE SKIP
LOCKED` (other senders skip them, nobody waits), at most the endpoint's free
share of WEBHOOKS_CONCURRENCY_PER_ENDPOINT each; their attempt count goes up and
`next_attempt_at` moves to the end of a lease of WEBHOOKS_LEASE_SECONDS. A sender
that dies mid-attempt loses nothing: once the lease is over the delivery is due
again and any sender claims it. Deliveries of a disabled (or deleted) endpoint are
failed instead of claimed."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from webhooks import signing
from webhooks.attempt import Job
from webhooks.models import OPEN_STATUSES, DeliveryStatus, WebhookDelivery, WebhookEndpoint

SCAN_FACTOR = 4  # candidates read per free slot, so that a busy endpoint's backlog leaves room for others


def claim(*, limit: int, in_flight: dict[str, int], now: datetime) -> list[Job]:
    """At most `limit` deliveries to send now; `in_flight` counts this sender's
    attempts per endpoint, which the per-endpoint limit includes."""
    cap = settings.WEBHOOKS_CONCURRENCY_PER_ENDPOINT
    full = [endpoint_id for endpoint_id, count in in_flight.items() if count >= cap]
    with transaction.atomic():
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
