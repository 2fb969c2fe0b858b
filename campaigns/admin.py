"""Staff tools: campaigns, their contacts (one campaign at a time) and the
suppression lists, all read-only: a campaign, a contact and a suppressed number
change only through the campaigns services, which emit what changed. Staff
pause, resume and cancel campaigns, and add and remove suppressed numbers,
through those services. docs/operations.md "Admin" says what staff see and why."""

import contextlib

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from campaigns import contacts, services
from campaigns.models import Campaign, Contact, Suppression
from project.admin_lists import (
    BigTableAdmin,
    ReadOnly,
    TextFilter,
    WorkspaceFilter,
    act_on_selected,
    as_uuid,
    lifecycle_action,
    phone_prefix,
)
from project.errors import ApiError, NotFound

ACTION_LIMIT = 100


CAMPAIGN_FIELDSETS = [
    (None, {"fields": ["id", "workspace", "name", "status", "pause_reason", "agent", "from_number",
                       "contacts", "calls"]}),
    ("Dialing", {"fields": ["max_concurrency", "calls_per_minute", "calling_window", "retry", "start_at"]}),
    ("Progress", {"fields": ["stats", "created_at", "updated_at", "started_at", "completed_at",
                             "next_dial_at", "progress_emitted_at", "progress_due"]}),
]


@admin.register(Campaign)
class CampaignAdmin(ReadOnly, BigTableAdmin):
    list_display = ["name", "workspace", "status", "pause_reason", "agent", "max_concurrency",
                    "progress", "created_at"]
    list_filter = ["status", WorkspaceFilter]
    list_select_related = ["workspace", "agent"]
    ordering = ["-created_at", "-id"]
    sortable_by = ["created_at"]
    # One row per campaign: a name search reads the campaigns table, not the contacts.
    search_fields = ["name", "=id"]
    search_help_text = "Part of the campaign's name, or its id."
    fieldsets = CAMPAIGN_FIELDSETS
    readonly_fields = [name for _, options in CAMPAIGN_FIELDSETS for name in options["fields"]]
    actions = ["pause", "resume", "cancel"]

    def has_lifecycle_permission(self, request) -> bool:
        return request.user.has_perm("campaigns.change_campaign")

    pause = lifecycle_action(services.campaign_pause, id_name="campaign_id", noun="campaign(s)",
                             limit=ACTION_LIMIT, description="Pause selected campaigns", done="Paused")
    resume = lifecycle_action(services.campaign_resume, id_name="campaign_id", noun="campaign(s)",
                              limit=ACTION_LIMIT, description="Resume selected campaigns", done="Resumed")
    cancel = lifecycle_action(services.campaign_cancel, id_name="campaign_id", noun="campaign(s)",
                              limit=ACTION_LIMIT, description="Cancel selected campaigns", done="Canceled")

    @admin.display(description="contacts")
    def progress(self, campaign: Campaign) -> str:
        # The counts as of the last campaign-progress: no read counts the contacts.
        stats = campaign.stats or {}
        return f"{stats.get('total', 0)} · {stats.get('percent', 0)}%"

    @admin.display(description="contacts")
    def contacts(self, campaign: Campaign) -> str:
        url = reverse("admin:campaigns_contact_changelist") + f"?campaign={campaign.pk}"
        return format_html('<a href="{}">{} contact(s)</a>', url, (campaign.stats or {}).get("total", 0))

    @admin.display(description="calls")
    def calls(self, campaign: Campaign) -> str:
        query = f"?campaign_id={campaign.pk}&workspace={campaign.workspace_id}"
        url = reverse("admin:calls_call_changelist") + query
        return format_html('<a href="{}">Its calls</a>', url)

    def get_search_results(self, request, queryset, search_term):
        if as_uuid(search_term) is not None:
            return queryset.filter(pk=as_uuid(search_term)), False
        return queryset.filter(name__icontains=search_term.strip()), False


class CampaignFilter(TextFilter):
    title = "campaign"
    parameter_name = "campaign"
    placeholder = "campaign id"
    required = True  # contacts are read one campaign at a time: every index leads with it

    def filtered(self, queryset, value):
        campaign_id = as_uuid(value)
        return queryset.filter(campaign_id=campaign_id) if campaign_id else queryset.none()


