"""Staff tools: schedules and their runs, read-only: a schedule changes only through
the schedules services, which emit what changed, and a run is a record of what
happened. Staff pause and resume schedules through those services.
docs/operations.md "Admin" says what staff see and why."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from project.admin_lists import (
    BigTableAdmin,
    ReadOnly,
    TextFilter,
    WorkspaceFilter,
    as_uuid,
    lifecycle_action,
)
from schedules import services
from schedules.models import Schedule, ScheduleRun

ACTION_LIMIT = 100

SCHEDULE_FIELDS = ["id", "workspace", "name", "status", "run_at", "cron", "timezone", "action",
                   "misfire_grace_seconds", "next_run_at", "last_run_at", "run_count", "runs",
                   "created_at", "updated_at"]


@admin.register(Schedule)
class ScheduleAdmin(ReadOnly, BigTableAdmin):
    list_display = ["name", "workspace", "status", "when", "next_run_at", "last_run_at", "run_count"]
    list_filter = ["status", WorkspaceFilter]
    list_select_related = ["workspace"]
    ordering = ["-created_at", "-id"]
    sortable_by = ["created_at"]
    search_fields = ["name", "=id"]
    search_help_text = "Part of the schedule's name, or its id."
    fields = SCHEDULE_FIELDS
    readonly_fields = SCHEDULE_FIELDS
    actions = ["pause", "resume"]

    def has_lifecycle_permission(self, request) -> bool:
        return request.user.has_perm("schedules.change_schedule")

    pause = lifecycle_action(services.schedule_pause, id_name="schedule_id", noun="schedule(s)",
                             limit=ACTION_LIMIT, description="Pause selected schedules", done="Paused")
    resume = lifecycle_action(services.schedule_resume, id_name="schedule_id", noun="schedule(s)",
                              limit=ACTION_LIMIT, description="Resume selected schedules", done="Resumed")

    @admin.display(description="when")
    def when(self, schedule: Schedule) -> str:
        if schedule.recurring:
            return f"{schedule.cron} ({schedule.timezone})"
        return f"once, {schedule.run_at:%Y-%m-%d %H:%M} UTC"

    @admin.display(description="runs")
    def runs(self, schedule: Schedule) -> str:
        url = reverse("admin:schedules_schedulerun_changelist") + f"?schedule={schedule.pk}"
        return format_html('<a href="{}">Its runs</a>', url)

    def get_search_results(self, request, queryset, search_term):
        if as_uuid(search_term) is not None:
            return queryset.filter(pk=as_uuid(search_term)), False
        return queryset.filter(name__icontains=search_term.strip()), False


class ScheduleFilter(TextFilter):
    title = "schedule"
    parameter_name = "schedule"
    placeholder = "schedule id"

    def filtered(self, queryset, value):
        schedule_id = as_uuid(value)
        return queryset.filter(schedule_id=schedule_id) if schedule_id else queryset.none()


@admin.register(ScheduleRun)
class ScheduleRunAdmin(ReadOnly, BigTableAdmin):
    list_display = ["scheduled_for", "schedule", "workspace", "outcome", "executed_at", "lateness", "call",
                    "error_code"]
    list_filter = [ScheduleFilter, "outcome", WorkspaceFilter]
    list_select_related = ["schedule", "workspace"]
    ordering = ["-created_at", "-id"]
    fields = ["id", "workspace", "schedule", "scheduled_for", "executed_at", "outcome", "call", "campaign_id",
              "error", "created_at"]
    readonly_fields = fields

    @admin.display(description="late by")
    def lateness(self, run: ScheduleRun) -> str:
        if run.executed_at is None:
            return "-"
        return f"{(run.executed_at - run.scheduled_for).total_seconds():.1f} s"

    @admin.display(description="call")
    def call(self, run: ScheduleRun) -> str:
        if run.call_id is None:
            return "-"
        url = reverse("admin:calls_call_change", args=[run.call_id])
        return format_html('<a href="{}">{}</a>', url, str(run.call_id)[:8])

    @admin.display(description="error")
    def error_code(self, run: ScheduleRun) -> str:
        return (run.error or {}).get("code", "-")
