"""The runner: due runs are executed exactly once (docs/schedules.md "How runs happen").

The beat sends `schedules.tasks.run_due_schedules` every SCHEDULES_TICK_SECONDS,
from as many beat processes as run, and any worker takes it. A tick works
through the due schedules of every workspace in turn (round-robin, so one
workspace with a thousand due runs delays another's by a few runs, not a
thousand) and handles each in its own transaction:

1. the workspace's event cursor, then the schedule's row lock (the project's lock
   order), and the schedule read again: still active, still due? Another runner
   may have just handled it, and then there is nothing to do;
2. a run missed by more than `misfire_grace_seconds` is recorded `missed` and the
   schedule moves on to its next time, without acting;
3. otherwise the ScheduleRun row is inserted *before* the action runs: it is unique
   per (schedule, scheduled time), so a runner that somehow got past step 1 at the
   same time (a lock that did not hold) fails that insert and acts on nothing;
4. the action runs in a savepoint: its call or campaign start, with their events,
   commits with the run, or is undone and the run records the error;
5. the schedule moves to its next time (a one-off completes or fails) and
   `schedule-executed` (and `schedule-status-changed`) are emitted.

A crash anywhere in a run's transaction undoes all of it, the run row included,
so the next tick runs it (or records it missed): never twice, never lost.
"""

import logging
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from time import monotonic

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from project.errors import ApiError
from project.timestamps import iso_utc
from realtime.emit import emit, hold_cursor
from schedules import actions, timing
from schedules.models import RunOutcome, Schedule, ScheduleRun, ScheduleStatus
from schedules.services import emit_status
from workspaces.models import Workspace
from workspaces.scoping import scoped

logger = logging.getLogger(__name__)

ACTIVE = ScheduleStatus.ACTIVE
TRIM_BATCH = 10_000
TRIM_MAX_BATCHES = 100


def _now() -> datetime:
    return datetime.now(UTC)


def run_due_schedules(*, limit: int | None = None, budget_seconds: float | None = None,
                      now: datetime | None = None) -> int:
    """One tick: handles due runs until none is left, `limit` runs were recorded
    or the time budget is spent. Returns how many runs it recorded. `now` stands
    for the clock (tests walk a schedule through a night of daylight saving)."""
    limit = settings.SCHEDULES_RUNS_PER_TICK if limit is None else limit
    budget = settings.SCHEDULES_TICK_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = monotonic() + budget
    recorded = 0
    while recorded < limit and monotonic() < deadline:
        due = _due_in_turns(now or _now())
        if not due:
            break
        handled_this_pass = 0
        for workspace, schedule_id in due:
            if recorded >= limit or monotonic() >= deadline:
                break
            count = run_if_due(workspace, schedule_id, now=now)
            recorded += count
            handled_this_pass += count
        if not handled_this_pass:  # what is due is another runner's now
            break
    return recorded


def _due_in_turns(now: datetime) -> list[tuple[Workspace, str]]:
    """Due schedules, a few per workspace, interleaved workspace by workspace; the
    workspaces start at a random one so that parallel runners begin apart."""
    per_workspace = settings.SCHEDULES_DUE_PER_WORKSPACE
    # Each workspace's first few, numbered within it: a workspace with thousands due
    # cannot crowd the others out of the batch.
    rows = (
        Schedule.objects.filter(status=ACTIVE, next_run_at__lte=now)
        .annotate(turn=Window(RowNumber(), partition_by=[F("workspace_id")], order_by=F("next_run_at").asc()))
        .filter(turn__lte=per_workspace)
        .order_by("turn", "next_run_at")
        .values_list("workspace_id", "pk")[: per_workspace * settings.SCHEDULES_DUE_WORKSPACES]
    )
    by_workspace: dict = defaultdict(list)
    for workspace_id, schedule_id in rows:
        by_workspace[workspace_id].append(schedule_id)
    if not by_workspace:
        return []
    workspaces = Workspace.objects.in_bulk(list(by_workspace))
    order = list(by_workspace)
    start = random.randrange(len(order))  # noqa: S311 (spreading work, not a secret)
    order = order[start:] + order[:start]
    turns: list[tuple[Workspace, str]] = []
    for turn in range(per_workspace):
        for workspace_id in order:
            ids = by_workspace[workspace_id]
            if turn < len(ids) and workspace_id in workspaces:
                turns.append((workspaces[workspace_id], ids[turn]))
    return turns


def run_if_due(workspace: Workspace, schedule_id, *, now: datetime | None = None) -> int:
    """Handles the schedule's due run, if it still has one; returns the runs recorded."""
    with transaction.atomic():
        hold_cursor(workspace)
        now = now or _now()  # read after the locks: the run's time is when it ran
        schedule = (
            scoped(Schedule, workspace).select_for_update()
            .filter(pk=schedule_id, status=ACTIVE, next_run_at__lte=now).first()
        )
        if schedule is None:
            return 0
        schedule.workspace = workspace
        if now - schedule.next_run_at > timedelta(seconds=schedule.misfire_grace_seconds):
            return _record_missed(schedule, now)
        return _execute(schedule, now)


