"""`emit`: an event is recorded with the change that caused it and published only once that
change has committed, with a cursor that follows commit order (docs/reference/events.md#envelope,
docs/reference/domain.md#events-are-transactional)."""

import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection, transaction
from pydantic import ValidationError

from project.testing import at_once
from realtime import relay
from realtime.emit import Emission, EmitError, emit, emit_many
from realtime.models import Event, StreamCounter
from realtime.wire import Delivery

WAIT = 10  # seconds: the bound of every wait in this file
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CAMPAIGN = {"campaign_id": "cmp_1", "status": "running", "previous_status": "draft"}
TRANSCRIPT = {"role": "agent", "text": "How can I help?", "confidence": 0.98, "language": "en-US",
              "duration_ms": 900, "words": []}


@dataclass
class CallStandIn:
    """Stands in for the Call model (a later issue): what emit reads from a call."""

    pk: str
    agent_name: str




def json_of(delivery: Delivery) -> dict:
    return json.loads(delivery.envelope_json)


def seqs(workspace) -> list[int]:
    return list(Event.objects.filter(workspace=workspace).order_by("seq").values_list("seq", flat=True))


def require_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent transactions and row locks")


@pytest.mark.django_db(transaction=True)
def test_a_committed_event_is_published_once_as_its_envelope(workspace, subscriber):
    # when
    with transaction.atomic():
        returned = emit(workspace, "campaign-status-changed", CAMPAIGN)

    # then
    [delivery] = subscriber.received()
    envelope = json_of(delivery)
    assert list(envelope) == ["event_id", "type", "workspace_id", "timestamp", "data"]
    assert envelope["type"] == delivery.type == "campaign-status-changed"
    assert envelope["workspace_id"] == str(workspace.pk)
    assert TIMESTAMP.match(envelope["timestamp"])
    assert envelope["data"] == CAMPAIGN
    assert envelope == returned
    row = Event.objects.get(workspace=workspace)
    assert str(row.event_id) == envelope["event_id"]
    assert delivery.seq == row.seq == 1
    assert not relay.waiting_for_publish().exists()
    # a replay from history carries the same envelope, id included
    assert relay.envelope_of(row) == envelope


@pytest.mark.django_db(transaction=True)
def test_nothing_is_published_before_the_transaction_commits(workspace, subscriber):
    # when
    with transaction.atomic():
        emit(workspace, "campaign-status-changed", CAMPAIGN)
        before_commit = subscriber.received()

    # then
    assert before_commit == []
    assert len(subscriber.received()) == 1


@pytest.mark.django_db(transaction=True)
def test_emit_many_records_its_events_in_order_and_publishes_them_together_after_commit(
        workspace, subscriber, monkeypatch):
    publish_calls = []
    real_publish = relay.publish
    monkeypatch.setattr(relay, "publish", lambda messages, pending_id: publish_calls.append(len(messages))
                        or real_publish(messages, pending_id))
    emissions = [Emission("campaign-status-changed", {**CAMPAIGN, "campaign_id": f"cmp_{n}"})
                 for n in range(3)]
    emissions.insert(1, Emission("call-interim", {"role": "user", "text": "hel"}, call="c1"))

    # when
    with transaction.atomic():
        envelopes = emit_many(workspace, emissions)
        during = subscriber.received()

    # then
    deliveries = subscriber.received()
    assert during == []
    assert publish_calls == [4]
    assert [json_of(d)["event_id"] for d in deliveries] == [envelope["event_id"] for envelope in envelopes]
    assert [d.seq for d in deliveries] == [1, None, 2, 3]
    assert not relay.waiting_for_publish().filter(workspace=workspace).exists()


@pytest.mark.django_db
def test_emit_many_records_nothing_when_one_of_its_events_is_invalid(workspace):
    emissions = [Emission("campaign-status-changed", CAMPAIGN),
                 Emission("campaign-status-changed", {"campaign_id": "cmp_2"})]

    with pytest.raises(ValidationError):
        emit_many(workspace, emissions)

    assert not Event.objects.filter(workspace=workspace).exists()


