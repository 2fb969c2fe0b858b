"""Staff tools: exports, read-only: an export is a record of what was asked and
what was written; it changes only through exports.services, which emit what
changed (docs/operations.md "Admin")."""

from django.contrib import admin

from exports.models import DataExport
from project.admin_lists import BigTableAdmin, ReadOnly, WorkspaceFilter, as_uuid

FIELDS = ["id", "workspace", "kind", "format", "filters", "status", "progress", "row_count", "total_rows",
          "size_bytes", "file_name", "error", "requested_by", "created_at", "started_at", "completed_at",
          "expires_at", "heartbeat_at"]


@admin.register(DataExport)
class DataExportAdmin(ReadOnly, BigTableAdmin):
    list_display = ["created_at", "workspace", "kind", "format", "status", "progress", "row_count",
                    "size_bytes", "requested_by", "expires_at"]
    list_filter = ["status", "kind", WorkspaceFilter]
    list_select_related = ["workspace"]
    ordering = ["-created_at", "-id"]
    sortable_by = ["created_at"]
    search_fields = ["=id"]
    search_help_text = "The export's id."
    fields = FIELDS
    readonly_fields = FIELDS

    def get_search_results(self, request, queryset, search_term):
        export_id = as_uuid(search_term)
        return (queryset.filter(pk=export_id) if export_id else queryset.none()), False