@admin.register(Contact)
class ContactAdmin(ReadOnly, BigTableAdmin):
    list_display = ["phone_number", "campaign", "workspace", "status", "attempts", "outcome",
                    "next_attempt_at", "last_call", "updated_at"]
    list_filter = [CampaignFilter, "status"]
    list_select_related = ["campaign", "workspace"]
    ordering = ["-created_at", "-id"]
    search_fields = ["phone_number"]
    search_help_text = "A phone number, whole or its start (+1415…), in the chosen campaign."
    fields = ["id", "workspace", "campaign", "phone_number", "timezone", "variables", "status", "attempts",
              "outcome", "last_call", "next_attempt_at", "created_at", "updated_at"]
    readonly_fields = fields

    @admin.display(description="last call")
    def last_call(self, contact: Contact) -> str:
        if contact.last_call_id is None:
            return "-"
        url = reverse("admin:calls_call_change", args=[contact.last_call_id])
        return format_html('<a href="{}">{}</a>', url, str(contact.last_call_id)[:8])

    def get_search_results(self, request, queryset, search_term):
        # Within a campaign: the (campaign, phone_number) unique index holds the numbers.
        return number_search(queryset, search_term)


class SuppressionForm(forms.ModelForm):
    """Added by `suppression_add`, whose checks count (the number in E.164, the
    reason's length) and which skips the number's waiting contacts: it runs when
    the form is validated, inside the admin's transaction, so a refusal is shown
    on the form and a success is the save."""

    class Meta:
        model = Suppression
        fields = ["workspace", "phone_number", "reason"]

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            self.instance, _ = contacts.suppression_add(
                workspace=self.cleaned_data["workspace"],
                phone_number=self.cleaned_data["phone_number"],
                reason=self.cleaned_data.get("reason") or "",
            )
        except ApiError as error:
            field = error.details.get("field")
            self.add_error(field if field in self.fields else None, error.message)


@admin.register(Suppression)
class SuppressionAdmin(BigTableAdmin):
    """Added and removed through the suppression services; never edited (remove
    the number and add it again)."""

    form = SuppressionForm
    list_display = ["phone_number", "workspace", "reason", "created_at"]
    list_filter = [WorkspaceFilter]
    list_select_related = ["workspace"]
    # The workspace's id first: the suppression_list index orders it so; a join
    # to order by the workspace's name would sort the whole table.
    ordering = ["workspace_id", "-created_at", "-id"]
    search_fields = ["phone_number"]
    search_help_text = ("A phone number, whole or its start (+1415…); with a workspace chosen, "
                        "its (workspace, number) index answers.")
    autocomplete_fields = ["workspace"]
    actions = ["remove"]

    def get_readonly_fields(self, request, obj=None):
        return ["workspace", "phone_number", "reason", "created_at"] if obj is not None else []

    def get_search_results(self, request, queryset, search_term):
        return number_search(queryset, search_term)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Django's bulk delete lists every row on its confirmation page and deletes
        # them in one query, past the service: "remove" replaces it.
        actions.pop("delete_selected", None)
        return actions

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        pass  # SuppressionForm added it through the service when it was validated

    def delete_model(self, request, obj):
        # Someone may have removed it a moment ago: what was asked for is then done.
        with contextlib.suppress(NotFound):
            _remove(obj)

    @admin.action(description="Remove selected numbers from their suppression lists", permissions=["delete"])
    def remove(self, request, queryset):
        act_on_selected(
            self, request, queryset,
            _remove,
            limit=ACTION_LIMIT, done="Removed", noun="number(s)",
            label=lambda entry: f"{entry.phone_number} ({entry.workspace.slug})",
        )


def _remove(entry: Suppression) -> None:
    contacts.suppression_remove(workspace=entry.workspace, phone_number=entry.phone_number)


def number_search(queryset, search_term: str):
    term = search_term.strip()
    if not term:
        return queryset, False
    prefix = phone_prefix(term)
    if prefix is None:
        return queryset.none(), False
    return queryset.filter(phone_number__startswith=prefix), False