@pytest.mark.parametrize(
    ("occurred_at", "timestamp"),
    [
        (datetime(2026, 1, 1, 12, 0, tzinfo=UTC), "2026-01-01T12:00:00.000Z"),
        (datetime(2026, 1, 1, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
         "2026-01-01T12:00:00.123Z"),
    ],
    ids=["utc", "another-offset"],
)
@pytest.mark.django_db
def test_the_timestamp_is_utc_with_milliseconds(workspace, occurred_at, timestamp):
    # when
    envelope = emit(workspace, "campaign-status-changed", CAMPAIGN, occurred_at=occurred_at)

    # then
    assert envelope["timestamp"] == timestamp


@pytest.mark.django_db
def test_consecutive_events_of_a_workspace_get_cursors_1_2_3(workspace):
    # when
    for _ in range(3):
        with transaction.atomic():
            emit(workspace, "campaign-status-changed", CAMPAIGN)

    # then
    assert seqs(workspace) == [1, 2, 3]


@pytest.mark.django_db
def test_each_workspace_counts_its_own_cursors(workspace, other_workspace):
    # when
    for target in (workspace, other_workspace, workspace, other_workspace, other_workspace):
        emit(target, "campaign-status-changed", CAMPAIGN)

    # then
    assert seqs(workspace) == [1, 2]
    assert seqs(other_workspace) == [1, 2, 3]


class Rollback(Exception):
    pass


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("type_name", ["campaign-status-changed", "call-interim"])
def test_a_rolled_back_event_is_never_published_and_leaves_no_trace(workspace, subscriber, type_name):
    # given
    emit(workspace, "campaign-status-changed", CAMPAIGN)
    payload = CAMPAIGN if type_name == "campaign-status-changed" else {"role": "user", "text": "hel"}

    # when
    with pytest.raises(Rollback), transaction.atomic():
        emit(workspace, type_name, payload, call="call_1")
        raise Rollback

    # then
    assert [d.seq for d in subscriber.received()] == [1]
    assert seqs(workspace) == [1]

    # when the next event commits
    emit(workspace, "campaign-status-changed", CAMPAIGN)

    # then it takes the cursor the rolled back one had drawn: no hole
    assert [d.seq for d in subscriber.received()] == [2]
    assert seqs(workspace) == [1, 2]
    assert StreamCounter.objects.get(workspace=workspace).last_seq == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("type_name", "payload", "call", "error"),
    [
        ("call-teleported", {}, "call_1", EmitError),
        ("keep-alive", {"server_time": "2026-01-01T12:00:00Z"}, None, EmitError),
        ("campaign-status-changed", {**CAMPAIGN, "status": "exploded"}, None, ValidationError),
        ("campaign-status-changed", {**CAMPAIGN, "owner": "bob"}, None, ValidationError),
        ("call-transcript", TRANSCRIPT, None, EmitError),
    ],
    ids=["unknown-type", "control-type", "bad-value", "extra-field", "call-event-without-call"],
)
def test_an_invalid_event_is_refused_and_records_nothing(workspace, subscriber, type_name, payload, call,
                                                         error):
    # when
    with pytest.raises(error), transaction.atomic():
        emit(workspace, type_name, payload, call=call)
    emit(workspace, "campaign-status-changed", CAMPAIGN)

    # then only the valid event exists, with the first cursor
    assert [(d.type, d.seq) for d in subscriber.received()] == [("campaign-status-changed", 1)]
    assert seqs(workspace) == [1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("type_name", "payload"),
    [("call-interim", {"role": "user", "text": "I'd like to"}),
     ("call-tts-word", {"word": "Hello", "offset_ms": 120})],
)
def test_an_ephemeral_event_is_published_after_commit_without_cursor_or_row(workspace, subscriber,
                                                                             type_name, payload):
    # when
    with transaction.atomic():
        returned = emit(workspace, type_name, payload, call="call_1")
        before_commit = subscriber.received()

    # then
    assert before_commit == []
    [delivery] = subscriber.received()
    assert delivery.seq is None
    assert delivery.sse_frame().startswith(b"event: " + type_name.encode())
    assert json_of(delivery) == returned
    assert returned["call_id"] == "call_1"
    assert returned["data"] == payload
    assert not Event.objects.filter(workspace=workspace).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("call", "call_id", "agent"),
    [(CallStandIn(pk="call_42", agent_name="helpdesk"), "call_42", "helpdesk"),
     ("call_42", "call_42", None)],
    ids=["call-object", "call-id"],
)
def test_an_event_about_a_call_carries_the_call_and_its_agent(workspace, subscriber, call, call_id,
                                                              agent):
    # when
    emit(workspace, "call-transcript", TRANSCRIPT, call=call)

    # then
    [delivery] = subscriber.received()
    assert (delivery.call_id, delivery.agent, delivery.audience) == (call_id, agent, "call")
    envelope = json_of(delivery)
    assert list(envelope) == ["event_id", "type", "workspace_id", "call_id", "timestamp", "data"]
    assert envelope["call_id"] == call_id
    row = Event.objects.get(event_id=envelope["event_id"])
    assert (row.call_id, row.agent) == (call_id, agent)


