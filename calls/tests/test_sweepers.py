"""The calls sweeper (calls/sweepers.py): calls that overran their agent's
limit, or never got placed or answered, end with their events."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from calls import services
from calls.models import Agent, Call
from calls.tasks import end_overdue_calls
from realtime.models import Event

pytestmark = pytest.mark.django_db


def call_in(workspace, *statuses):
    call = services.call_create(workspace=workspace, to_number="+14155550123", place=False)
    for status in statuses:
        services.call_transition(workspace=workspace, call_id=call.pk, status=status)
    return call


def test_overdue_and_stuck_calls_end_and_the_others_are_left_alone(workspace, settings):
    settings.CALLS_STUCK_SECONDS = 60
    Agent.objects.filter(workspace=workspace).update(max_duration_seconds=300)
    now = datetime.now(UTC)
    overran = call_in(workspace, "ringing", "in-progress")
    talking = call_in(workspace, "ringing", "in-progress")
    never_placed = call_in(workspace)
    waiting = call_in(workspace)
    never_answered = call_in(workspace, "ringing")
    Call.objects.filter(pk=overran.pk).update(answered_at=now - timedelta(seconds=301))
    Call.objects.filter(pk=talking.pk).update(answered_at=now - timedelta(seconds=299))
    Call.objects.filter(pk=never_placed.pk).update(created_at=now - timedelta(seconds=61))
    Call.objects.filter(pk=never_answered.pk).update(started_at=now - timedelta(seconds=61))

    counts = end_overdue_calls()
    again = end_overdue_calls()

    assert counts == {"max_duration": 1, "never_placed": 1, "never_answered": 1}
    assert again == {"max_duration": 0, "never_placed": 0, "never_answered": 0}
    ended = {call.pk: call for call in Call.objects.all()}
    assert (ended[overran.pk].status, ended[overran.pk].end_reason) == ("completed", "max-duration")
    assert (ended[never_placed.pk].status, ended[never_placed.pk].failure_code) == ("failed", "not-placed")
    assert (ended[never_answered.pk].status, ended[never_answered.pk].end_reason) == (
        "no-answer",
        "no-answer",
    )
    assert ended[talking.pk].status == "in-progress" and ended[waiting.pk].status == "queued"
    for call in (overran, never_placed, never_answered):
        assert Event.objects.filter(call_id=str(call.pk), type="call-ended").count() == 1


def test_a_call_that_cannot_end_is_logged_and_skipped_and_the_sweep_ends_the_others(workspace, caplog):
    # given, first in line, an overrun call whose answer was stored at year 1 (before the
    # ingest bounded timestamps: its cost would not fit), then an ordinary overrun call
    # and one never placed
    now = datetime.now(UTC)
    broken = call_in(workspace, "ringing", "in-progress")
    overran = call_in(workspace, "ringing", "in-progress")
    never_placed = call_in(workspace)
    Call.objects.filter(pk=broken.pk).update(answered_at=datetime(1, 1, 1, tzinfo=UTC))
    Call.objects.filter(pk=overran.pk).update(answered_at=now - timedelta(hours=5))
    Call.objects.filter(pk=never_placed.pk).update(created_at=now - timedelta(hours=1))
    before = REGISTRY.get_sample_value("callboard_background_failures_total", {"loop": "sweep"}) or 0

    # when the sweeper runs
    with caplog.at_level(logging.ERROR, logger="calls.sweepers"):
        counts = end_overdue_calls()

    # then the broken call is skipped, logged with its id and counted; the others end
    assert counts == {"max_duration": 1, "never_placed": 1, "never_answered": 0}
    assert Call.objects.get(pk=broken.pk).status == "in-progress"
    assert Call.objects.get(pk=overran.pk).end_reason == "max-duration"
    assert Call.objects.get(pk=never_placed.pk).failure_code == "not-placed"
    assert any(str(broken.pk) in record.getMessage() for record in caplog.records)
    assert REGISTRY.get_sample_value("callboard_background_failures_total", {"loop": "sweep"}) == before + 1
