"""A runtime's timestamps (docs/runtime.md): taken only between the call's creation
and now, give or take RUNTIME_TIMESTAMP_SKEW_SECONDS, and a call's times always
in order. Before this, a report at year 1 made the charge run build ~10^9 minute
entries, and an answer in the future made a call free."""

from datetime import UTC, datetime, timedelta

import pytest

from calls.models import Call, RuntimeReceipt
from calls.tests.test_ingest import TRANSCRIPT, URL, at, item, place

pytestmark = pytest.mark.django_db


def codes(response) -> list[tuple[int, str]]:
    return [(error["index"], error["code"]) for error in response.json()["errors"]]


def test_a_status_at_year_one_is_refused_and_the_rest_of_the_batch_is_kept(runtime_key, workspace):
    # given a call the runtime has just rung
    call = place(workspace)

    # when it reports the answer at 0001-01-01, and a transcript after it
    response = runtime_key.post(URL, {"events": [
        item(call, "ring", "call-status", {"status": "ringing"}),
        item(call, "ancient", "call-status", {"status": "in-progress"}, timestamp="0001-01-01T00:00:00Z"),
        item(call, "answer", "call-status", {"status": "in-progress"}),
    ]})

    # then that item alone is refused, and the call is answered now, not 2,000 years ago
    assert response.status_code == 200
    assert codes(response) == [(1, "timestamp_out_of_range")]
    assert response.json()["accepted"] == 2
    call.refresh_from_db()
    assert call.status == "in-progress" and call.answered_at >= call.created_at
    assert "ancient" not in set(RuntimeReceipt.objects.values_list("runtime_event_id", flat=True))


def test_times_in_the_future_past_the_skew_are_refused(runtime_key, workspace, settings):
    # given a call that is ringing, and a skew of 60 s
    settings.RUNTIME_TIMESTAMP_SKEW_SECONDS = 60
    call = place(workspace)
    runtime_key.post(URL, {"events": [item(call, "ring", "call-status", {"status": "ringing"})]})
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()

    # when the runtime answers it tomorrow (a free call), or says something then
    response = runtime_key.post(URL, {"events": [
        item(call, "free", "call-status", {"status": "in-progress"}, timestamp=tomorrow),
        item(call, "later", "call-transcript", TRANSCRIPT, timestamp=tomorrow),
        item(call, "drift", "call-status", {"status": "in-progress"}, timestamp=soon),
    ]})

    # then both are refused; a clock 30 s ahead is within the skew
    assert codes(response) == [(0, "timestamp_out_of_range"), (1, "timestamp_out_of_range")]
    call.refresh_from_db()
    assert call.status == "in-progress"
    assert call.answered_at <= datetime.now(UTC) + timedelta(seconds=60)


def test_times_before_the_call_past_the_skew_are_refused(runtime_key, workspace, settings):
    # given a call created now
    settings.RUNTIME_TIMESTAMP_SKEW_SECONDS = 60
    call = place(workspace)

    # when the runtime says it rang two minutes before it was created
    response = runtime_key.post(URL, {"events": [
        item(call, "early", "call-status", {"status": "ringing"}, timestamp=at(call, -120)),
    ]})

    # then the item is refused and the call is still queued
    assert codes(response) == [(0, "timestamp_out_of_range")]
    assert Call.objects.get(pk=call.pk).status == "queued"


def test_times_within_the_skew_keep_the_call_in_order(runtime_key, workspace):
    # given a call, and a runtime whose clock runs a few seconds behind ours
    call = place(workspace)

    # when it reports ringing before the creation, the answer before the ring and
    # the end before the answer (all within the skew)
    response = runtime_key.post(URL, {"events": [
        item(call, "ring", "call-status", {"status": "ringing"}, timestamp=at(call, -10)),
        item(call, "answer", "call-status", {"status": "in-progress"}, timestamp=at(call, 2)),
        item(call, "talk", "call-transcript", TRANSCRIPT, timestamp=at(call, -5)),
        item(call, "end", "call-status", {"status": "completed"}, timestamp=at(call, 1)),
    ]})

    # then every item is taken, and the times are in order: nothing before the creation,
    # no negative duration
    assert response.json() == {"accepted": 4, "duplicates": 0, "errors": []}
    call.refresh_from_db()
    assert call.created_at == call.started_at
    assert call.answered_at == call.created_at + timedelta(seconds=2)
    assert call.ended_at == call.answered_at and call.duration == 0
    spoken = call.events.get(type="call-transcript").timestamp  # envelopes keep milliseconds
    assert timedelta(0) <= call.created_at - spoken < timedelta(milliseconds=1)
