"""Staff tools: calls, read-only, with their timeline and a "Hang up" action that
goes through `call_hangup`; the whole timeline of one call; agents, edited
through the agent services. docs/operations.md "Admin" says what staff see and why."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from calls import agents, services
from calls.models import Agent, Call, CallEvent
from project.admin_lists import (
    BigTableAdmin,
    ReadOnly,
    TextFilter,
    WorkspaceFilter,
    act_on_selected,
    as_uuid,
    phone_prefix,
)
from project.errors import ApiError

TIMELINE_LIMIT = 100
HANGUP_LIMIT = 100
# A search by number reads the newest this many calls that match the filters (the
# workspace's, with the workspace filter): no index holds the numbers, as one would
# cost every call's every status change a write, for a rare staff search.
SEARCH_WINDOW = 100_000


class DirectionFilter(admin.SimpleListFilter):
    """Fixed values: the admin's default would list the distinct values (a scan)."""

    title = "direction"
    parameter_name = "direction"

    def lookups(self, request, model_admin):
        return [("outbound", "outbound"), ("inbound", "inbound")]

    def queryset(self, request, queryset):
        return queryset.filter(direction=self.value()) if self.value() else queryset


class CampaignIdFilter(TextFilter):
    title = "campaign id"
    parameter_name = "campaign_id"
    placeholder = "campaign id"

    def filtered(self, queryset, value):
        return queryset.filter(campaign_id=value)


class NewestEventsFormSet(BaseInlineFormSet):
    """The call's newest `TIMELINE_LIMIT` events, oldest first: the end of a long
    call is what staff look for, and a page never holds thousands of rows."""

    def get_queryset(self):
        if not hasattr(self, "_newest"):
            events = super().get_queryset()
            newest = events.order_by("-created_at", "-id").values("pk")[:TIMELINE_LIMIT]
            self._newest = list(events.filter(pk__in=newest).order_by("created_at", "id"))
        return self._newest


