"""REST endpoints of campaigns (docs/reference/rest.md#campaigns). Thin: the work and the
events are in campaigns.services, the reads in campaigns.selectors."""

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from campaigns import selectors, services
from campaigns.schemas import CampaignIn, CampaignListParams, CampaignOut, CampaignPage, CampaignPatch
from project.errors import documented_errors
from project.pagination import PageParams, paginated
from workspaces.auth import READ, WRITE, WorkspaceAuth

router = Router(tags=["campaigns"])
AUTH_ERRORS = documented_errors(400, 401, 403, 429)  # 429: rate limits (docs/operations.md)
ONE = {**AUTH_ERRORS, **documented_errors(404)}
ACTION = {200: CampaignOut, **ONE, **documented_errors(409)}


@router.post("/campaigns", response={201: CampaignOut, **AUTH_ERRORS}, auth=WorkspaceAuth(WRITE))
def campaign_create(request: HttpRequest, payload: CampaignIn):
    """Creates a draft: add contacts, then start it. 400 `unknown_agent`,
    `invalid_phone_number`, `invalid_retry`, ... for a setting that cannot be used."""
    campaign = services.campaign_create(workspace=request.auth.workspace, **payload.dict())
    return Status(201, services.campaign_object(campaign))


@router.get("/campaigns", response={200: CampaignPage, **AUTH_ERRORS}, auth=WorkspaceAuth(READ))
def campaign_list(request: HttpRequest, filters: Query[CampaignListParams], params: Query[PageParams]):
    campaigns = selectors.campaign_list(request.auth.workspace, status=filters.status)
    return paginated(campaigns, params, services.campaign_object)


@router.get("/campaigns/{campaign_id}", response={200: CampaignOut, **ONE}, auth=WorkspaceAuth(READ))
def campaign_detail(request: HttpRequest, campaign_id: str):
    return services.campaign_object(selectors.campaign_get(request.auth.workspace, campaign_id))


@router.patch("/campaigns/{campaign_id}", response=ACTION, auth=WorkspaceAuth(WRITE))
def campaign_update(request: HttpRequest, campaign_id: str, payload: CampaignPatch):
    """Changes a draft's or a paused campaign's settings (409 `campaign_action_not_allowed`
    in any other status)."""
    campaign = services.campaign_update(
        workspace=request.auth.workspace, campaign_id=campaign_id, **payload.dict(exclude_unset=True)
    )
    return services.campaign_object(campaign)


@router.delete(
    "/campaigns/{campaign_id}",
    response={204: None, **ONE, **documented_errors(409)},
    auth=WorkspaceAuth(WRITE),
)
def campaign_delete(request: HttpRequest, campaign_id: str):
    """Deletes a draft and its contacts. A campaign that has started is canceled instead."""
    services.campaign_delete(workspace=request.auth.workspace, campaign_id=campaign_id)
    return Status(204, None)


@router.post("/campaigns/{campaign_id}/start", response=ACTION, auth=WorkspaceAuth(WRITE))
def campaign_start(request: HttpRequest, campaign_id: str):
    """A draft starts: `running`, or `scheduled` until its `start_at`. 409
    `campaign_has_no_contacts` without contacts."""
    return services.campaign_object(
        services.campaign_start(workspace=request.auth.workspace, campaign_id=campaign_id)
    )


@router.post("/campaigns/{campaign_id}/pause", response=ACTION, auth=WorkspaceAuth(WRITE))
def campaign_pause(request: HttpRequest, campaign_id: str):
    """A running or scheduled campaign pauses (`manual`); calls in progress finish."""
    return services.campaign_object(
        services.campaign_pause(workspace=request.auth.workspace, campaign_id=campaign_id)
    )


@router.post(
    "/campaigns/{campaign_id}/resume",
    response={**ACTION, **documented_errors(402)},
    auth=WorkspaceAuth(WRITE),
)
def campaign_resume(request: HttpRequest, campaign_id: str):
    """A paused campaign runs again (or waits, `scheduled`, for its `start_at`). 402
    `insufficient_balance` while a campaign paused for credit still has none."""
    return services.campaign_object(
        services.campaign_resume(workspace=request.auth.workspace, campaign_id=campaign_id)
    )


@router.post("/campaigns/{campaign_id}/cancel", response=ACTION, auth=WorkspaceAuth(WRITE))
def campaign_cancel(request: HttpRequest, campaign_id: str):
    """Ends an unfinished campaign for good: contacts not yet called are `skipped`;
    calls in progress finish."""
    return services.campaign_object(
        services.campaign_cancel(workspace=request.auth.workspace, campaign_id=campaign_id)
    )