def _next_time(schedule: Schedule, after: datetime) -> datetime | None:
    return timing.next_run_after(cron=schedule.cron, timezone=schedule.timezone, run_at=schedule.run_at,
                                 after=after)


def _execute(schedule: Schedule, now: datetime) -> int:
    scheduled_for = schedule.next_run_at
    run = ScheduleRun(workspace=schedule.workspace, schedule=schedule, scheduled_for=scheduled_for,
                      executed_at=now, outcome=RunOutcome.EXECUTED)
    try:
        with transaction.atomic():
            run.save(force_insert=True)
    except IntegrityError:
        # Already run: only possible where the row lock did not hold. Move on, act on nothing.
        logger.warning("schedule %s: the run of %s was already recorded", schedule.pk, scheduled_for)
        previous = schedule.status
        schedule.next_run_at = _next_time(schedule, scheduled_for)
        if not schedule.recurring:  # its one run happened: it ends as that run did
            recorded = ScheduleRun.objects.get(schedule=schedule, scheduled_for=scheduled_for)
            executed = recorded.outcome == RunOutcome.EXECUTED
            schedule.status = ScheduleStatus.COMPLETED if executed else ScheduleStatus.FAILED
        schedule.save(update_fields=["next_run_at", "status", "updated_at"])
        if schedule.status != previous:
            emit_status(schedule, previous)
        return 0
    try:
        with transaction.atomic():
            done = actions.perform(schedule.workspace, schedule.action, schedule_id=str(schedule.pk))
        run.call_id, run.campaign_id = done.call_id, done.campaign_id
    except ApiError as error:
        run.outcome = RunOutcome.FAILED
        run.error = {"code": error.code, "message": error.message}
    except Exception:
        logger.exception("schedule %s: the action of the run of %s failed", schedule.pk, scheduled_for)
        run.outcome = RunOutcome.FAILED
        run.error = {"code": "internal_error",
                     "message": "The action failed unexpectedly; see the server's log."}
    run.save(update_fields=["outcome", "call_id", "campaign_id", "error"])

    previous = schedule.status
    schedule.run_count += 1
    schedule.last_run_at = now
    schedule.next_run_at = _next_time(schedule, scheduled_for)
    if not schedule.recurring:
        executed = run.outcome == RunOutcome.EXECUTED
        schedule.status = ScheduleStatus.COMPLETED if executed else ScheduleStatus.FAILED
    schedule.save(update_fields=["run_count", "last_run_at", "next_run_at", "status", "updated_at"])
    emit(schedule.workspace, "schedule-executed", {
        "schedule_id": str(schedule.pk),
        "run_id": str(run.pk),
        "scheduled_for": iso_utc(scheduled_for),
        "executed_at": iso_utc(now),
        "outcome": run.outcome,
        "error": run.error,
        "call_id": run.call_id,
        "campaign_id": run.campaign_id,
        "next_run_at": iso_utc(schedule.next_run_at),
    })
    if schedule.status != previous:
        emit_status(schedule, previous)
    return 1


def _record_missed(schedule: Schedule, now: datetime) -> int:
    """Records the runs the schedule missed (at most SCHEDULES_MISSED_RECORDED; a
    longer outage skips the rest unrecorded) and moves it to its first time that is
    not yet past its grace. A one-off schedule that missed its run fails."""
    grace = timedelta(seconds=schedule.misfire_grace_seconds)
    missed: list[datetime] = []
    moment = schedule.next_run_at
    while moment is not None and now - moment > grace and len(missed) < settings.SCHEDULES_MISSED_RECORDED:
        missed.append(moment)
        moment = _next_time(schedule, moment)
    if moment is not None and now - moment > grace:
        moment = _next_time(schedule, now - grace)
    ScheduleRun.objects.bulk_create(
        [
            ScheduleRun(
                workspace=schedule.workspace, schedule=schedule, scheduled_for=when,
                outcome=RunOutcome.MISSED,
                error={"code": "missed",
                       "message": f"Not run within misfire_grace_seconds ({schedule.misfire_grace_seconds}) "
                                  "of its time: the scheduler was not running or was behind."},
            )
            for when in missed
        ],
        ignore_conflicts=True,
    )
    previous = schedule.status
    schedule.next_run_at = moment
    if moment is None:
        schedule.status = ScheduleStatus.FAILED
    schedule.save(update_fields=["next_run_at", "status", "updated_at"])
    if schedule.status != previous:
        emit_status(schedule, previous)
    return len(missed)


def trim_runs() -> int:
    """Deletes runs older than SCHEDULE_RUN_RETENTION_DAYS, a bounded batch at a time,
    up to TRIM_MAX_BATCHES: the hourly trim keeps up with up to a million runs an hour
    (2,000 every-minute schedules record 120,000), where one batch fell behind for good."""
    cutoff = _now() - timedelta(days=settings.SCHEDULE_RUN_RETENTION_DAYS)
    old = ScheduleRun.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)
    deleted = 0
    for _ in range(TRIM_MAX_BATCHES):
        batch = list(old[:TRIM_BATCH])
        if not batch:
            break
        deleted += ScheduleRun.objects.filter(pk__in=batch).delete()[0]
    return deleted
