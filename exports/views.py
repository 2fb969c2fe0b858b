"""REST endpoints of exports (docs/reference/rest.md#exports). Thin: the work and the
events are in exports.services, the reads in exports.selectors, the links in exports.links."""

from django.http import FileResponse, HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from exports import links, selectors, services
from exports.models import ExportStatus
from exports.schemas import ExportIn, ExportListParams, ExportOut, ExportPage
from project.errors import Conflict, Gone, documented_errors
from project.pagination import PageParams, paginated
from workspaces.auth import READ, WRITE, WorkspaceAuth

router = Router(tags=["exports"])
AUTH_ERRORS = documented_errors(400, 401, 403, 429)  # 429: rate limits (docs/operations.md)
ONE = {**AUTH_ERRORS, **documented_errors(404)}
FILE = {"schema": {"type": "string"}}
DOWNLOAD_OK = {"description": "The file, as an attachment.",
               "content": {"text/csv": FILE, "application/x-ndjson": FILE}}


@router.post("/exports", response={202: ExportOut, **AUTH_ERRORS}, auth=WorkspaceAuth(WRITE))
def export_create(request: HttpRequest, payload: ExportIn):
    """Queues an export of the rows the filters select; a worker writes the file and
    `data-export-status` tells how it goes. A bad filter is the list endpoint's own
    400 (nothing is created); 429 `too_many_exports` while the workspace has
    EXPORTS_MAX_ACTIVE_PER_WORKSPACE exports queued or running."""
    export = services.export_create(workspace=request.auth.workspace, kind=payload.kind,
                                    format=payload.format, filters=payload.filters,
                                    requested_by=request.auth.subject_id)
    return Status(202, services.export_object(export))


@router.get("/exports", response={200: ExportPage, **AUTH_ERRORS}, auth=WorkspaceAuth(READ))
def export_list(request: HttpRequest, filters: Query[ExportListParams], params: Query[PageParams]):
    exports = selectors.export_list(request.auth.workspace, status=filters.status)
    return paginated(exports, params, services.export_object)


@router.get("/exports/{export_id}", response={200: ExportOut, **ONE}, auth=WorkspaceAuth(READ))
def export_detail(request: HttpRequest, export_id: str):
    return services.export_object(selectors.export_get(request.auth.workspace, export_id))


@router.post("/exports/{export_id}/cancel", response={200: ExportOut, **ONE, **documented_errors(409)},
             auth=WorkspaceAuth(WRITE))
def export_cancel(request: HttpRequest, export_id: str):
    """A queued or running export stops (its worker at its next batch, deleting what
    it wrote); 409 `export_not_cancelable` once it has finished."""
    return services.export_object(services.export_cancel(workspace=request.auth.workspace,
                                                         export_id=export_id))


@router.get("/exports/{export_id}/download", response={**ONE, **documented_errors(409, 410)},
            auth=WorkspaceAuth(READ), openapi_extra={"responses": {200: DOWNLOAD_OK}})
def export_download(request: HttpRequest, export_id: str, token: str | None = None):
    """The completed export's file, streamed. `token` is the signed part of
    `download_url`: 410 `download_link_expired` when it is old, 403
    `invalid_download_link` when it does not match. 409 `export_not_ready` before
    the export completes; 410 `export_expired` once its file was deleted."""
    export = selectors.export_get(request.auth.workspace, export_id)
    if token is not None:
        links.check_token(export, token)
    if export.status == ExportStatus.EXPIRED:
        raise Gone("This export's file was deleted after its retention period.", code="export_expired")
    if export.status != ExportStatus.COMPLETED:
        raise Conflict(f"The export is {export.status}; there is no file to download.",
                       code="export_not_ready", details={"status": export.status})
    try:
        file = services.storage().open(export.file_name, "rb")
    except FileNotFoundError:
        raise Gone("This export's file is no longer stored.", code="export_expired") from None
    response = FileResponse(file, as_attachment=True, filename=export.download_name,
                            content_type=export.content_type)
    if export.size_bytes is not None:
        response["Content-Length"] = str(export.size_bytes)
    response["Cache-Control"] = "private, no-store"
    return response
