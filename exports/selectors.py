"""Reads of exports for the REST API (docs/reference/rest.md#exports)."""

from django.db.models import QuerySet

from exports.models import DataExport, ExportStatus
from project.errors import BadRequest
from workspaces.models import Workspace
from workspaces.scoping import get_scoped_or_404, scoped


def export_get(workspace: Workspace, export_id) -> DataExport:
    """The workspace's export; 404 if it has none by that id."""
    export = get_scoped_or_404(DataExport, workspace, pk=export_id)
    export.workspace = workspace
    return export


def export_list(workspace: Workspace, *, status: str | None = None) -> QuerySet:
    exports = scoped(DataExport, workspace)
    wanted = {part.strip() for part in (status or "").split(",") if part.strip()}
    unknown = wanted - set(ExportStatus.values)
    if unknown:
        raise BadRequest(f"{sorted(unknown)[0]!r} is not an export status.", code="invalid_status",
                         details={"valid": ExportStatus.values})
    return exports.filter(status__in=wanted) if wanted else exports