@pytest.mark.django_db
def test_a_workspace_event_may_name_the_call_it_is_about(workspace):
    # when
    envelope = emit(workspace, "call-status", {
        "call_id": "call_9", "status": "ringing", "previous_status": "queued", "direction": "outbound",
        "source": "api", "from_number": "+15550100", "to_number": "+15550199", "active_calls": 1,
    }, call=CallStandIn(pk="call_9", agent_name="sales"))

    # then
    assert envelope["call_id"] == "call_9"
    assert Event.objects.get(event_id=envelope["event_id"]).audience == "workspace"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("counter_exists", [True, False], ids=["later-event", "first-event"])
def test_a_cursor_waits_for_the_transaction_holding_the_previous_one_to_commit(workspace,
                                                                               counter_exists):
    require_postgresql()
    # given
    if counter_exists:
        emit(workspace, "campaign-status-changed", CAMPAIGN)
    a_drew, release_a, b_connected = threading.Event(), threading.Event(), threading.Event()
    seen: dict = {}

    def transaction_a():
        try:
            with transaction.atomic():
                seen["a"] = emit(workspace, "campaign-status-changed", CAMPAIGN)
                a_drew.set()
                if not release_a.wait(WAIT):
                    raise TimeoutError("A was never released")
        except BaseException as error:
            seen["a_error"] = error
        finally:
            connection.close()

    def transaction_b():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                seen["b_pid"] = cursor.fetchone()[0]
            b_connected.set()
            with transaction.atomic():
                seen["b"] = emit(workspace, "campaign-status-changed", CAMPAIGN)
                # READ COMMITTED: a new statement sees what had committed when it began
                seen["a_committed_before_b_drew"] = Event.objects.filter(
                    event_id=seen["a"]["event_id"]).exists()
        except BaseException as error:
            seen["b_error"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=transaction_a), threading.Thread(target=transaction_b)]
    try:
        # when A has drawn its cursor and stays open
        threads[0].start()
        assert a_drew.wait(WAIT), seen
        # and B emits meanwhile
        threads[1].start()
        assert b_connected.wait(WAIT), seen

        # then B waits on A's lock
        assert wait_until_blocked_on_a_lock(seen["b_pid"]), "B did not wait for A's lock"
        assert "b" not in seen

        # when A commits
        release_a.set()
    finally:
        release_a.set()
        for thread in threads:
            thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads)

    # then B drew its cursor after A committed, and the cursors follow that order
    assert "a_error" not in seen and "b_error" not in seen, seen
    assert seen["a_committed_before_b_drew"] is True
    cursor_of = {str(row.event_id): row.seq for row in Event.objects.filter(workspace=workspace)}
    first = 2 if counter_exists else 1
    assert (cursor_of[seen["a"]["event_id"]], cursor_of[seen["b"]["event_id"]]) == (first, first + 1)


def wait_until_blocked_on_a_lock(backend_pid: int) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [backend_pid])
            row = cursor.fetchone()
        if row is not None and row[0] == "Lock":
            return True
        time.sleep(0.05)  # polling interval, bounded by the deadline
    return False


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_every_cursor_exactly_once(workspace):
    require_postgresql()
    # given
    writers, per_writer = 8, 25

    def write():
        for _ in range(per_writer):
            with transaction.atomic():
                emit(workspace, "campaign-status-changed", CAMPAIGN)

    # when
    at_once(write, writers, timeout=WAIT)

    # then
    assert seqs(workspace) == list(range(1, writers * per_writer + 1))
