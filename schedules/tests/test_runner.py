"""The runner (docs/schedules.md "How runs happen"): a due run executes exactly once,
a run missed by more than its grace is recorded `missed` and not executed late, a
failing action records its error, and daylight saving neither skips nor doubles a
run. The same rules with real beat and worker processes: test_runner_processes.py."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from billing import services as billing
from calls.models import Agent, Call
from campaigns import services as campaigns
from campaigns.models import Campaign
from campaigns.tests.lifecycle_helpers import add_contacts
from project.testing import at_once, emitted
from schedules import runner, timing
from schedules.models import Schedule, ScheduleRun
from schedules.tests.helpers import call_action, one_off, recurring

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _calls_are_recorded_not_placed(settings):
    settings.VOICE_RUNTIME = "ingest"


def now() -> datetime:
    return datetime.now(UTC)


def runs_of(schedule) -> list[tuple]:
    rows = ScheduleRun.objects.filter(schedule=schedule).order_by("scheduled_for")
    return [(run.scheduled_for, run.outcome) for run in rows]


# --- exactly once -------------------------------------------------------------------------


def test_a_due_one_off_schedule_places_its_call_once_and_completes(workspace):
    # given a one-off schedule that was due two seconds ago
    due = now() - timedelta(seconds=2)
    ada = call_action(variables={"first_name": "Ada"})
    schedule = one_off(workspace, now() + MINUTE, due=due, action=ada)

    # when the runner ticks twice
    first, second = runner.run_due_schedules(), runner.run_due_schedules()

    # then one run was executed, its call carries the schedule, and the schedule completed
    assert (first, second) == (1, 0)
    run = ScheduleRun.objects.get(schedule=schedule)
    call = Call.objects.get(schedule_id=str(schedule.pk))
    assert (run.outcome, run.scheduled_for, run.call_id) == ("executed", due, call.pk)
    assert (call.source, call.variables, call.to_number) == ("schedule", ada["variables"], ada["to_number"])
    schedule.refresh_from_db()
    assert (schedule.status, schedule.run_count, schedule.next_run_at) == ("completed", 1, None)
    executed = emitted(workspace, "schedule-executed")
    assert [(e["outcome"], e["call_id"], e["run_id"], e["next_run_at"]) for e in executed] == [
        ("executed", str(call.pk), str(run.pk), None)
    ]
    assert [(e["previous_status"], e["status"]) for e in emitted(workspace, "schedule-status-changed")] == [
        (None, "active"), ("active", "completed")
    ]


def test_a_recurring_schedule_moves_on_to_its_next_time(workspace):
    # given every 15 minutes, due at the last quarter hour
    last_quarter = now().replace(minute=now().minute // 15 * 15, second=0, microsecond=0)
    schedule = recurring(workspace, "*/15 * * * *", due=last_quarter)

    # when the runner ticks ten seconds after it
    runner.run_due_schedules(now=last_quarter + timedelta(seconds=10))

    # then it ran for that quarter and waits for the next one, still active
    schedule.refresh_from_db()
    assert runs_of(schedule) == [(last_quarter, "executed")]
    assert (schedule.status, schedule.next_run_at) == ("active", last_quarter + timedelta(minutes=15))
    next_run_at = emitted(workspace, "schedule-executed")[0]["next_run_at"]
    assert datetime.fromisoformat(next_run_at) == schedule.next_run_at


def test_a_run_already_recorded_is_never_acted_on_again(workspace):
    # given a run recorded for the schedule's due time while the schedule still points at it
    # (what a second runner would see if the row lock did not hold)
    due = now() - timedelta(seconds=5)
    schedule = recurring(workspace, due=due)
    ScheduleRun.objects.create(workspace=workspace, schedule=schedule, scheduled_for=due, outcome="executed",
                               executed_at=due)

    # when the runner ticks
    runner.run_due_schedules()

    # then the unique run stopped it: no second run, no call; the schedule moved on
    assert runs_of(schedule) == [(due, "executed")]
    assert not Call.objects.exists()
    schedule.refresh_from_db()
    assert schedule.next_run_at > due


def test_the_database_refuses_a_second_run_for_the_same_time(workspace):
    # given a recorded run
    due = now()
    schedule = recurring(workspace)
    ScheduleRun.objects.create(workspace=workspace, schedule=schedule, scheduled_for=due, outcome="executed")

    # when another is inserted for the same time, then the constraint refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        ScheduleRun.objects.create(workspace=workspace, schedule=schedule, scheduled_for=due,
                                   outcome="executed")


@pytest.mark.django_db(transaction=True)
def test_runners_at_the_same_moment_execute_a_due_run_once(workspace):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent transactions and row locks")
    # given ten schedules due now
    due = now() - timedelta(seconds=1)
    schedules = [recurring(workspace, due=due, action=call_action(f"+1415555{n:04d}")) for n in range(10)]

    # when four runners tick at the same moment
    recorded = at_once(runner.run_due_schedules, 4)

    # then each schedule ran once between them, with one call each
    assert sum(recorded) == 10
    for schedule in schedules:
        assert runs_of(schedule) == [(due, "executed")]
    assert Call.objects.count() == 10


def test_a_busy_workspace_does_not_hold_up_another(workspace, other_workspace, settings):
    # given thirty due schedules in one workspace, due first, and one in another; a pass takes
    # five of each of at most two workspaces: ten rows, fewer than the busy one has due
    settings.SCHEDULES_DUE_PER_WORKSPACE = 5
    settings.SCHEDULES_DUE_WORKSPACES = 2
    due = now() - timedelta(seconds=30)
    for n in range(30):
        recurring(workspace, due=due, action=call_action(f"+1415555{n:04d}"))
    theirs = recurring(other_workspace, due=now() - timedelta(seconds=1))

    # when a tick may record only three runs
    runner.run_due_schedules(limit=3)

    # then the other workspace's run is among them: workspaces take turns
    assert runs_of(theirs)[0][1] == "executed"


# --- misfire ------------------------------------------------------------------------------


def test_a_one_off_run_later_than_its_grace_is_recorded_missed_and_fails(workspace):
    # given a one-off schedule with a 60 s grace whose time was 61 s ago (the scheduler was down)
    due = now() - timedelta(seconds=61)
    schedule = one_off(workspace, now() + MINUTE, due=due, misfire_grace_seconds=60)

    # when the runner ticks
    runner.run_due_schedules()

    # then the run is missed, nothing was called, and the schedule failed
    assert runs_of(schedule) == [(due, "missed")]
    assert ScheduleRun.objects.get(schedule=schedule).error["code"] == "missed"
    assert not Call.objects.exists()
    schedule.refresh_from_db()
    assert (schedule.status, schedule.run_count, schedule.next_run_at) == ("failed", 0, None)
    assert emitted(workspace, "schedule-executed") == []
    assert emitted(workspace, "schedule-status-changed")[-1]["status"] == "failed"


def test_a_run_within_its_grace_still_executes(workspace):
    # given a 60 s grace and a time 50 s ago
    schedule = one_off(workspace, now() + MINUTE, due=now() - timedelta(seconds=50), misfire_grace_seconds=60)

    # when the runner ticks, then it runs
    runner.run_due_schedules()
    assert runs_of(schedule)[0][1] == "executed"


def test_a_recurring_schedule_records_each_missed_time_and_runs_what_is_still_in_grace(workspace):
    # given every minute, a 60 s grace, and a scheduler back after ten minutes
    back = now().replace(second=0, microsecond=0)
    down_since = back - 10 * MINUTE
    schedule = recurring(workspace, "* * * * *", due=down_since, misfire_grace_seconds=60)

    # when the runner ticks at that minute
    runner.run_due_schedules(now=back)

    # then the nine times past their grace are missed; the one a minute ago and this minute's run
    missed = [down_since + n * MINUTE for n in range(9)]
    assert runs_of(schedule) == [*[(at, "missed") for at in missed], (back - MINUTE, "executed"),
                                 (back, "executed")]
    assert Call.objects.count() == 2
    schedule.refresh_from_db()
    assert (schedule.status, schedule.next_run_at, schedule.run_count) == ("active", back + MINUTE, 2)


def test_a_long_outage_records_a_bounded_number_of_missed_runs(workspace, settings):
    # given every minute, down for a day, and at most 3 missed runs recorded
    settings.SCHEDULES_MISSED_RECORDED = 3
    back = now().replace(second=0, microsecond=0)
    schedule = recurring(workspace, "* * * * *", due=back - timedelta(days=1), misfire_grace_seconds=30)

    # when the runner ticks
    runner.run_due_schedules(now=back)

    # then three are recorded, the rest skipped, and it runs this minute's time
    outcomes = [outcome for _, outcome in runs_of(schedule)]
    assert outcomes == ["missed"] * 3 + ["executed"]
    schedule.refresh_from_db()
    assert schedule.next_run_at == back + MINUTE


def test_an_outage_that_ends_in_the_repeated_hour_moves_on_to_a_time_still_ahead(workspace, settings):
    # given a daily 01:30 in New York with an hour's grace, at most one missed run recorded, and a
    # scheduler down from 2026-10-30 until 02:20 EST on the fall-back night (07:20 UTC): an hour's
    # grace back from then is 01:20 EST, in the second pass through the repeated hour
    settings.SCHEDULES_MISSED_RECORDED = 1
    down_since = datetime(2026, 10, 30, 5, 30, tzinfo=UTC)
    schedule = recurring(workspace, "30 1 * * *", timezone="America/New_York", misfire_grace_seconds=3600,
                         due=down_since)

    # when the runner ticks as it comes back
    runner.run_due_schedules(now=datetime(2026, 11, 1, 7, 20, tzinfo=UTC))

    # then one missed run is recorded and the rest skipped, and the next run is the next day's 01:30
    # (EST), not that night's 01:30 EDT (05:30 UTC), already past its grace
    assert runs_of(schedule) == [(down_since, "missed")]
    schedule.refresh_from_db()
    assert schedule.next_run_at == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


# --- failures -----------------------------------------------------------------------------


def test_a_call_whose_agent_is_gone_fails_with_its_error(workspace):
    # given a one-off call by an agent that was deleted after the schedule was saved
    Agent.objects.create(workspace=workspace, name="night-shift")
    schedule = one_off(workspace, now() + MINUTE, due=now(), action=call_action(agent="night-shift"))
    Agent.objects.filter(workspace=workspace, name="night-shift").delete()

    # when it runs
    runner.run_due_schedules()

    # then the run failed with the call service's error, no call exists, and the schedule failed
    run = ScheduleRun.objects.get(schedule=schedule)
    assert (run.outcome, run.error["code"], run.call_id) == ("failed", "unknown_agent", None)
    assert not Call.objects.exists()
    schedule.refresh_from_db()
    assert (schedule.status, schedule.run_count) == ("failed", 1)
    executed = emitted(workspace, "schedule-executed")[0]
    assert (executed["outcome"], executed["error"]["code"]) == ("failed", "unknown_agent")
    assert executed["call_id"] is None
    assert emitted(workspace, "call-created") == []


def test_a_call_without_credit_fails_and_a_recurring_schedule_carries_on(workspace):
    # given no credit left, and a recurring call due
    billing.adjust(workspace=workspace, amount=Decimal("-100"), reason="test: spent", actor="staff:test")
    schedule = recurring(workspace, due=now() - timedelta(seconds=1))

    # when it runs
    runner.run_due_schedules()

    # then the run failed for the credit, and the schedule stays active for its next time
    run = ScheduleRun.objects.get(schedule=schedule)
    assert (run.outcome, run.error["code"]) == ("failed", "insufficient_balance")
    schedule.refresh_from_db()
    assert (schedule.status, schedule.run_count) == ("active", 1) and schedule.next_run_at > now()


def test_a_campaign_action_starts_the_draft_and_a_second_start_fails(workspace):
    # given a draft campaign with contacts, and a schedule that starts it every minute
    campaign = campaigns.campaign_create(workspace=workspace, name="Renewals")
    add_contacts(campaign, "pending")
    schedule = recurring(workspace, due=now() - timedelta(seconds=1),
                         action={"type": "campaign", "campaign_id": str(campaign.pk)})

    # when it runs, and runs again a minute later
    runner.run_due_schedules()
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=now())
    runner.run_due_schedules()

    # then the first run started the campaign; the second found it running and failed
    first, second = ScheduleRun.objects.filter(schedule=schedule).order_by("scheduled_for")
    assert (first.outcome, first.campaign_id) == ("executed", campaign.pk)
    assert (second.outcome, second.error["code"]) == ("failed", "campaign_action_not_allowed")
    assert Campaign.objects.get(pk=campaign.pk).status == "running"


def test_a_paused_schedule_does_not_run(workspace):
    # given a due schedule, paused
    from schedules import services

    schedule = recurring(workspace, due=now() - timedelta(seconds=1))
    services.schedule_pause(workspace=workspace, schedule_id=schedule.pk)

    # when the runner ticks, then nothing runs
    assert runner.run_due_schedules() == 0
    assert not ScheduleRun.objects.exists()


# --- daylight saving, through the runner --------------------------------------------------


def walk_the_clock(start: str, end: str, step=timedelta(minutes=5)) -> None:
    """Ticks the runner every `step` of a stretch of (UTC) time, as a beat would."""
    moment = datetime.fromisoformat(start).replace(tzinfo=UTC)
    stop = datetime.fromisoformat(end).replace(tzinfo=UTC)
    for _ in range(2000):
        if moment > stop:
            return
        runner.run_due_schedules(now=moment)
        moment += step
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize(
    ("cron", "zone", "night", "expected"),
    [
        # New York falls back on 2026-11-01: 01:30 happens at 05:30 and 06:30 UTC; once
        ("30 1 * * *", "America/New_York", ("2026-10-31T12:00", "2026-11-01T12:00"), ["2026-11-01T05:30"]),
        # Berlin falls back on 2026-10-25: 02:30 happens at 00:30 and 01:30 UTC; once
        ("30 2 * * *", "Europe/Berlin", ("2026-10-24T12:00", "2026-10-25T12:00"), ["2026-10-25T00:30"]),
        # New York springs forward on 2026-03-08: 02:30 does not exist; at 03:00 EDT
        ("30 2 * * *", "America/New_York", ("2026-03-07T12:00", "2026-03-08T12:00"), ["2026-03-08T07:00"]),
        # Berlin springs forward on 2026-03-29: 02:30 does not exist; at 03:00 CEST
        ("30 2 * * *", "Europe/Berlin", ("2026-03-28T12:00", "2026-03-29T12:00"), ["2026-03-29T01:00"]),
    ],
    ids=["new-york-falls-back", "berlin-falls-back", "new-york-springs-forward", "berlin-springs-forward"],
)
def test_a_daily_schedule_runs_once_through_a_night_of_daylight_saving(workspace, cron, zone, night,
                                                                       expected):
    # given a daily schedule whose next time is worked out from the day before the change
    start, end = night
    schedule = recurring(workspace, cron, timezone=zone)
    first = timing.next_run_after(cron=cron, timezone=zone, run_at=None,
                                  after=datetime.fromisoformat(start).replace(tzinfo=UTC))
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=first)

    # when the runner ticks every five minutes through that night
    walk_the_clock(start, end)

    # then it ran once, at the expected instant, and nothing was missed
    assert runs_of(schedule) == [(datetime.fromisoformat(at).replace(tzinfo=UTC), "executed")
                                 for at in expected]
    assert Call.objects.count() == 1


# --- keeping runs -------------------------------------------------------------------------


def test_runs_older_than_the_retention_are_deleted(workspace, settings):
    # given a run from 91 days ago and one from today, with 90 days kept
    settings.SCHEDULE_RUN_RETENTION_DAYS = 90
    schedule = recurring(workspace)
    old = ScheduleRun.objects.create(workspace=workspace, schedule=schedule,
                                     scheduled_for=now() - timedelta(days=91), outcome="executed")
    ScheduleRun.objects.filter(pk=old.pk).update(created_at=now() - timedelta(days=91))
    ScheduleRun.objects.create(workspace=workspace, schedule=schedule, scheduled_for=now(),
                               outcome="executed")

    # when they are trimmed, then only today's is left
    assert runner.trim_runs() == 1
    assert [outcome for _, outcome in runs_of(schedule)] == ["executed"]


def test_one_trim_deletes_more_runs_than_one_batch_holds(workspace, settings, monkeypatch):
    # given seven runs past the retention and batches of three (an hourly trim must keep up
    # with schedules that record more runs an hour than one batch)
    settings.SCHEDULE_RUN_RETENTION_DAYS = 90
    monkeypatch.setattr(runner, "TRIM_BATCH", 3)
    schedule = recurring(workspace, "* * * * *")
    long_ago = now() - timedelta(days=91)
    ScheduleRun.objects.bulk_create(
        ScheduleRun(workspace=workspace, schedule=schedule, scheduled_for=long_ago + n * MINUTE,
                    outcome="executed")
        for n in range(7)
    )
    ScheduleRun.objects.update(created_at=long_ago)

    # when they are trimmed once
    deleted = runner.trim_runs()

    # then all seven are gone
    assert deleted == 7
    assert not ScheduleRun.objects.exists()


def test_a_one_off_schedule_whose_run_was_already_recorded_ends_as_that_run_did(workspace):
    # given a one-off schedule still active, though its run was recorded (a lock that did not hold)
    due = now() - timedelta(seconds=5)
    schedule = one_off(workspace, now() + MINUTE, due=due)
    ScheduleRun.objects.create(workspace=workspace, schedule=schedule, scheduled_for=due, outcome="executed",
                               executed_at=due)

    # when the runner ticks
    runner.run_due_schedules()

    # then it acts on nothing and the schedule is completed, not left active forever
    schedule.refresh_from_db()
    assert (schedule.status, schedule.next_run_at) == ("completed", None)
    assert not Call.objects.exists()
    assert emitted(workspace, "schedule-status-changed")[-1]["status"] == "completed"
