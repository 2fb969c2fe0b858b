"""Staff tools: notifications, read-only: a notification is the record of something
that happened, raised by the reaction (notifications/services.py), and its read state
belongs to its readers. docs/operations.md "Admin" says what staff see and why."""

from django.contrib import admin

from notifications.models import Notification
from project.admin_lists import BigTableAdmin, ReadOnly, WorkspaceFilter, as_uuid

FIELDS = ["id", "workspace", "kind", "severity", "title", "body", "subject_type", "subject_id",
          "source_event_id", "readers", "created_at"]


@admin.register(Notification)
class NotificationAdmin(ReadOnly, BigTableAdmin):
    list_display = ["created_at", "title", "workspace", "kind", "severity", "subject"]
    list_filter = ["kind", "severity", WorkspaceFilter]
    list_select_related = ["workspace"]
    ordering = ["-created_at", "-id"]
    sortable_by = ["created_at"]
    search_fields = ["=id"]
    search_help_text = "The notification's id (a title search would scan the table)."
    fields = FIELDS
    readonly_fields = FIELDS

    @admin.display(description="subject")
    def subject(self, notification: Notification) -> str:
        if not notification.subject_type:
            return "-"
        return f"{notification.subject_type} {notification.subject_id[:8]}"

    @admin.display(description="read by")
    def readers(self, notification: Notification) -> int:
        return notification.reads.count()

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        if as_uuid(search_term) is not None:
            return queryset.filter(pk=as_uuid(search_term)), False
        return queryset.none(), False
