"""Every change to webhook endpoints and to their delivery log (docs/webhooks.md).

Endpoints: created with a fresh secret (shown once), updated, deleted, their
secret rotated (the old one signs too for WEBHOOKS_SECRET_GRACE_HOURS). A change
of `enabled` emits `webhook-status-changed` in the same transaction, taken after
the workspace's event cursor (`hold_cursor`: the house order, cursor then rows),
whoever makes it: a user (`manual`) or the sender (`gone`, `failing`;
webhooks/outcomes.py). Deliveries are created by the reaction
(webhooks/reactions.py) and by `webhook_send_test`, written by the sender, sent
again by `webhook_delivery_retry`, and trimmed by age.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from project.errors import Conflict, NotFound
from project.timestamps import iso_utc
from realtime.emit import emit, hold_cursor
from realtime.models import StreamCounter
from realtime.wire import dumps, envelope, new_event_id
from webhooks import filters, safety, signing
from webhooks.filters import ALL
from webhooks.models import (
    DISABLED_BEFORE_SENT,
    OPEN_STATUSES,
    DeliveryStatus,
    DisabledReason,
    WebhookDelivery,
    WebhookEndpoint,
)
from workspaces.models import Workspace
from workspaces.scoping import get_scoped_for_update, scoped

TRIM_BATCH = 2000  # deliveries one trim statement deletes


def _now() -> datetime:
    return datetime.now(UTC)


# --- what the API shows --------------------------------------------------------------------


def endpoint_object(endpoint: WebhookEndpoint, *, secret: str | None = None) -> dict[str, Any]:
    """The endpoint as REST answers it; `secret` only on create and rotate."""
    body = {
        "id": str(endpoint.pk),
        "url": endpoint.url,
        "event_types": ALL if endpoint.event_types is None else endpoint.event_types,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason or None,
        "failing_since": iso_utc(endpoint.failing_since),
        "previous_secret_expires_at": iso_utc(endpoint.previous_secret_expires_at
                                              if endpoint.previous_secret else None),
        "created_at": iso_utc(endpoint.created_at),
        "updated_at": iso_utc(endpoint.updated_at),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def in_flight(delivery: WebhookDelivery, *, now: datetime | None = None) -> bool:
    """Whether a sender is making an attempt at it now: claimed, and the claim's lease
    (next_attempt_at meanwhile) not over. A claim whose sender died is over with its lease."""
    return (delivery.claimed and delivery.status in OPEN_STATUSES and delivery.next_attempt_at is not None
            and delivery.next_attempt_at > (now or _now()))


def delivery_object(delivery: WebhookDelivery) -> dict[str, Any]:
    sending = in_flight(delivery)
    open_ = delivery.status in OPEN_STATUSES and not sending
    return {
        "id": str(delivery.pk),
        "webhook_id": str(delivery.endpoint_id),
        "event_id": str(delivery.event_id),
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "in_flight": sending,
        "response_status_code": delivery.response_status_code,
        "response_body": delivery.response_body,
        "last_error": delivery.last_error or None,
        "duration_ms": delivery.duration_ms,
        "created_at": iso_utc(delivery.created_at),
        "last_attempt_at": iso_utc(delivery.last_attempt_at),
        "next_attempt_at": iso_utc(delivery.next_attempt_at) if open_ else None,
        "delivered_at": iso_utc(delivery.delivered_at),
    }


# --- endpoints ------------------------------------------------------------------------------


def _locked(workspace: Workspace, endpoint_id) -> WebhookEndpoint:
    hold_cursor(workspace)
    return get_scoped_for_update(WebhookEndpoint, workspace, endpoint_id, not_found="Webhook not found.")


def _current_seq(workspace: Workspace) -> int:
    """The workspace's last event cursor; exact while the caller holds it (`hold_cursor`)."""
    counter = StreamCounter.objects.filter(workspace_id=workspace.pk)
    return counter.values_list("last_seq", flat=True).first() or 0