class TimelineInline(ReadOnly, admin.TabularInline):
    model = CallEvent
    formset = NewestEventsFormSet
    fields = ["created_at", "type", "timestamp", "data"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = f"timeline (the newest {TIMELINE_LIMIT} events, oldest first)"


CALL_FIELDSETS = [
    (None, {"fields": ["id", "workspace", "status", "direction", "source", "runtime", "to_number",
                       "from_number", "agent", "agent_name", "campaign_id", "schedule_id"]}),
    ("Times and cost", {"fields": ["created_at", "started_at", "answered_at", "ended_at", "duration",
                                   "cost", "escalated_at"]}),
    ("Ending", {"fields": ["end_reason", "failure_code", "failure_reason"]}),
    ("Conversation", {"fields": ["current_node", "variables", "recording_status", "recording_url",
                                 "timeline"]}),
]


@admin.register(Call)
class CallAdmin(ReadOnly, BigTableAdmin):  # calls are placed through the API, the dashboard or a campaign
    """Read-only: a call changes only through the call services, which emit its
    events; the one change staff make, hanging up, is the service's too."""

    list_display = ["created_at", "workspace", "status", "direction", "to_number", "from_number",
                    "agent_name", "campaign_id", "duration", "cost"]
    list_filter = ["status", DirectionFilter, CampaignIdFilter, WorkspaceFilter]
    # The agent by the name it had when the call was placed: no join, and history stays true.
    list_select_related = ["workspace"]
    ordering = ["-created_at", "-id"]
    sortable_by = ["created_at"]
    # The search box needs a name here; get_search_results decides what a term means.
    search_fields = ["to_number", "from_number"]
    search_help_text = (
        "A phone number, whole or its start (+1415…), matched against both numbers of the newest "
        f"{SEARCH_WINDOW:,} calls that match the filters; or a call id."
    )
    fieldsets = CALL_FIELDSETS
    readonly_fields = [name for _, options in CALL_FIELDSETS for name in options["fields"]]
    inlines = [TimelineInline]
    actions = ["hang_up"]

    @admin.display(description="timeline")
    def timeline(self, call: Call) -> str:
        total = call.events.count()
        url = reverse("admin:calls_callevent_changelist") + f"?call={call.pk}"
        if total <= TIMELINE_LIMIT:
            return format_html('{} event(s), all below. <a href="{}">As a list</a>.', total, url)
        return format_html(
            '{} events; below, the newest {}. <a href="{}">All of them, a page at a time</a>.',
            total, TIMELINE_LIMIT, url,
        )

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if (call_id := as_uuid(term)) is not None:
            return queryset.filter(pk=call_id), False
        prefix = phone_prefix(term)
        if prefix is None:
            messages.warning(request, "Search takes a phone number (whole or its start) or a call id.")
            return queryset.none(), False
        matching = queryset.filter(Q(to_number__startswith=prefix) | Q(from_number__startswith=prefix))
        # The creation time of the oldest call in the window, read from the index the
        # filters use; the search then reads that range of it and no more.
        oldest = queryset.order_by("-created_at").values_list("created_at", flat=True)[
            SEARCH_WINDOW - 1 : SEARCH_WINDOW
        ]
        since = next(iter(oldest), None)  # None: fewer calls than the window, all of them
        return (matching if since is None else matching.filter(created_at__gte=since)), False

    def has_hangup_permission(self, request) -> bool:
        return request.user.has_perm("calls.change_call")

    @admin.action(description="Hang up selected calls", permissions=["hangup"])
    def hang_up(self, request, queryset):
        act_on_selected(
            self, request, queryset,
            lambda call: services.call_hangup(workspace=call.workspace, call_id=call.pk),
            limit=HANGUP_LIMIT, done="Hung up", noun="call(s)",
            label=lambda call: f"{call.to_number} ({call.pk})",
        )


class CallFilter(TextFilter):
    title = "call"
    parameter_name = "call"
    placeholder = "call id"
    required = True  # the events table is read one call at a time (its index leads with the call)

    def filtered(self, queryset, value):
        call_id = as_uuid(value)
        return queryset.filter(call_id=call_id) if call_id else queryset.none()


@admin.register(CallEvent)
class CallEventAdmin(ReadOnly, BigTableAdmin):
    """One call's whole timeline, a page at a time (the call's page shows the newest)."""

    list_display = ["created_at", "type", "timestamp", "summary"]
    list_filter = [CallFilter]
    ordering = ["created_at", "id"]
    fields = ["call", "workspace", "event_id", "type", "timestamp", "created_at", "data"]
    readonly_fields = fields
    list_per_page = 100

    @admin.display(description="data")
    def summary(self, event: CallEvent) -> str:
        text = str(event.data)
        return text if len(text) <= 120 else text[:119] + "…"


# What staff may set on an agent: what the API may (is_default stays as the workspace has it).
EDITABLE = ["name", "language", "voice", "max_duration_seconds", "greeting", "nodes", "tools"]
# The form field a service's refusal is about, when its details do not name one.
ERROR_FIELDS = {"invalid_name": "name", "agent_exists": "name"}


class AgentForm(forms.ModelForm):
    """Saved by the agent services, whose checks are the ones that count: they run
    when the form is validated, inside the admin's transaction, so a refusal is
    shown on the form and a success is the save."""

    nodes = forms.JSONField(required=False, help_text="A list of the flow's node names.")
    tools = forms.JSONField(required=False, help_text="A list of tool names.")

    class Meta:
        model = Agent
        fields = ["workspace", *EDITABLE]

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        values = {name: self.cleaned_data.get(name) for name in EDITABLE}
        values = {name: value for name, value in values.items() if value is not None}
        try:
            if self.instance._state.adding:
                self.instance = agents.agent_create(workspace=self.cleaned_data["workspace"], **values)
            else:
                self.instance = agents.agent_update(
                    workspace=self.instance.workspace, agent_id=self.instance.pk, **values
                )
        except ApiError as error:
            field = error.details.get("field") or ERROR_FIELDS.get(error.code)
            self.add_error(field if field in self.fields else None, error.message)


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentForm
    list_display = ["name", "workspace", "language", "voice", "max_duration_seconds", "is_default",
                    "updated_at"]
    list_filter = [WorkspaceFilter, "is_default"]
    search_fields = ["name", "=workspace__slug"]
    list_select_related = ["workspace"]
    show_facets = admin.ShowFacets.NEVER
    autocomplete_fields = ["workspace"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["workspace"] if obj is not None else []  # an agent stays in its workspace
        return [*fixed, "is_default", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        pass  # AgentForm saved it through the service when it was validated

    def has_delete_permission(self, request, obj=None):
        return False  # its calls keep pointing at it; there is no service that removes an agent
