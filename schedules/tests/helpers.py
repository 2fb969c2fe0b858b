"""Shared by the schedule tests: schedules made through the service, then put where
a test needs them with the ORM (a due time in the past, a night of daylight saving)."""

from datetime import datetime

from schedules import services
from schedules.models import Schedule
from workspaces.models import Workspace

NUMBER = "+14155550123"


def call_action(number: str = NUMBER, **extra) -> dict:
    return {"type": "call", "to_number": number, **extra}


def recurring(workspace: Workspace, cron: str = "0 9 * * *", *, due: datetime | None = None,
              **extra) -> Schedule:
    """A recurring schedule (daily by default, so that a test's next run is never
    just past a minute's turn); `due`: its next run is at that time (the past: due now)."""
    action = extra.pop("action", call_action())
    schedule = services.schedule_create(workspace=workspace, cron=cron, action=action, **extra)
    if due is not None:
        Schedule.objects.filter(pk=schedule.pk).update(next_run_at=due)
        schedule.refresh_from_db()
    return schedule


def one_off(workspace: Workspace, run_at: datetime, *, due: datetime | None = None, **extra) -> Schedule:
    """A one-off schedule at `run_at`; `due` moves its time (and run_at) to a past instant."""
    schedule = services.schedule_create(workspace=workspace, run_at=run_at,
                                        action=extra.pop("action", call_action()), **extra)
    if due is not None:
        Schedule.objects.filter(pk=schedule.pk).update(run_at=due, next_run_at=due)
        schedule.refresh_from_db()
    return schedule