def _emit_status(endpoint: WebhookEndpoint, *, previous_enabled: bool, reason: str) -> None:
    emit(endpoint.workspace, "webhook-status-changed", {
        "webhook_id": str(endpoint.pk), "enabled": endpoint.enabled, "previous_enabled": previous_enabled,
        "reason": reason,
    })


def webhook_create(*, workspace: Workspace, url: str, event_types: list[str] | str = ALL,
                   description: str = "", enabled: bool = True) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (the only time the secret is returned). 400 for
    a bad URL or event type; 409 `too_many_webhooks` past WEBHOOKS_MAX_ENDPOINTS_PER_WORKSPACE."""
    url = safety.clean_url(url)
    stored_types = filters.clean_event_types(event_types)
    limit = settings.WEBHOOKS_MAX_ENDPOINTS_PER_WORKSPACE
    secret = signing.new_secret()
    with transaction.atomic():
        hold_cursor(workspace)  # serialises the count below with the workspace's other writers
        count = scoped(WebhookEndpoint, workspace).count()
        if count >= limit:
            raise Conflict(f"This workspace has {count} webhooks, the most it may have; delete one first.",
                           code="too_many_webhooks", details={"limit": limit})
        endpoint = WebhookEndpoint.objects.create(
            workspace=workspace, url=url, event_types=stored_types, description=description,
            enabled=enabled, disabled_reason="" if enabled else DisabledReason.MANUAL, secret=secret,
            since_seq=_current_seq(workspace),
        )
    return endpoint, secret


def _fail_unsent(endpoint: WebhookEndpoint) -> None:
    """A webhook being disabled: its deliveries not yet sent fail now, so that enabling
    it again sends none of them (only what commits after; the log's Retry sends one).
    One under way is left to its attempt, whose result is recorded as it comes."""
    now = _now()
    unsent = WebhookDelivery.objects.filter(endpoint_id=endpoint.pk, status__in=OPEN_STATUSES)
    under_way = Q(claimed=True, next_attempt_at__gt=now)
    unsent.exclude(under_way).update(status=DeliveryStatus.FAILED, next_attempt_at=None, claimed=False,
                                     last_error=DISABLED_BEFORE_SENT)


def webhook_update(*, workspace: Workspace, endpoint_id, changes: dict[str, Any]) -> WebhookEndpoint:
    """Changes the given fields (`url`, `event_types`, `description`, `enabled`).
    Enabling starts the failure count afresh; disabling fails the deliveries not yet
    sent (`_fail_unsent`); a change of `enabled` emits
    `webhook-status-changed` (reason `manual`)."""
    if "url" in changes:
        changes["url"] = safety.clean_url(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = filters.clean_event_types(changes["event_types"])
    with transaction.atomic():
        endpoint = _locked(workspace, endpoint_id)
        previous_enabled = endpoint.enabled
        for field, value in changes.items():
            setattr(endpoint, field, value)
        if endpoint.enabled != previous_enabled:
            endpoint.disabled_reason = "" if endpoint.enabled else DisabledReason.MANUAL
            endpoint.failing_since = None
            if endpoint.enabled:  # what was committed while it was disabled is not sent
                endpoint.since_seq = _current_seq(workspace)
        endpoint.save()
        if previous_enabled and not endpoint.enabled:
            _fail_unsent(endpoint)
        if endpoint.enabled != previous_enabled:
            _emit_status(endpoint, previous_enabled=previous_enabled, reason=DisabledReason.MANUAL)
    return endpoint


def webhook_delete(*, workspace: Workspace, endpoint_id) -> None:
    """The endpoint and its delivery log; a delivery in flight is not sent again."""
    with transaction.atomic():
        endpoint = _locked(workspace, endpoint_id)
        endpoint.delete()


def webhook_rotate_secret(*, workspace: Workspace, endpoint_id, now: datetime | None = None
                          ) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned this once). The one it replaces keeps signing, beside
    it, for WEBHOOKS_SECRET_GRACE_HOURS; a secret rotated out earlier stops at once."""
    now = now or _now()
    secret = signing.new_secret()
    with transaction.atomic():
        endpoint = _locked(workspace, endpoint_id)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timedelta(hours=settings.WEBHOOKS_SECRET_GRACE_HOURS)
        endpoint.secret = secret
        endpoint.save(update_fields=["previous_secret", "previous_secret_expires_at", "secret", "updated_at"])
    return endpoint, secret


def webhook_disable(*, workspace: Workspace, endpoint_id, reason: str) -> bool:
    """Disabled by the sender (`gone`, `failing`); whether it was enabled. Its
    deliveries not yet sent fail (`_fail_unsent`)."""
    with transaction.atomic():
        endpoint = _locked(workspace, endpoint_id)
        if not endpoint.enabled:
            return False
        endpoint.enabled, endpoint.disabled_reason = False, reason
        endpoint.save(update_fields=["enabled", "disabled_reason", "updated_at"])
        _fail_unsent(endpoint)
        _emit_status(endpoint, previous_enabled=True, reason=reason)
    return True


# --- deliveries -----------------------------------------------------------------------------


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise Conflict("The webhook is disabled; enable it first.", code="webhook_disabled",
                       details={"disabled_reason": endpoint.disabled_reason})


def webhook_send_test(*, workspace: Workspace, endpoint_id) -> WebhookDelivery:
    """A `webhook-test` event for this endpoint only, delivered by the sender like any
    other (signed, retried, logged). 409 `webhook_disabled` when it is disabled."""
    now = _now()
    with transaction.atomic():
        endpoint = _locked(workspace, endpoint_id)
        _require_enabled(endpoint)
        event_id = new_event_id()
        body = envelope(event_id=event_id, type=filters.TEST_EVENT_TYPE, workspace_id=str(workspace.pk),
                        call_id=None, timestamp=now,
                        data={"webhook_id": str(endpoint.pk), "message": "A test event sent on request."})
        return WebhookDelivery.objects.create(
            workspace=workspace, endpoint=endpoint, event_id=event_id, event_type=filters.TEST_EVENT_TYPE,
            payload=dumps(body).decode(), next_attempt_at=now,
        )


def webhook_delivery_retry(*, workspace: Workspace, endpoint_id, delivery_id) -> WebhookDelivery:
    """Sends the delivery again now, whatever its status (a succeeded one too: a
    replay); same body, same `webhook-id`. 409 `webhook_disabled` when the endpoint
    is; 409 `delivery_in_flight` while a sender is making an attempt at it (made due
    now, a second sender would send it at the same time)."""
    with transaction.atomic():
        endpoint = _locked(workspace, endpoint_id)
        _require_enabled(endpoint)
        try:
            delivery = scoped(WebhookDelivery, workspace).select_for_update().get(
                pk=delivery_id, endpoint=endpoint)
        except (WebhookDelivery.DoesNotExist, ValidationError, ValueError):
            raise NotFound("Delivery not found.") from None
        now = _now()
        if in_flight(delivery, now=now):
            raise Conflict("This delivery is being sent now; retry it once that attempt is over.",
                           code="delivery_in_flight", details={"attempts": delivery.attempts})
        delivery.status = DeliveryStatus.RETRYING if delivery.attempts else DeliveryStatus.PENDING
        delivery.next_attempt_at, delivery.claimed = now, False
        delivery.save(update_fields=["status", "next_attempt_at", "claimed"])
    return delivery


def deliveries_trim(*, now: datetime | None = None) -> int:
    """Deletes deliveries older than WEBHOOKS_DELIVERY_RETENTION_DAYS, in bounded
    batches (the beat's task); how many. System-wide: every workspace's alike."""
    cutoff = (now or _now()) - timedelta(days=settings.WEBHOOKS_DELIVERY_RETENTION_DAYS)
    total = 0
    for _ in range(100):  # at most 200,000 rows a run; the next run takes the rest
        batch = list(WebhookDelivery.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)
                     [:TRIM_BATCH])
        if not batch:
            break
        WebhookDelivery.objects.filter(pk__in=batch).delete()
        total += len(batch)
    return total
