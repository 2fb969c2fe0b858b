"""Every change to a schedule made by people (docs/schedules.md "Lifecycle"); the
runs themselves are the runner's (schedules/runner.py).

A schedule's status changes only on a schedule locked by `schedule_locked`, which
takes the workspace's event cursor first, the project's lock order (cursor, then
rows); `schedule-status-changed` is emitted in the same transaction. Create,
change, pause, resume and delete are allowed from the statuses in `ACTIONS`;
anything else is 409 `schedule_action_not_allowed` and changes nothing.
"""

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from project.errors import BadRequest, Conflict
from project.timestamps import iso_utc
from realtime.emit import emit, hold_cursor
from schedules import timing
from schedules.actions import action_spec
from schedules.models import (
    DEFAULT_MISFIRE_GRACE_SECONDS,
    MAX_MISFIRE_GRACE_SECONDS,
    Schedule,
    ScheduleRun,
    ScheduleStatus,
)
from workspaces.models import Workspace
from workspaces.scoping import get_scoped_for_update, scoped

ACTIVE, PAUSED = ScheduleStatus.ACTIVE, ScheduleStatus.PAUSED
ACTIONS: dict[str, frozenset[str]] = {
    "update": frozenset({ACTIVE, PAUSED}),
    "pause": frozenset({ACTIVE}),
    "resume": frozenset({PAUSED}),
}
EDITABLE_FIELDS = frozenset({"name", "run_at", "cron", "timezone", "action", "misfire_grace_seconds"})
MAX_NAME_LENGTH = Schedule._meta.get_field("name").max_length


def _now() -> datetime:
    return datetime.now(UTC)



# --- reading and locking ----------------------------------------------------------------


def schedule_locked(workspace: Workspace, schedule_id) -> Schedule:
    """The schedule, locked until the caller's transaction ends, taken after the
    workspace's event cursor; 404 when the workspace has no such schedule."""
    hold_cursor(workspace)
    return get_scoped_for_update(Schedule, workspace, schedule_id, not_found="Schedule not found.")


def upcoming_runs(schedule: Schedule) -> list[datetime]:
    """The next run and the four after it (none unless active)."""
    if schedule.status != ACTIVE or schedule.next_run_at is None:
        return []
    after = timing.upcoming(cron=schedule.cron, timezone=schedule.timezone, run_at=None,
                            after=schedule.next_run_at, count=timing.PREVIEW_RUNS - 1)
    return [schedule.next_run_at, *after]


def schedule_object(schedule: Schedule) -> dict[str, Any]:
    """The schedule as REST returns it (docs/reference/rest.md#schedules)."""
    return {
        "id": str(schedule.pk),
        "name": schedule.name,
        "status": schedule.status,
        "run_at": iso_utc(schedule.run_at),
        "cron": schedule.cron or None,
        "timezone": schedule.timezone,
        "action": schedule.action,
        "next_run_at": iso_utc(schedule.next_run_at),
        "next_runs": [iso_utc(moment) for moment in upcoming_runs(schedule)],
        "last_run_at": iso_utc(schedule.last_run_at),
        "run_count": schedule.run_count,
        "misfire_grace_seconds": schedule.misfire_grace_seconds,
        "created_at": iso_utc(schedule.created_at),
        "updated_at": iso_utc(schedule.updated_at),
    }


def run_object(run: ScheduleRun) -> dict[str, Any]:
    return {
        "id": str(run.pk),
        "schedule_id": str(run.schedule_id),
        "scheduled_for": iso_utc(run.scheduled_for),
        "executed_at": iso_utc(run.executed_at),
        "outcome": run.outcome,
        "call_id": str(run.call_id) if run.call_id else None,
        "campaign_id": str(run.campaign_id) if run.campaign_id else None,
        "error": run.error,
    }


# --- settings ---------------------------------------------------------------------------


def _name(value: Any, action: dict) -> str:
    if value is None:
        if action["type"] == "call":
            return f"Call {action['to_number']}"
        return f"Start campaign {action['campaign_id']}"
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"A schedule's name has 1 to {MAX_NAME_LENGTH} characters.",
                         code="invalid_name", details={"field": "name"})
    return name


