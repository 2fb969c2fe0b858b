"""What the staff admin's lists of big tables share (calls, call events, contacts,
suppressions; docs/operations.md "Admin"), and its actions that call a service.

The admin's defaults are written for small tables: it counts every matching
row, twice; a filter on a field lists its distinct values (a scan); a search is
`LIKE '%x%'` (a scan). Here a count stops at `COUNT_CAP`, a filter on an id or a
workspace is a text box that becomes one indexed equality, and a phone number is
searched by prefix. An action calls a service for each selected row, as the
API would, and reports what the service refused.
"""

import re
import uuid
from collections.abc import Callable

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

from project.errors import ApiError
from workspaces.models import Workspace

COUNT_CAP = 10_000
PHONE_TERM = re.compile(r"\+?\d{1,15}")


class ReadOnly:
    """Nothing is added, changed or deleted here: the rows change only through their
    services (an action may call one)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CappedPaginator(Paginator):
    """Counts at most `COUNT_CAP` rows (`SELECT count(*) FROM (... LIMIT n)`), so a
    list of millions costs a bounded read; pages past the cap are not offered, a
    filter narrows instead. The pagination shows "10000+" (templates/admin/pagination.html)."""

    capped = False

    @cached_property
    def count(self) -> int:
        counted = self.object_list[: COUNT_CAP + 1].count()
        self.capped = counted > COUNT_CAP
        return min(counted, COUNT_CAP)


def phone_prefix(term: str) -> str | None:
    """A search term as the start of an E.164 number ("+1 (415) 555" → "+1415555"),
    or None when it is not one."""
    compact = re.sub(r"[\s().-]", "", term or "")
    if not PHONE_TERM.fullmatch(compact):
        return None
    return "+" + compact.lstrip("+")


def as_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value).strip())
    except (TypeError, ValueError):
        return None


class TextFilter(admin.SimpleListFilter):
    """A filter typed as text (an id, a slug), kept in the query string
    (`?campaign=<id>`), so that it never lists the values of a big table.
    `required`: the list stays empty until one is given (a table that is only
    ever read one parent at a time)."""

    template = "admin/text_filter.html"
    placeholder = ""
    required = False

    def lookups(self, request, model_admin):
        return ()

    def has_output(self) -> bool:
        return True

    def choices(self, changelist):
        hidden = [
            (name, value)
            for name, values in changelist.filter_params.items()
            if name != self.parameter_name
            for value in values
        ]
        yield {
            "value": self.value() or "",
            "hidden": hidden,
            "clear": changelist.get_query_string(remove=[self.parameter_name]),
        }

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        value = (self.value() or "").strip()
        if not value:
            return queryset.none() if self.required else queryset
        return self.filtered(queryset, value)

    def filtered(self, queryset: QuerySet, value: str) -> QuerySet:
        raise NotImplementedError


class WorkspaceFilter(TextFilter):
    """By the workspace's slug or id, resolved first so that the list reads the
    table's index that leads with the workspace."""

    title = "workspace"
    parameter_name = "workspace"
    placeholder = "slug or id"

    def filtered(self, queryset, value):
        workspaces = Workspace.objects.filter(slug=value)
        if as_uuid(value) is not None:
            workspaces = Workspace.objects.filter(pk=as_uuid(value)) | workspaces
        workspace_id = workspaces.values_list("pk", flat=True).first()
        if workspace_id is None:
            return queryset.none()
        return queryset.filter(workspace_id=workspace_id)


class BigTableAdmin(admin.ModelAdmin):
    """The settings every big table's admin shares: a capped count, no total
    count, no facet counts, sorting only by what an index orders."""

    paginator = CappedPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    list_max_show_all = 200
    sortable_by: list[str] = []


def act_on_selected(model_admin, request, queryset: QuerySet, act: Callable, *, limit: int, done: str,
                    noun: str, label: Callable[[object], str]) -> None:
    """Calls `act(row)` (one service call, its own transaction) for each selected row,
    at most `limit` at once; says how many were `done` and, in the service's own
    words, which were refused (an ended call, a finished campaign)."""
    rows = list(queryset.select_related("workspace").order_by("created_at", "id")[: limit + 1])
    if len(rows) > limit:
        model_admin.message_user(
            request, f"Select at most {limit} {noun} at once; nothing was done.", messages.ERROR)
        return
    succeeded, refused = 0, []
    for row in rows:
        try:
            act(row)
        except ApiError as error:
            refused.append(f"{label(row)}: {error.message}")
        else:
            succeeded += 1
    if succeeded:
        model_admin.message_user(request, f"{done} {succeeded} {noun}.", messages.SUCCESS)
    if refused:
        more = f"; and {len(refused) - 5} more" if len(refused) > 5 else ""
        model_admin.message_user(
            request, f"Refused {len(refused)} {noun}: {'; '.join(refused[:5])}{more}", messages.WARNING)


def lifecycle_action(service: Callable, *, id_name: str, noun: str, limit: int, description: str,
                     done: str) -> Callable:
    """An action (a campaign's or a schedule's pause, resume, cancel) that calls
    `service(workspace=row.workspace, <id_name>=row.pk)` for each selected row, offered
    to staff whom the admin's `has_lifecycle_permission` allows. The services take the
    workspace as the API's callers do, so staff go through the same checks and events."""

    @admin.action(description=description, permissions=["lifecycle"])
    def action(model_admin, request, queryset):
        act_on_selected(
            model_admin, request, queryset,
            lambda row: service(workspace=row.workspace, **{id_name: row.pk}),
            limit=limit, done=done, noun=noun, label=lambda row: f"{row.name} ({row.pk})",
        )

    return action
