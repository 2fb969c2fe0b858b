"""How webhooks learn of committed events: the reaction "webhooks" (registered in
webhooks/apps.py; docs/architecture.md "Reacting to committed events").

It wants every persisted workspace event type. For each batch it creates one
WebhookDelivery per event and matching enabled endpoint (created, or enabled
again, before the event committed), in the round's
transaction, so the deliveries commit exactly once with the cursor's advance;
`ignore_conflicts` on the (endpoint, event) constraint makes a batch handed over
again create nothing twice. The sender (webhooks/sender.py) sends them."""

from django.core import checks
from django.utils import timezone

from realtime import reactions
from realtime.wire import dumps
from webhooks.filters import deliverable_types, wants
from webhooks.models import WebhookDelivery, WebhookEndpoint
from workspaces.models import Workspace
from workspaces.scoping import scoped

NAME = "webhooks"


def react(workspace: Workspace, events: list[dict]) -> None:
    endpoints = list(scoped(WebhookEndpoint, workspace).filter(enabled=True)
                     .only("pk", "event_types", "since_seq"))
    if not endpoints:
        return
    now = timezone.now()
    deliveries = []
    for event in events:
        body = None
        for endpoint in endpoints:
            if event["seq"] <= endpoint.since_seq or not wants(endpoint.event_types, event["type"]):
                continue
            if body is None:  # the envelope as the streams carry it, encoded once for every endpoint
                body = dumps({key: value for key, value in event.items() if key != "seq"}).decode()
            deliveries.append(WebhookDelivery(
                workspace_id=workspace.pk, endpoint_id=endpoint.pk, event_id=event["event_id"],
                event_type=event["type"], payload=body, next_attempt_at=now,
            ))
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=1000)


def register() -> None:
    """Called from `ready()`, after every app that registers event types (INSTALLED_APPS order)."""
    reactions.register(NAME, types=frozenset(deliverable_types()), handler=react)


def check_types(app_configs=None, **kwargs) -> list[checks.Error]:
    """A system check: the reaction wants every workspace type, so a type registered by
    an app readied after webhooks (which would never be delivered) fails loudly."""
    registered = next((reaction for reaction in reactions.registered() if reaction.name == NAME), None)
    missing = sorted(set(deliverable_types()) - (registered.types if registered else set()))
    if not missing:
        return []
    return [checks.Error(f"webhooks would never deliver {', '.join(missing)}",
                         hint="Put `webhooks` after every app that registers event types in INSTALLED_APPS.",
                         id="webhooks.E001")]
