"""REST endpoints of webhooks (docs/reference/rest.md#webhooks). Thin: the changes
are in webhooks.services, the reads in webhooks.selectors. Every endpoint needs the
`admin` permission: a webhook sends the workspace's events wherever it points."""

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from project.errors import documented_errors
from project.pagination import PageParams, paginated
from webhooks import selectors, services
from webhooks.schemas import (
    DeliveryListParams,
    DeliveryOut,
    DeliveryPage,
    WebhookIn,
    WebhookOut,
    WebhookPage,
    WebhookPatch,
    WebhookWithSecret,
)
from workspaces.auth import ADMIN, WorkspaceAuth

router = Router(tags=["webhooks"])
AUTH_ERRORS = documented_errors(400, 401, 403, 429)  # 429: rate limits (docs/operations.md)
ONE = {**AUTH_ERRORS, **documented_errors(404)}
AUTH = WorkspaceAuth(ADMIN)


@router.get("/webhooks", response={200: WebhookPage, **AUTH_ERRORS}, auth=AUTH)
def webhook_list(request: HttpRequest, params: Query[PageParams]):
    return paginated(selectors.webhook_list(request.auth.workspace), params, services.endpoint_object)


@router.post("/webhooks", response={201: WebhookWithSecret, **AUTH_ERRORS, **documented_errors(409)},
             auth=AUTH)
def webhook_create(request: HttpRequest, payload: WebhookIn):
    """A new endpoint. The answer holds its signing `secret`, shown this once. 400
    `invalid_webhook_url`, `unknown_event_type`; 409 `too_many_webhooks`."""
    endpoint, secret = services.webhook_create(workspace=request.auth.workspace, **payload.dict())
    return Status(201, services.endpoint_object(endpoint, secret=secret))


@router.get("/webhooks/{webhook_id}", response={200: WebhookOut, **ONE}, auth=AUTH)
def webhook_detail(request: HttpRequest, webhook_id: str):
    return services.endpoint_object(selectors.webhook_get(request.auth.workspace, webhook_id))


@router.patch("/webhooks/{webhook_id}", response={200: WebhookOut, **ONE}, auth=AUTH)
def webhook_update(request: HttpRequest, webhook_id: str, payload: WebhookPatch):
    """Changes the fields sent. `enabled: true` after a disabling starts its failure count afresh."""
    # null means "unchanged", as an absent field: none of the fields may be null.
    changes = {field: value for field, value in payload.dict(exclude_unset=True).items() if value is not None}
    endpoint = services.webhook_update(workspace=request.auth.workspace, endpoint_id=webhook_id,
                                       changes=changes)
    return services.endpoint_object(endpoint)


@router.delete("/webhooks/{webhook_id}", response={204: None, **ONE}, auth=AUTH)
def webhook_delete(request: HttpRequest, webhook_id: str):
    """The endpoint and its delivery log."""
    services.webhook_delete(workspace=request.auth.workspace, endpoint_id=webhook_id)
    return Status(204, None)


@router.post("/webhooks/{webhook_id}/rotate-secret", response={200: WebhookWithSecret, **ONE}, auth=AUTH)
def webhook_rotate_secret(request: HttpRequest, webhook_id: str):
    """A new secret, shown this once. For WEBHOOKS_SECRET_GRACE_HOURS (24) deliveries
    carry a signature by each, so receivers can change over without losing any."""
    endpoint, secret = services.webhook_rotate_secret(workspace=request.auth.workspace,
                                                      endpoint_id=webhook_id)
    return services.endpoint_object(endpoint, secret=secret)


@router.post("/webhooks/{webhook_id}/test", response={202: DeliveryOut, **ONE, **documented_errors(409)},
             auth=AUTH)
def webhook_test(request: HttpRequest, webhook_id: str):
    """Sends a `webhook-test` event to this endpoint through the same path as every
    event; the answer is its delivery, to follow in the log. 409 `webhook_disabled`."""
    delivery = services.webhook_send_test(workspace=request.auth.workspace, endpoint_id=webhook_id)
    return Status(202, services.delivery_object(delivery))


@router.get("/webhooks/{webhook_id}/deliveries", response={200: DeliveryPage, **ONE}, auth=AUTH)
def delivery_list(request: HttpRequest, webhook_id: str, filters: Query[DeliveryListParams],
                  params: Query[PageParams]):
    """The endpoint's delivery log, newest first (kept WEBHOOKS_DELIVERY_RETENTION_DAYS)."""
    deliveries = selectors.delivery_list(request.auth.workspace, webhook_id, status=filters.status)
    return paginated(deliveries, params, services.delivery_object)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
             response={202: DeliveryOut, **ONE, **documented_errors(409)}, auth=AUTH)
def delivery_retry(request: HttpRequest, webhook_id: str, delivery_id: str):
    """Sends this delivery again now (a failed one, or a replay of any other): the
    same body and `webhook-id`. 409 `webhook_disabled`, `delivery_in_flight` (an
    attempt at it is under way)."""
    delivery = services.webhook_delivery_retry(workspace=request.auth.workspace, endpoint_id=webhook_id,
                                               delivery_id=delivery_id)
    return Status(202, services.delivery_object(delivery))
