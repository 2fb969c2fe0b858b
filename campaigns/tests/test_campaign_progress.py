"""Progress (docs/campaigns.md "Watching a campaign"): the counts by status, and
`campaign-progress` at most once a second per campaign and always once after the
last change. Time is given to the flush, so no test depends on the clock."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection, connections, transaction

from campaigns import progress, services
from campaigns.models import Campaign, Contact
from campaigns.tests.lifecycle_helpers import add_contacts, mark_progress_due
from project.celery import app
from project.testing import emitted, wait_for
from realtime.emit import hold_cursor

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def new_campaign(workspace) -> Campaign:
    return services.campaign_create(workspace=workspace, name="Spring renewals")


def progress_events(workspace) -> list[dict]:
    return emitted(workspace, "campaign-progress")


def beat(at: datetime) -> int:
    """One run of the beat task's work, at `at`."""
    return progress.campaigns_flush_due_progress(now=at)


def test_the_stats_count_contacts_by_status_and_the_finished_share(workspace):
    # given
    campaign = new_campaign(workspace)
    add_contacts(campaign, "pending", "in-progress", "retry-wait", "completed", "failed", "skipped")

    # when
    stats = progress.campaign_stats(campaign)

    # then half of them are finished
    assert stats == {"total": 6, "pending": 1, "in_progress": 1, "retry_wait": 1, "completed": 1,
                     "failed": 1, "skipped": 1, "percent": 50.0}


def test_the_percentage_has_one_decimal_and_an_empty_campaign_is_at_zero(workspace):
    campaign = new_campaign(workspace)
    assert progress.campaign_stats(campaign)["percent"] == 0.0

    add_contacts(campaign, "completed", "pending", "pending")

    assert progress.campaign_stats(campaign)["percent"] == 33.3


def test_a_due_campaign_reports_its_counts_and_keeps_them(workspace):
    # given a campaign whose contacts arrived
    campaign = new_campaign(workspace)
    add_contacts(campaign, "pending", "pending", "completed")
    mark_progress_due(campaign)

    # when the beat runs
    sent = beat(T0)

    # then one event with the contract's counts, and the same counts on the campaign
    assert sent == 1
    assert progress_events(workspace) == [{"campaign_id": str(campaign.pk), "total": 3, "pending": 2,
                                    "in_progress": 0, "completed": 1, "failed": 0, "percent": 33.3}]
    campaign.refresh_from_db()
    assert campaign.stats["total"] == 3 and campaign.stats["retry_wait"] == 0
    assert campaign.progress_due is False and campaign.progress_emitted_at == T0


def test_a_campaign_with_nothing_new_reports_nothing(workspace):
    new_campaign(workspace)

    assert beat(T0) == 0
    assert progress_events(workspace) == []


def test_progress_goes_out_at_most_once_a_second_and_once_after_the_last_change(workspace):
    # given a campaign of three contacts that reported at T0
    campaign = new_campaign(workspace)
    add_contacts(campaign, "pending", "pending", "pending")
    mark_progress_due(campaign)
    beat(T0)

    # when its contacts change three times within the next second, the beat running each time
    for moment, step in ((0.2, "in-progress"), (0.5, "completed"), (0.9, "failed")):
        Contact.objects.filter(pk=Contact.objects.filter(campaign=campaign, status="pending")
                               .values("pk")[:1]).update(status=step)
        mark_progress_due(campaign)
        beat(T0 + timedelta(seconds=moment))

    # then nothing more went out within that second
    assert len(progress_events(workspace)) == 1

    # and when the beat runs a second after the last event, the last counts go out once
    beat(T0 + timedelta(seconds=1))
    beat(T0 + timedelta(seconds=2))
    events = progress_events(workspace)
    assert len(events) == 2
    last = events[-1]
    assert (last["pending"], last["in_progress"], last["completed"], last["failed"]) == (0, 1, 1, 1)


