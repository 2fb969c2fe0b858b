"""Reads of webhooks for the REST API (docs/reference/rest.md#webhooks)."""

from django.db.models import QuerySet

from project.errors import BadRequest
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from workspaces.models import Workspace
from workspaces.scoping import get_scoped_or_404, scoped


def webhook_list(workspace: Workspace) -> QuerySet:
    return scoped(WebhookEndpoint, workspace)


def webhook_get(workspace: Workspace, endpoint_id) -> WebhookEndpoint:
    """The workspace's endpoint; 404 if it has none by that id."""
    endpoint = get_scoped_or_404(WebhookEndpoint, workspace, pk=endpoint_id)
    endpoint.workspace = workspace
    return endpoint


def delivery_list(workspace: Workspace, endpoint_id, *, status: str | None = None) -> QuerySet:
    """The endpoint's delivery log (404 for another workspace's endpoint); `status`
    a status or a comma list of them (400 `invalid_status` for an unknown one)."""
    endpoint = webhook_get(workspace, endpoint_id)
    wanted = {part.strip() for part in (status or "").split(",") if part.strip()}
    unknown = wanted - set(DeliveryStatus.values)
    if unknown:
        raise BadRequest(f"{sorted(unknown)[0]!r} is not a delivery status.", code="invalid_status",
                         details={"valid": DeliveryStatus.values})
    deliveries = scoped(WebhookDelivery, workspace).filter(endpoint=endpoint)
    return deliveries.filter(status__in=wanted) if wanted else deliveries