def _misfire_grace(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MISFIRE_GRACE_SECONDS:
        raise BadRequest(
            f"`misfire_grace_seconds` must be a whole number from 1 to {MAX_MISFIRE_GRACE_SECONDS}.",
            code="invalid_misfire_grace_seconds",
            details={"field": "misfire_grace_seconds", "min": 1, "max": MAX_MISFIRE_GRACE_SECONDS},
        )
    return value


def _timing(workspace: Workspace, *, run_at, cron, zone, now: datetime) -> dict[str, Any]:
    """`run_at` (one-off) or `cron` + `timezone` (recurring), never both."""
    if (run_at is None) == (cron is None):
        raise BadRequest(
            "A schedule has either `run_at` (once) or `cron` (recurring), not both and not neither.",
            code="invalid_timing",
            details={"field": "cron" if cron is not None else "run_at"},
        )
    zone = timing.time_zone(zone) if zone is not None else workspace.timezone
    if cron is not None:
        cron = timing.cron_expression(cron)
        timing.check_runs_soon(cron, zone, now=now)
        return {"run_at": None, "cron": cron, "timezone": zone}
    return {"run_at": timing.run_at_instant(run_at, now=now), "cron": "", "timezone": zone}


def _first_run(schedule: Schedule, now: datetime) -> datetime | None:
    """When an active schedule runs next: a one-off at its `run_at` (even one passed
    while it was paused: the runner then runs it or records it missed), a recurring
    one at its first time after now."""
    if not schedule.recurring:
        return schedule.run_at
    return timing.next_run_after(cron=schedule.cron, timezone=schedule.timezone, run_at=None, after=now)


def _check_room(workspace: Workspace) -> None:
    limit = settings.SCHEDULES_MAX_PER_WORKSPACE
    live = scoped(Schedule, workspace).filter(status__in=[ACTIVE, PAUSED]).count()
    if live >= limit:
        raise Conflict(
            f"The workspace has {live} active or paused schedules, its most; delete some first.",
            code="schedule_limit_reached",
            details={"schedules": live, "max_schedules": limit},
        )


def emit_status(schedule: Schedule, previous: str | None) -> None:
    emit(schedule.workspace, "schedule-status-changed",
         {"schedule_id": str(schedule.pk), "status": schedule.status, "previous_status": previous})


def schedule_create(
    *,
    workspace: Workspace,
    action: Any,
    name: str | None = None,
    run_at: datetime | None = None,
    cron: str | None = None,
    timezone: str | None = None,
    misfire_grace_seconds: int = DEFAULT_MISFIRE_GRACE_SECONDS,
) -> Schedule:
    """An active schedule, with `schedule-status-changed` (`previous_status` null).
    Without `timezone` a cron expression is read in the workspace's zone; without
    `name` one is made from the action."""
    now = _now()
    with transaction.atomic():
        hold_cursor(workspace)
        when = _timing(workspace, run_at=run_at, cron=cron, zone=timezone, now=now)
        spec = action_spec(workspace, action)
        schedule = Schedule(
            workspace=workspace, status=ACTIVE, name=_name(name, spec), action=spec,
            misfire_grace_seconds=_misfire_grace(misfire_grace_seconds), **when,
        )
        _check_room(workspace)
        schedule.next_run_at = _first_run(schedule, now)
        schedule.save(force_insert=True)
        emit_status(schedule, None)
    return schedule


def _allow(schedule: Schedule, action: str) -> None:
    if schedule.status not in ACTIONS[action]:
        raise Conflict(
            f"A schedule that is {schedule.status} cannot be asked to {action}.",
            code="schedule_action_not_allowed",
            details={"status": schedule.status, "action": action},
        )


def schedule_update(*, workspace: Workspace, schedule_id, **changes) -> Schedule:
    """Changes the given settings of an active or paused schedule (PATCH: one left
    out is kept). Setting `cron` makes a one-off schedule recurring and setting
    `run_at` the reverse; a change of timing works out the next run again, from now."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"a schedule has no setting {sorted(unknown)[0]!r}")
    now = _now()
    with transaction.atomic():
        schedule = schedule_locked(workspace, schedule_id)
        _allow(schedule, "update")
        fields: list[str] = []
        if set(changes) & {"run_at", "cron", "timezone"} == {"timezone"} and not schedule.recurring:
            # A one-off time is an instant: its zone is only how it is shown.
            zone = changes["timezone"]
            schedule.timezone = timing.time_zone(zone) if zone is not None else workspace.timezone
            fields.append("timezone")
        elif {"run_at", "cron", "timezone"} & set(changes):
            if "run_at" in changes or "cron" in changes:
                run_at, cron = changes.get("run_at"), changes.get("cron")
            else:  # only the zone: the timing keeps its kind
                run_at, cron = (None, schedule.cron) if schedule.recurring else (schedule.run_at, None)
            when = _timing(workspace, run_at=run_at, cron=cron,
                           zone=changes.get("timezone", schedule.timezone), now=now)
            # The same timing sent back keeps the next run: worked out again from now, a
            # run due and not yet reached by the runner would be skipped, never recorded.
            if any(getattr(schedule, field) != value for field, value in when.items()):
                for field, value in when.items():
                    setattr(schedule, field, value)
                fields += [*when, "next_run_at"]
                if schedule.status == ACTIVE:
                    schedule.next_run_at = _first_run(schedule, now)
        if "action" in changes:
            schedule.action = action_spec(workspace, changes["action"])
            fields.append("action")
        if "name" in changes:
            schedule.name = _name(changes["name"], schedule.action)
            fields.append("name")
        if "misfire_grace_seconds" in changes:
            schedule.misfire_grace_seconds = _misfire_grace(changes["misfire_grace_seconds"])
            fields.append("misfire_grace_seconds")
        if fields:
            schedule.save(update_fields=[*fields, "updated_at"])
    return schedule


def schedule_set_status(schedule: Schedule, status: str, *, now: datetime) -> Schedule:
    """Moves a locked schedule to `status` and emits `schedule-status-changed`; the
    next run is worked out again when it becomes active, and cleared otherwise."""
    previous = schedule.status
    schedule.status = status
    schedule.next_run_at = _first_run(schedule, now) if status == ACTIVE else None
    schedule.save(update_fields=["status", "next_run_at", "updated_at"])
    emit_status(schedule, previous)
    return schedule


def schedule_pause(*, workspace: Workspace, schedule_id) -> Schedule:
    """active → paused: no run happens until it is resumed, and none is recorded missed."""
    with transaction.atomic():
        schedule = schedule_locked(workspace, schedule_id)
        _allow(schedule, "pause")
        return schedule_set_status(schedule, PAUSED, now=_now())


def schedule_resume(*, workspace: Workspace, schedule_id) -> Schedule:
    """paused → active. A recurring schedule runs next at its first time after now (the
    times it was paused through are skipped); a one-off one at its `run_at`, so one
    resumed more than `misfire_grace_seconds` after it is recorded missed."""
    with transaction.atomic():
        schedule = schedule_locked(workspace, schedule_id)
        _allow(schedule, "resume")
        return schedule_set_status(schedule, ACTIVE, now=_now())


def schedule_delete(*, workspace: Workspace, schedule_id) -> None:
    """Deletes a schedule and its runs in any status; calls it placed keep its id."""
    with transaction.atomic():
        schedule = schedule_locked(workspace, schedule_id)
        schedule.delete()


def schedule_preview(*, workspace: Workspace, cron: str | None = None, run_at: datetime | None = None,
                     timezone: str | None = None) -> dict[str, Any]:
    """The next times a schedule with this timing would run, before it is saved."""
    now = _now()
    when = _timing(workspace, run_at=run_at, cron=cron, zone=timezone, now=now)
    runs = timing.upcoming(cron=when["cron"], timezone=when["timezone"], run_at=when["run_at"], after=now)
    return {"cron": when["cron"] or None, "run_at": iso_utc(when["run_at"]), "timezone": when["timezone"],
            "next_runs": [iso_utc(moment) for moment in runs]}
