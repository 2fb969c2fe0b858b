"""End to end: due runs executed exactly once by real processes, two beats and three
Celery workers on one database, as a deployment with more than one of each runs
them (docs/schedules.md "How runs happen")."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count

from calls.models import Call
from project.testing import beat_process, wait_for, worker_process
from schedules.models import RunOutcome, Schedule, ScheduleRun, ScheduleStatus
from schedules.tests.helpers import call_action, one_off, recurring
from schedules.timing import next_run_after
from workspaces.services import workspace_create

# A tick every 0.15 s on average from the two beats together; nothing plays the calls
# (a runtime outside would), so the workers do the runner's work and little else.
ENV = {"SCHEDULES_TICK_SECONDS": "0.3", "VOICE_RUNTIME": "ingest"}
# About a second of runs: long enough that ticks reach more than one worker while
# the runs are under way, so that the runners do race for the same due schedules
# (with a few runs one worker took them all, and no duplicate could happen).
ONE_OFF_PER_WORKSPACE = 20
RECURRING_PER_WORKSPACE = 2


def _numbers(workspace_index: int, count: int) -> list[str]:
    """Valid San Francisco numbers, distinct across the test's workspaces."""
    return [f"+1415{2_000_000 + 100 * workspace_index + n:07d}" for n in range(count)]


def _workspaces() -> list:
    return [workspace_create(name=f"Runner {n}", slug=f"runner-{n}", opening_credit=Decimal("100.00"))
            for n in range(3)]


def _seed_due_schedules(workspaces: list, *, run_at: datetime, just_now: datetime) -> list[Schedule]:
    """In each workspace one-off schedules due at `run_at`, and recurring every-minute
    ones whose next run is set back to `just_now`: in one transaction, so that the
    runners see them all at once."""
    schedules = []
    with transaction.atomic():
        for index, workspace in enumerate(workspaces):
            numbers = _numbers(index, ONE_OFF_PER_WORKSPACE + RECURRING_PER_WORKSPACE)
            schedules += [one_off(workspace, run_at, action=call_action(number))
                          for number in numbers[:ONE_OFF_PER_WORKSPACE]]
            schedules += [recurring(workspace, "* * * * *", timezone="UTC", due=just_now,
                                    action=call_action(number))
                          for number in numbers[ONE_OFF_PER_WORKSPACE:]]
    return schedules


def _seed_misfired_schedules(workspace, *, now: datetime) -> tuple[Schedule, Schedule]:
    """A one-off and a daily schedule whose times were well past their grace (10 s)
    before any runner started; the daily one's next time is hours away."""
    daily_cron = f"0 {(now.hour + 12) % 24} * * *"
    daily_next = next_run_after(cron=daily_cron, timezone="UTC", run_at=None, after=now)
    missed_one_off = one_off(workspace, now + timedelta(hours=1), due=now - timedelta(minutes=5),
                             misfire_grace_seconds=10, action=call_action("+14155550101"))
    missed_daily = recurring(workspace, daily_cron, timezone="UTC", due=daily_next - timedelta(days=1),
                             misfire_grace_seconds=10, action=call_action("+14155550102"))
    return missed_one_off, missed_daily


