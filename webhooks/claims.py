"""The sender's claim: due deliveries taken from PostgreSQL for one attempt each
(docs/webhooks.md "How deliveries are sent").

One transaction, under a transaction-level advisory lock that orders the
senders' claims (two senders claiming at once cannot both take an endpoint's
last slots): the oldest due open deliveries, at most each endpoint's free share
of WEBHOOKS_CONCURRENCY_PER_ENDPOINT, read per endpoint so that one endpoint's
backlog never fills a claim (`_due`). That share counts the attempts in flight
of every sender (claimed, lease ahead). A claim takes some 20 ms of a 2-core
machine under load; their attempt count goes up and `next_attempt_at` moves to
the end of a lease of WEBHOOKS_LEASE_SECONDS, in one UPDATE that checks again
that each is still open and due. A sender
that dies mid-attempt loses nothing: once the lease is over the delivery is due
again and any sender claims it. Deliveries of a disabled (or deleted) endpoint are
failed instead of claimed."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count

from webhooks import signing
from webhooks.attempt import Job
from webhooks.models import (
    DISABLED_BEFORE_SENT,
    OPEN_STATUSES,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

SCAN_FACTOR = 4  # candidates read per free slot: some belong to endpoints with no slot left
CLAIM_LOCK = 0x77686B73  # pg_advisory_xact_lock's key for the senders' claims ("whks")


@dataclass(frozen=True)
class Claimed:
    jobs: list[Job]
    # Due deliveries were left because their endpoints were at their limit: the sender
    # claims again when one of its attempts ends, rather than after its poll interval.
    held_back: bool


def claim(*, limit: int, in_flight: dict[str, int], finished: dict[str, int], now: datetime) -> Claimed:
    """At most `limit` deliveries to send now. `in_flight` counts this sender's
    attempts under way per endpoint; `finished` its attempts that ended and whose
    results are not written yet (their rows still say claimed, but their
    connections are free). The per-endpoint limit counts every sender's attempts."""
    cap = settings.WEBHOOKS_CONCURRENCY_PER_ENDPOINT
    with transaction.atomic():
        if connection.vendor == "postgresql":  # SQLite serializes every writer anyway
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])
        in_flight = _in_flight_everywhere(in_flight, finished, now)
        full = [endpoint_id for endpoint_id, count in in_flight.items() if count >= cap]
        candidates = _due(limit=limit, cap=cap, full=full, now=now)
        chosen, taken = {}, dict(in_flight)
        for delivery_id, endpoint_id in candidates:
            key = str(endpoint_id)
            if taken.get(key, 0) < cap and len(chosen) < limit:
                taken[key] = taken.get(key, 0) + 1
                chosen[delivery_id] = endpoint_id
        held_back = bool(full) or len(candidates) > len(chosen)
        return Claimed(_take(chosen, now) if chosen else [], held_back)


# Per webhook with open deliveries (found by a skip scan of the index that leads
# with the webhook), its oldest due ones, at most its limit; then the oldest of
# those. One webhook's backlog therefore never fills a claim: with a global scan
# by due time, a failing webhook's thousands of due retries filled every scan, and
# the other webhooks' deliveries waited behind them (docs/PERFORMANCE.md "Webhooks").
_DUE = """
    WITH RECURSIVE busy(endpoint_id) AS (
        (SELECT endpoint_id FROM webhooks_webhookdelivery
         WHERE status IN ('pending', 'retrying') ORDER BY endpoint_id LIMIT 1)
        UNION ALL
        SELECT (SELECT d.endpoint_id FROM webhooks_webhookdelivery d
                WHERE d.status IN ('pending', 'retrying') AND d.endpoint_id > busy.endpoint_id
                ORDER BY d.endpoint_id LIMIT 1)
        FROM busy WHERE busy.endpoint_id IS NOT NULL
    )
    SELECT due.id, due.endpoint_id FROM busy CROSS JOIN LATERAL (
        SELECT d.id, d.endpoint_id, d.next_attempt_at FROM webhooks_webhookdelivery d
        WHERE d.endpoint_id = busy.endpoint_id AND d.status IN ('pending', 'retrying')
          AND d.next_attempt_at <= %s
        ORDER BY d.next_attempt_at LIMIT %s
    ) due
    WHERE busy.endpoint_id IS NOT NULL AND NOT (busy.endpoint_id = ANY(%s::uuid[]))
    ORDER BY due.next_attempt_at LIMIT %s"""


