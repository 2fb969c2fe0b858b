"""Staff tools: workspaces with their members and keys, key revocation."""

from django.contrib import admin, messages

from workspaces import services
from workspaces.models import ApiKey, Membership, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class ApiKeyInline(admin.TabularInline):
    """Read-only: keys are made through the API or createworkspace, where the
    secret can be shown once."""

    model = ApiKey
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "opening_credit", "created_at"]
    search_fields = ["name", "slug", "id", "memberships__user__username"]
    list_filter = ["timezone", "created_at"]
    readonly_fields = ["id", "created_at"]
    inlines = [MembershipInline, ApiKeyInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "workspace", "scopes", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "prefix", "workspace__slug", "workspace__name"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    list_select_related = ["workspace"]
    readonly_fields = ["id", "workspace", "prefix", "scopes", "created_by", "created_at",
                       "last_used_at", "revoked_at"]
    fields = ["name", *readonly_fields]
    actions = ["revoke_selected"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke_selected(self, request, queryset):
        revoked = 0
        for api_key in queryset.select_related("workspace").filter(revoked_at__isnull=True):
            services.api_key_revoke(workspace=api_key.workspace, key_id=api_key.pk)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "workspace__slug"]
    list_select_related = ["user", "workspace"]
    autocomplete_fields = ["user", "workspace"]
