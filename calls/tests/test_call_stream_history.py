"""`include_history=true` on a call's own stream, SSE and WebSocket (docs/streams.md):
a client that places a call and opens its stream at once still gets what
happened before it connected (`ringing`...), then live events, each event once
across the seam, even while events are being recorded as it connects. Without
the parameter the stream starts with live events, as before."""

import threading
from contextlib import contextmanager

import pytest
from django.db import connection

from calls import services
from calls.tests.helpers import TRANSCRIPT, place
from calls.tests.test_observe import bearer, observe, ws_url
from project.testing import SERVERS, running_server
from realtime.models import Event
from realtime.tests.streaming import WAIT, error_of, open_stream, refused, without_control

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DURING_CONNECT = 40  # transcripts recorded while the client connects
BEFORE = ["call-created", "call-status", "call-status", "call-transcript"]


@pytest.fixture(params=SERVERS)
def server(request, tmp_path):
    with running_server(tmp_path, server=request.param) as running:
        yield running


def path_of(call) -> str:
    return f"/api/v1/calls/{call.pk}/stream"


def say(workspace, call, text: str) -> dict:
    return services.call_record_event(workspace=workspace, call_id=call.pk, type="call-transcript",
                                      data={**TRANSCRIPT, "text": text})


def answered(workspace):
    """A call that went queued -> ringing -> in-progress and said one thing, before any client."""
    call = place(workspace)
    services.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
    services.call_transition(workspace=workspace, call_id=call.pk, status="in-progress")
    say(workspace, call, "before anyone watched")
    services.call_record_event(workspace=workspace, call_id=call.pk, type="call-interim",
                               data={"role": "user", "text": "ephemeral"})  # never persisted
    return call


@contextmanager
def recording_meanwhile(workspace, call):
    """Records transcripts from another thread, starting now, while the block
    connects; the block calls the function it is given to wait for the last."""
    started = threading.Event()

    def record():
        try:
            started.set()
            for number in range(DURING_CONNECT):
                say(workspace, call, f"during connect {number}")
        finally:
            connection.close()

    thread = threading.Thread(target=record)
    thread.start()
    started.wait(WAIT)

    def finished():
        thread.join(WAIT * 3)
        assert not thread.is_alive(), "the recording thread did not finish"

    try:
        yield finished
    finally:
        thread.join(WAIT * 3)


def persisted_ids(workspace, call) -> list[str]:
    rows = Event.objects.filter(workspace=workspace, call_id=call.pk).order_by("seq")
    return [str(event_id) for event_id in rows.values_list("event_id", flat=True)]


def test_an_sse_call_stream_with_history_gets_what_happened_before_it_connected_then_live_each_once(
        server, workspace, read_key):
    # given a call that already rang and was answered
    call = answered(workspace)

    # when a client opens its stream with include_history while transcripts are being recorded
    with recording_meanwhile(workspace, call) as finished, open_stream(
            server, key=read_key.key, path=path_of(call), params={"include_history": "true"}) as stream:
        finished()
        last = say(workspace, call, "the last word")
        events = without_control(stream.until_event(last))

    # then the call's history came first, and across the seam every event once, in order
    assert [event.event for event in events[:4]] == BEFORE
    assert [event.data["data"]["status"] for event in events[1:3]] == ["ringing", "in-progress"]
    assert [event.data["event_id"] for event in events] == persisted_ids(workspace, call)
    cursors = [int(event.id) for event in events]
    assert cursors == sorted(set(cursors))


def test_without_include_history_a_call_stream_starts_with_live_events(server, workspace, read_key):
    call = answered(workspace)

    with open_stream(server, key=read_key.key, path=path_of(call)) as stream:
        live = say(workspace, call, "live")
        events = without_control(stream.until_event(live))

    assert [event.data["event_id"] for event in events] == [live["event_id"]]


def test_a_websocket_observer_with_history_gets_what_happened_before_it_connected_then_live_each_once(
        server, workspace, read_key):
    call = answered(workspace)

    # when an observer connects with include_history while transcripts are being recorded
    with recording_meanwhile(workspace, call) as finished, observe(
            ws_url(server, call.pk, include_history="true"), headers=bearer(read_key)) as observer:
        connected = observer.next()
        finished()
        last = say(workspace, call, "the last word")
        messages = []
        while not messages or messages[-1]["event_id"] != last["event_id"]:
            messages.append(observer.next())

    # then
    assert connected["type"] == "connected"
    events = [message for message in messages if message["type"] != "keep-alive"]
    assert [message["type"] for message in events[:4]] == BEFORE
    assert [message["data"]["status"] for message in events[1:3]] == ["ringing", "in-progress"]
    assert [message["event_id"] for message in events] == persisted_ids(workspace, call)


def test_include_history_on_a_call_stream_must_be_a_boolean(server, workspace, read_key):
    call = place(workspace)

    answer = refused(server, key=read_key.key, path=path_of(call), params={"include_history": "sometimes"})
    with observe(ws_url(server, call.pk, include_history="sometimes"), headers=bearer(read_key)) as observer:
        [error], code = observer.rest()

    assert answer.status_code == 400
    assert error_of(answer)["code"] == "validation_error"
    assert (code, error["error"]["code"]) == (4400, "validation_error")
