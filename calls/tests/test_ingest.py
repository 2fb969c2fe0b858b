"""The runtime ingest API (docs/reference/rest.md#runtime-ingest): batches of runtime events, each item on its
own, idempotent by the runtime's event_id even when identical batches race."""

import threading
from datetime import timedelta, timezone

import pytest
from django.db import connection

from calls import services
from calls.models import Call, CallEvent, RuntimeReceipt
from project.testing import at_once
from realtime.models import Event

URL = "/api/v1/runtime/events"
TRANSCRIPT = {
    "role": "user",
    "text": "I need help with my bill",
    "confidence": 0.93,
    "language": "en-US",
    "duration_ms": 1800,
    "words": [{"text": "I", "start_ms": 0, "end_ms": 90, "confidence": 0.9}],
}


def place(workspace):
    return services.call_create(workspace=workspace, to_number="+14155550123", place=False)


def item(call, event_id, type, data, **extra):
    return {"event_id": event_id, "call_id": str(call.pk), "type": type, "data": data, **extra}


def at(call, seconds: float) -> str:
    """A runtime's timestamp, `seconds` after the call was created."""
    return (call.created_at + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def answered_items(call, prefix="rt"):
    return [
        item(call, f"{prefix}-1", "call-status", {"status": "ringing"}, timestamp=at(call, 0.2)),
        item(call, f"{prefix}-2", "call-status", {"status": "in-progress"}, timestamp=at(call, 0.5)),
        item(call, f"{prefix}-3", "call-interim", {"role": "user", "text": "I need"}),
        item(call, f"{prefix}-4", "call-transcript", TRANSCRIPT),
        item(
            call,
            f"{prefix}-5",
            "call-node-transition",
            {"from_node": None, "to_node": "billing", "trigger": "intent"},
        ),
    ]


@pytest.mark.django_db
def test_a_batch_applies_every_item_in_order_through_the_call_services(runtime_key, workspace):
    call = place(workspace)

    response = runtime_key.post(URL, {"events": answered_items(call)})

    assert response.status_code == 200
    assert response.json() == {"accepted": 5, "duplicates": 0, "errors": []}
    call.refresh_from_db()
    assert call.status == "in-progress" and call.current_node == "billing"
    assert call.answered_at == call.created_at + timedelta(seconds=0.5)
    types = list(Event.objects.filter(call_id=str(call.pk)).order_by("seq").values_list("type", flat=True))
    assert types == ["call-created", "call-status", "call-status", "call-transcript", "call-node-transition"]
    assert not CallEvent.objects.filter(type="call-interim").exists()  # ephemeral: never stored


@pytest.mark.django_db
def test_a_repeated_event_id_is_accepted_and_ignored(runtime_key, workspace):
    call = place(workspace)
    runtime_key.post(URL, {"events": answered_items(call)})
    events_before = Event.objects.count()

    again = runtime_key.post(URL, {"events": answered_items(call)})

    assert again.json() == {"accepted": 0, "duplicates": 5, "errors": []}
    assert Event.objects.count() == events_before


@pytest.mark.django_db
def test_invalid_items_are_listed_by_index_and_the_valid_ones_are_kept(
    runtime_key, workspace, other_workspace
):
    call = place(workspace)
    foreign = place(other_workspace)
    batch = [
        item(call, "a", "call-status", {"status": "ringing"}),
        item(call, "b", "call-status", {"status": "completed"}),  # ringing cannot complete
        item(foreign, "c", "call-status", {"status": "ringing"}),  # another workspace's call
        {"event_id": "d", "call_id": "nope", "type": "call-status", "data": {"status": "ringing"}},
        item(call, "e", "call-dtmf", {"digit": "x", "duration_ms": 100}),
        item(call, "f", "call-teleport", {}),
        {"call_id": str(call.pk), "type": "call-tts", "data": {"text": "hi", "latency_ms": 10}},
        "not an object",
        item(call, "g", "call-status", {"status": "in-progress", "colour": "blue"}),
        item(call, "h", "call-status", {"status": "in-progress"}, timestamp="2026-11-22T18:00:00"),
        item(call, "i", "call-status", {"status": "in-progress"}),
    ]

    response = runtime_key.post(URL, {"events": batch})

    body = response.json()
    assert response.status_code == 200
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert [(error["index"], error["event_id"], error["code"]) for error in body["errors"]] == [
        (1, "b", "illegal_transition"),
        (2, "c", "not_found"),
        (3, "d", "not_found"),
        (4, "e", "invalid_data"),
        (5, "f", "unknown_event_type"),
        (6, None, "invalid_item"),
        (7, None, "invalid_item"),
        (8, "g", "invalid_data"),
        (9, "h", "invalid_item"),
    ]
    assert all(error["message"] for error in body["errors"])
    assert Call.objects.get(pk=call.pk).status == "in-progress"
    assert Call.objects.get(pk=foreign.pk).status == "queued"
    # A refused item was not taken: sent again once valid, it applies.
    assert set(RuntimeReceipt.objects.values_list("runtime_event_id", flat=True)) == {"a", "i"}


@pytest.mark.django_db
def test_events_for_an_ended_call_are_refused_except_its_recording(runtime_key, workspace):
    call = place(workspace)
    runtime_key.post(URL, {"events": answered_items(call)})
    runtime_key.post(
        URL,
        {
            "events": [
                item(call, "end", "call-status", {"status": "completed", "end_reason": "customer-hangup"})
            ]
        },
    )

    late = runtime_key.post(
        URL,
        {
            "events": [
                item(call, "late-tts", "call-tts", {"text": "bye", "latency_ms": 300}),
                item(
                    call,
                    "rec",
                    "call-recording",
                    {"recording_status": "available", "recording_url": "https://rec.example.com/1.mp3"},
                ),
            ]
        },
    ).json()

    assert [error["code"] for error in late["errors"]] == ["call_not_active"]
    assert late["accepted"] == 1
    call.refresh_from_db()
    assert call.recording_status == "available" and call.recording_url == "https://rec.example.com/1.mp3"
    assert Event.objects.filter(call_id=str(call.pk), type="call-recording-status").count() == 1


@pytest.mark.django_db
def test_only_runtime_keys_report_and_oversized_batches_are_refused(
    runtime_key, write_key, workspace, settings
):
    call = place(workspace)
    one = [item(call, "x", "call-status", {"status": "ringing"})]

    by_writer = write_key.post(URL, {"events": one})
    too_many = runtime_key.post(URL, {"events": one * (settings.RUNTIME_INGEST_MAX_ITEMS + 1)})
    too_big = runtime_key.post(
        URL, {"events": [item(call, "big", "call-tts", {"text": "x" * (1024 * 1024), "latency_ms": 1})]}
    )
    not_a_list = runtime_key.post(URL, {"events": "ringing"})

    assert by_writer.status_code == 403
    assert too_many.status_code == 413 and too_many.json()["error"]["code"] == "batch_too_large"
    assert too_big.status_code == 413
    assert not_a_list.status_code == 400
    assert Call.objects.get(pk=call.pk).status == "queued"
    assert not RuntimeReceipt.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_identical_batches_at_once_apply_each_event_once(runtime_key, workspace):
    call = place(workspace)
    batch = answered_items(call, prefix="race")
    answers = at_once(lambda: runtime_key.post(URL, {"events": batch}).json(), 2, timeout=30)

    assert sorted(answer["accepted"] for answer in answers) == sorted(
        5 - answer["duplicates"] for answer in answers
    )
    assert sum(answer["accepted"] for answer in answers) == 5
    assert sum(answer["duplicates"] for answer in answers) == 5
    assert all(answer["errors"] == [] for answer in answers)
    assert RuntimeReceipt.objects.count() == 5
    statuses = Event.objects.filter(call_id=str(call.pk), type="call-status").count()
    assert statuses == 2 and Event.objects.filter(type="call-transcript").count() == 1


@pytest.mark.django_db(transaction=True)
def test_batches_sharing_events_in_opposite_orders_neither_deadlock_nor_double(runtime_key, workspace):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent transactions and row locks")
    first, second = place(workspace), place(workspace)
    for call in (first, second):
        services.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
        services.call_transition(workspace=workspace, call_id=call.pk, status="in-progress")
    shared = [item(call, f"shared-{n}-{call.pk}", "call-transcript", TRANSCRIPT)
              for n in range(20) for call in (first, second)]
    batches = [shared, list(reversed(shared))]
    answers: list[dict] = []
    start = threading.Barrier(2)

    def send(batch):
        try:
            start.wait(5)
            answers.append(runtime_key.post(URL, {"events": batch}).json())
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(answers) == 2 and all(answer["errors"] == [] for answer in answers)
    assert sum(answer["accepted"] for answer in answers) == 40
    assert sum(answer["duplicates"] for answer in answers) == 40
    assert CallEvent.objects.filter(type="call-transcript").count() == 40
    seqs = list(Event.objects.filter(workspace=workspace).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))  # no cursor drawn twice or skipped


@pytest.mark.django_db
def test_a_timestamp_with_an_offset_postgresql_refuses_is_stored_as_the_same_instant(runtime_key, workspace):
    # given an instant written with +22:43: valid ISO 8601 and Python, out of range for
    # PostgreSQL (it was a 500)
    call = place(workspace)
    # whole seconds after the call's creation: a time before it counts as the creation
    now = (call.created_at + timedelta(seconds=2)).replace(microsecond=0)
    far_offset = now.astimezone(timezone(timedelta(hours=22, minutes=43))).isoformat()

    # when
    response = runtime_key.post(URL, {"events": [
        item(call, "rt-1", "call-status", {"status": "ringing"}),
        item(call, "rt-2", "call-status", {"status": "in-progress"}, timestamp=far_offset),
    ]})

    # then
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 2
    call.refresh_from_db()
    assert call.answered_at == now
