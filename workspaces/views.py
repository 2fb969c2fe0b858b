"""REST endpoints of the workspace: who am I, SSE tickets, API keys."""

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from project.errors import documented_errors
from project.pagination import PageParams, paginate
from workspaces import services
from workspaces.auth import ADMIN, READ, WorkspaceAuth
from workspaces.models import ApiKey
from workspaces.schemas import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    ApiKeyPage,
    SseTicketOut,
    WorkspaceOut,
)
from workspaces.scoping import scoped
from workspaces.tickets import ticket_issue

router = Router(tags=["workspace"])

# Every endpoint here can answer these besides its own.
AUTH_ERRORS = documented_errors(400, 401, 403, 429)  # 429: rate limits (docs/operations.md)


@router.get("/workspace", response={200: WorkspaceOut, **AUTH_ERRORS}, auth=WorkspaceAuth(READ))
def workspace_detail(request: HttpRequest):
    principal = request.auth
    workspace = principal.workspace
    return {
        "id": workspace.id, "slug": workspace.slug, "name": workspace.name,
        "timezone": workspace.timezone, "role": principal.role, "scopes": principal.scopes,
    }


@router.post("/auth/sse-ticket", response={200: SseTicketOut, **AUTH_ERRORS}, auth=WorkspaceAuth(READ))
def sse_ticket_create(request: HttpRequest):
    ticket = ticket_issue(principal=request.auth)
    return {"ticket": ticket, "expires_in": settings.SSE_TICKET_TTL_SECONDS}


@router.get("/api-keys", response={200: ApiKeyPage, **AUTH_ERRORS}, auth=WorkspaceAuth(ADMIN))
def api_key_list(request: HttpRequest, params: Query[PageParams]):
    keys = scoped(ApiKey, request.auth.workspace)
    return paginate(keys, page_size=params.page_size, page_token=params.page_token)


@router.post("/api-keys", response={201: ApiKeyCreatedOut, **AUTH_ERRORS}, auth=WorkspaceAuth(ADMIN))
def api_key_create(request: HttpRequest, payload: ApiKeyIn):
    issued = services.api_key_create(
        workspace=request.auth.workspace,
        name=payload.name,
        scopes=[scope.value for scope in payload.scopes],
        created_by=request.auth.user,
    )
    body = ApiKeyOut.from_orm(issued.api_key).dict()
    return Status(201, {**body, "key": issued.plaintext})


@router.post(
    "/api-keys/{key_id}/revoke",
    response={200: ApiKeyOut, **AUTH_ERRORS, **documented_errors(404)},
    auth=WorkspaceAuth(ADMIN),
)
def api_key_revoke(request: HttpRequest, key_id: str):
    return services.api_key_revoke(workspace=request.auth.workspace, key_id=key_id)