def _all_handled(one_offs: list[Schedule], recurring: list[Schedule], misfired: list[Schedule], *,
                 just_now: datetime) -> bool:
    completed = Schedule.objects.filter(pk__in=[s.pk for s in one_offs], status=ScheduleStatus.COMPLETED)
    recurring_ran = ScheduleRun.objects.filter(schedule__in=recurring, scheduled_for=just_now,
                                               outcome=RunOutcome.EXECUTED)
    missed = ScheduleRun.objects.filter(schedule__in=misfired, outcome=RunOutcome.MISSED)
    return (completed.count() == len(one_offs)
            and recurring_ran.values("schedule").distinct().count() == len(recurring)
            and missed.values("schedule").distinct().count() == len(misfired))


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_two_beats_and_three_workers_execute_every_due_run_exactly_once(tmp_path):
    # given three workspaces, and in one of them two schedules that missed their
    # times by far more than their grace before any runner was up
    workspaces = _workspaces()
    start = datetime.now(UTC)
    misfired = list(_seed_misfired_schedules(workspaces[0], now=start))
    one_off_misfired, daily_misfired = misfired
    daily_next_time = daily_misfired.next_run_at + timedelta(days=1)

    with (
        worker_process(tmp_path, env=ENV, name="runner-a"),
        worker_process(tmp_path, env=ENV, name="runner-b"),
        worker_process(tmp_path, env=ENV, name="runner-c"),
        beat_process(tmp_path, env=ENV, name="beat-a"),
        beat_process(tmp_path, env=ENV, name="beat-b"),
    ):
        # and, once the processes run, 60 one-off schedules due two seconds later and 6
        # every-minute ones due just now
        now = datetime.now(UTC)
        schedules = _seed_due_schedules(workspaces, run_at=now + timedelta(seconds=2), just_now=now)
        one_offs = [s for s in schedules if not s.recurring]
        recurring = [s for s in schedules if s.recurring]

        # when the beats tick and the workers take the ticks, until every run is done
        wait_for(lambda: _all_handled(one_offs, recurring, misfired, just_now=now), timeout=30,
                 message=lambda: f"{ScheduleRun.objects.count()} runs recorded")
    # (the `with` has stopped them all: a tick still running when the runs were seen
    # has finished, so a late duplicate of one would be in the database now)

    # then every due run was recorded once: without the schedule's lock a second
    # runner, reading the schedule as still due while the first one's transaction is
    # open, would run it again, and only the unique (schedule, scheduled_for) would
    # stop it; without both, this count is 2 for that run and a second call is placed
    runs = ScheduleRun.objects.filter(schedule__in=schedules)
    per_time = runs.values("schedule", "scheduled_for").annotate(n=Count("id"))
    assert [(row["schedule"], row["scheduled_for"]) for row in per_time if row["n"] > 1] == []
    # and each run placed exactly one call, for its schedule
    executed = runs.filter(outcome=RunOutcome.EXECUTED)
    assert executed.count() == runs.count() >= len(schedules)
    calls = Call.objects.filter(schedule_id__in=[str(s.pk) for s in schedules])
    assert calls.count() == executed.count()
    assert set(calls.values_list("pk", flat=True)) == set(executed.values_list("call_id", flat=True))
    # and every one-off schedule completed after its one run
    for schedule in one_offs:
        schedule.refresh_from_db()
        assert (schedule.status, schedule.run_count, schedule.next_run_at) == ("completed", 1, None)

    # and the misfired schedules were recorded missed and moved on, placing no call
    one_off_misfired.refresh_from_db()
    assert one_off_misfired.status == "failed" and one_off_misfired.next_run_at is None
    daily_misfired.refresh_from_db()
    assert (daily_misfired.status, daily_misfired.next_run_at) == ("active", daily_next_time)
    missed = ScheduleRun.objects.filter(schedule__in=misfired)
    assert set(missed.values_list("outcome", flat=True)) == {"missed"}
    assert sorted(missed.values_list("schedule", flat=True)) == sorted(schedule.pk for schedule in misfired)
    assert not Call.objects.filter(schedule_id__in=[str(schedule.pk) for schedule in misfired]).exists()


BACKLOG_TASKS = 4000


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_backlog_in_the_default_queue_does_not_hold_up_a_due_run(tmp_path):
    # given thousands of tasks waiting in the default queue before any worker is up
    # (what a thousand simulated calls' steps once left), and a schedule due now
    import redis
    from django.conf import settings

    from project.celery import app

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    workspace = _workspaces()[0]
    with app.producer_pool.acquire(block=True) as producer:
        for n in range(BACKLOG_TASKS):
            app.send_task("celery.accumulate", args=[n], producer=producer)
    schedule = one_off(workspace, datetime.now(UTC) + timedelta(minutes=1), due=datetime.now(UTC),
                       action=call_action("+14155550103"))

    # when one worker and one beat start
    try:
        with (worker_process(tmp_path, env=ENV, name="backlogged"),
              beat_process(tmp_path, env=ENV, name="beat")):
            wait_for(lambda: ScheduleRun.objects.filter(schedule=schedule).exists(), timeout=30,
                     message="the due run was not recorded")
            still_waiting = broker.llen("celery")
    finally:
        broker.delete("celery")  # what is left of the backlog is no other test's

    # then the run was recorded while most of the backlog still waited: its tick did not
    # queue behind the backlog (where a tick expires after five ticks, unrun)
    assert ScheduleRun.objects.get(schedule=schedule).outcome == RunOutcome.EXECUTED
    assert still_waiting > 0