def test_a_forced_flush_within_the_second_leaves_the_campaign_due_for_the_beat(workspace):
    # given a campaign that reported at T0
    campaign = new_campaign(workspace)
    add_contacts(campaign)
    mark_progress_due(campaign)
    beat(T0)

    # when a status change forces a flush half a second later
    with transaction.atomic():
        locked = services.campaign_locked(workspace, campaign.pk)
        sent = progress.campaign_progress_flush(locked, force=True, now=T0 + timedelta(seconds=0.5))

    # then it waits; the beat sends it a second after the last one
    assert sent is False
    campaign.refresh_from_db()
    assert campaign.progress_due is True
    assert beat(T0 + timedelta(seconds=1)) == 1


def test_the_beat_flushes_every_due_campaign_of_every_workspace(workspace, other_workspace):
    # given two due campaigns in two workspaces, and one with nothing new
    ours, theirs, quiet = new_campaign(workspace), new_campaign(other_workspace), new_campaign(workspace)
    for campaign in (ours, theirs, quiet):
        add_contacts(campaign)
    mark_progress_due(ours)
    mark_progress_due(theirs)

    # when
    sent = beat(T0)

    # then each due campaign's counts went to its own workspace only
    assert sent == 2
    assert [event["campaign_id"] for event in progress_events(workspace)] == [str(ours.pk)]
    assert [event["campaign_id"] for event in progress_events(other_workspace)] == [str(theirs.pk)]


def test_a_beat_run_flushes_at_most_its_batch_the_longest_waiting_first(workspace, monkeypatch):
    # given three due campaigns, one never reported and two reported at different times
    monkeypatch.setattr(progress, "PROGRESS_BATCH", 2)
    recent, never, older = new_campaign(workspace), new_campaign(workspace), new_campaign(workspace)
    for campaign in (recent, never, older):
        add_contacts(campaign)
        mark_progress_due(campaign)
    Campaign.objects.filter(pk=recent.pk).update(progress_emitted_at=T0 - timedelta(seconds=5))
    Campaign.objects.filter(pk=older.pk).update(progress_emitted_at=T0 - timedelta(seconds=50))

    # when one run of the beat goes
    sent = beat(T0)

    # then it flushed two: the one never reported and the one waiting longest
    assert sent == 2
    assert {event["campaign_id"] for event in progress_events(workspace)} == {str(never.pk), str(older.pk)}
    # and the third goes in the next run
    assert beat(T0 + timedelta(seconds=1)) == 1

def test_the_beat_runs_the_flush_every_second_and_drops_a_late_run():
    # given the deployment's beat schedule
    entry = next(entry for entry in settings.CELERY_BEAT_SCHEDULE.values()
                 if entry["task"] == "campaigns.progress_tasks.flush_campaign_progress")

    # then
    assert entry["schedule"] == 1.0 and entry["options"]["expires"] > 0
    app.loader.import_default_modules()
    assert "campaigns.progress_tasks.flush_campaign_progress" in app.tasks


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_the_beat_stamps_a_progress_with_when_it_went_out_not_when_its_run_began(workspace):
    """Given a due campaign whose workspace's event cursor another transaction holds,
    when a beat run begun meanwhile flushes it once the holder has committed, then the
    progress is stamped with when it went out: the next one waits a second from
    then, not from the start of a run that may have spent seconds on other campaigns."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks, and a second connection that sees commits")
    campaign = new_campaign(workspace)
    add_contacts(campaign)
    mark_progress_due(campaign)
    held, release, released_at = threading.Event(), threading.Event(), []

    def holder():
        try:
            with transaction.atomic():
                hold_cursor(workspace)
                held.set()
                release.wait(30)
                released_at.append(datetime.now(UTC))
        finally:
            connections.close_all()

    def flusher():
        try:
            progress.campaigns_flush_due_progress()
        finally:
            connections.close_all()

    holding = threading.Thread(target=holder, daemon=True)
    holding.start()
    assert held.wait(30)
    flushing = threading.Thread(target=flusher, daemon=True)
    flushing.start()
    wait_for(_waiting_on_a_lock, timeout=30, message="the beat's run never waited for the cursor")

    release.set()
    holding.join(30)
    flushing.join(30)

    campaign.refresh_from_db()
    assert len(progress_events(workspace)) == 1
    assert campaign.progress_emitted_at >= released_at[0]
