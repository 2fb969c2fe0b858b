"""Reads of schedules and their runs for the REST API and the dashboard
(docs/reference/rest.md#schedules)."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from project.errors import BadRequest, NotFound
from schedules.models import RunOutcome, Schedule, ScheduleRun, ScheduleStatus
from workspaces.models import Workspace
from workspaces.scoping import scoped


def schedule_get(workspace: Workspace, schedule_id) -> Schedule:
    """The workspace's schedule; 404 if it has none by that id."""
    try:
        schedule = scoped(Schedule, workspace).get(pk=schedule_id)
    except (Schedule.DoesNotExist, ValidationError, ValueError):
        raise NotFound("Schedule not found.") from None
    schedule.workspace = workspace
    return schedule


def _one_of(value: str | None, valid: list[str], *, code: str, what: str) -> set[str]:
    wanted = {part.strip() for part in (value or "").split(",") if part.strip()}
    unknown = wanted - set(valid)
    if unknown:
        raise BadRequest(f"{sorted(unknown)[0]!r} is not a {what}.", code=code, details={"valid": valid})
    return wanted


def schedule_list(workspace: Workspace, *, status: str | None = None) -> QuerySet:
    """The workspace's schedules; `status` is one status or a comma list of them."""
    schedules = scoped(Schedule, workspace)
    wanted = _one_of(status, list(ScheduleStatus.values), code="invalid_status", what="schedule status")
    return schedules.filter(status__in=wanted) if wanted else schedules


def run_list(workspace: Workspace, schedule_id, *, outcome: str | None = None) -> QuerySet:
    """The runs of the workspace's schedule (404 for another's), newest first."""
    schedule = schedule_get(workspace, schedule_id)
    runs = scoped(ScheduleRun, workspace).filter(schedule=schedule)
    wanted = _one_of(outcome, list(RunOutcome.values), code="invalid_outcome", what="run outcome")
    return runs.filter(outcome__in=wanted) if wanted else runs
