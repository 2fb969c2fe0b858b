"""Staff tools: webhook endpoints and their deliveries, read-only. An endpoint changes
only through webhooks.services (which emit what changed); a delivery is the record
of what was sent. The secrets are never shown (docs/operations.md "Admin")."""

from django.contrib import admin

from project.admin_lists import BigTableAdmin, ReadOnly, WorkspaceFilter, as_uuid
from webhooks.models import WebhookDelivery, WebhookEndpoint

ENDPOINT_FIELDS = ["id", "workspace", "url", "description", "event_types", "enabled", "disabled_reason",
                   "failing_since", "previous_secret_expires_at", "created_at", "updated_at"]
DELIVERY_FIELDS = ["id", "workspace", "endpoint", "event_id", "event_type", "status", "attempts",
                   "next_attempt_at", "response_status_code", "response_body", "last_error", "duration_ms",
                   "created_at", "last_attempt_at", "delivered_at", "payload"]


def _by_id(queryset, search_term):
    if not search_term.strip():
        return queryset, False
    found = as_uuid(search_term)
    return (queryset.filter(pk=found) if found else queryset.none()), False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["created_at", "url", "workspace", "enabled", "disabled_reason", "failing_since"]
    list_filter = ["enabled", "disabled_reason", WorkspaceFilter]
    list_select_related = ["workspace"]
    ordering = ["-created_at", "-id"]
    search_fields = ["=id"]
    search_help_text = "The webhook's id."
    fields = ENDPOINT_FIELDS  # never `secret` nor `previous_secret`
    readonly_fields = ENDPOINT_FIELDS

    def get_search_results(self, request, queryset, search_term):
        return _by_id(queryset, search_term)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnly, BigTableAdmin):
    list_display = ["created_at", "event_type", "endpoint", "workspace", "status", "attempts",
                    "response_status_code", "next_attempt_at"]
    list_filter = ["status", WorkspaceFilter]
    list_select_related = ["workspace", "endpoint"]
    ordering = ["-created_at", "-id"]
    sortable_by = ["created_at"]
    search_fields = ["=id"]
    search_help_text = "The delivery's id."
    fields = DELIVERY_FIELDS
    readonly_fields = DELIVERY_FIELDS

    def get_search_results(self, request, queryset, search_term):
        return _by_id(queryset, search_term)