def _due(*, limit: int, cap: int, full: list[str], now: datetime) -> list[tuple]:
    """(delivery id, webhook id) of due open deliveries, oldest first, at most `cap`
    per webhook and none of the `full` webhooks'. Not locked: the senders' claims
    are serialized by the advisory lock, and `_take`'s UPDATE checks again that each
    is still open and due (a user's retry or disable may have come between)."""
    if connection.vendor != "postgresql":  # SQLite, a laptop's `make run`: the same choice, said simply
        due = (WebhookDelivery.objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lte=now)
               .exclude(endpoint_id__in=full))
        rows = []
        for endpoint_id in due.values_list("endpoint_id", flat=True).distinct():
            rows += due.filter(endpoint_id=endpoint_id).order_by("next_attempt_at").values_list(
                "next_attempt_at", "pk", "endpoint_id")[:cap]
        return [(pk, endpoint_id) for _, pk, endpoint_id in sorted(rows)[:limit * SCAN_FACTOR]]
    with connection.cursor() as cursor:
        full_ids = [uuid.UUID(endpoint_id) for endpoint_id in full]
        cursor.execute(_DUE, [now, cap, full_ids, limit * SCAN_FACTOR])
        return cursor.fetchall()


def _in_flight_everywhere(mine: dict[str, int], finished: dict[str, int], now: datetime) -> dict[str, int]:
    """Attempts under way per endpoint: every sender's claimed deliveries whose lease
    is ahead, less this sender's finished ones, or this sender's own count where it
    is higher."""
    claimed = (WebhookDelivery.objects.filter(claimed=True, next_attempt_at__gt=now)
               .values_list("endpoint_id").annotate(count=Count("pk")).order_by())
    counts = {str(endpoint_id): max(0, count - finished.get(str(endpoint_id), 0))
              for endpoint_id, count in claimed}
    for endpoint_id, count in mine.items():
        counts[endpoint_id] = max(counts.get(endpoint_id, 0), count)
    return counts


_TAKE = """
    UPDATE webhooks_webhookdelivery SET attempts = attempts + 1, last_attempt_at = %s, claimed = %s,
           next_attempt_at = %s
    WHERE id IN ({ids}) AND status IN ('pending', 'retrying') AND next_attempt_at <= %s
    RETURNING id, workspace_id, endpoint_id, event_id, payload, attempts"""


def _take(chosen: dict, now: datetime) -> list[Job]:
    """Marks the chosen deliveries as claimed for a lease, and reads what sending them
    needs in the same statement; those of a disabled webhook fail instead."""
    endpoints = WebhookEndpoint.objects.in_bulk(set(chosen.values()))
    usable = [pk for pk, endpoint_id in chosen.items()
              if endpoint_id in endpoints and endpoints[endpoint_id].enabled]
    if len(usable) < len(chosen):
        WebhookDelivery.objects.filter(pk__in=set(chosen) - set(usable)).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, claimed=False,
            last_error=DISABLED_BEFORE_SENT)
    if not usable:
        return []
    secrets = {endpoint_id: tuple(signing.signing_secrets(endpoints[endpoint_id], now=now))
               for endpoint_id in {chosen[pk] for pk in usable}}
    field = WebhookDelivery._meta.get_field("last_attempt_at")
    claimed_at = field.get_db_prep_value(now, connection)
    lease_end = field.get_db_prep_value(now + timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS), connection)
    prep = WebhookDelivery._meta.pk.get_db_prep_value
    with connection.cursor() as cursor:
        cursor.execute(_TAKE.format(ids=", ".join(["%s"] * len(usable))),
                       [claimed_at, True, lease_end, *(prep(pk, connection) for pk in usable), claimed_at])
        rows = cursor.fetchall()
    jobs = []
    for delivery_id, workspace_id, endpoint_id, event_id, payload, attempts in rows:
        endpoint_id = _uuid(endpoint_id)
        jobs.append(Job(
            delivery_id=str(_uuid(delivery_id)), workspace_id=str(_uuid(workspace_id)),
            endpoint_id=str(endpoint_id), url=endpoints[endpoint_id].url, secrets=secrets[endpoint_id],
            event_id=str(_uuid(event_id)), payload=payload, attempts=attempts,
        ))
    return jobs


def _uuid(value) -> uuid.UUID:
    """A UUID as the database returns it (PostgreSQL: a UUID; SQLite: 32 hex digits)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
