"""`include_history=true` on the workspace stream (docs/reference/streams.md#query-parameters): without a
cursor, the
persisted events of the workspace's active calls come first, then live events;
ended calls, other workspaces and ephemeral events are not in it."""

import pytest

from calls import agents, services
from calls.tests.helpers import TRANSCRIPT
from project.testing import running_server
from realtime.tests.streaming import (
    TICKET_STREAM_PATH,
    emit_marker,
    error_of,
    open_stream,
    refused,
    ticket_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def answered_call(workspace, *, agent=None):
    call = services.call_create(workspace=workspace, to_number="+14155550123", agent=agent, place=False)
    services.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
    services.call_transition(workspace=workspace, call_id=call.pk, status="in-progress")
    services.call_record_event(
        workspace=workspace, call_id=call.pk, type="call-interim", data={"role": "user", "text": "Where"}
    )
    services.call_record_event(workspace=workspace, call_id=call.pk, type="call-transcript", data=TRANSCRIPT)
    return call


def kinds_of(events, call) -> list[str]:
    return [event.event for event in events if event.data.get("call_id") == str(call.pk)]


def test_the_active_calls_history_comes_first_in_cursor_order_then_live_events(
    tmp_path, workspace, other_workspace, read_key
):
    active, ended = answered_call(workspace), answered_call(workspace)
    services.call_hangup(workspace=workspace, call_id=ended.pk)
    answered_call(other_workspace)
    emit_marker(workspace)  # a workspace event about no call: not history

    with (
        running_server(tmp_path) as server,
        open_stream(server, key=read_key.key, params={"include_history": "true"}) as stream,
    ):
        marker = emit_marker(workspace)
        history = stream.until_event(marker)[:-1]
        services.call_record_event(
            workspace=workspace, call_id=active.pk, type="call-transcript", data=TRANSCRIPT
        )
        services.call_transition(workspace=workspace, call_id=active.pk, status="completed")
        live = stream.until_type("call-ended")

    assert [event.event for event in history] == [
        "call-created",
        "call-status",
        "call-status",
        "call-transcript",
    ]
    assert {event.data["call_id"] for event in history} == {str(active.pk)}
    cursors = [int(event.id) for event in history]
    assert cursors == sorted(cursors) and int(history[-1].id) < int(live[-1].id)
    # Live, a call's own speech still needs a subscription; its lifecycle does not.
    assert [event.event for event in live] == ["call-status", "call-ended"]


def test_history_honours_the_streams_filters_and_the_ticket_door(tmp_path, workspace, read_key):
    support = agents.agent_create(workspace=workspace, name="support")
    first, second = answered_call(workspace), answered_call(workspace, agent="support")
    first_id, second_id = str(first.pk), str(second.pk)

    def opened(server, **params):
        params = {**params, "include_history": "true", "ticket": ticket_for(read_key)}
        return open_stream(server, path=TICKET_STREAM_PATH, params=params)

    def seen(events):
        return [(event.event, event.data["call_id"]) for event in events]

    with running_server(tmp_path) as server:
        with opened(server, event_types="call-status,campaign-status-changed") as stream:
            statuses = seen(stream.until_event(emit_marker(workspace))[:-1])
        # The other filters drop a marker too: a live event of the other call, then
        # one of this call, shows that history held exactly this call's four events.
        with opened(server, call_id=first_id) as stream:
            one_call = seen(stream.reader.next() for _ in range(4))
            services.call_escalate(workspace=workspace, call_id=second.pk)
            services.call_escalate(workspace=workspace, call_id=first.pk)
            one_call_live = stream.reader.next()
        with opened(server, agent=support.name) as stream:
            one_agent = seen(stream.reader.next() for _ in range(5))  # escalated above
            services.call_hangup(workspace=workspace, call_id=first.pk)
            services.call_hangup(workspace=workspace, call_id=second.pk)
            one_agent_live = stream.reader.next()

    assert statuses == [
        ("call-status", first_id),
        ("call-status", first_id),
        ("call-status", second_id),
        ("call-status", second_id),
    ]
    history = ["call-created", "call-status", "call-status", "call-transcript"]
    assert one_call == [(kind, first_id) for kind in history]
    assert (one_call_live.event, one_call_live.data["call_id"]) == ("call-escalated", first_id)
    assert one_agent == [(kind, second_id) for kind in [*history, "call-escalated"]]
    assert (one_agent_live.event, one_agent_live.data["call_id"]) == ("call-status", second_id)


def test_a_resuming_stream_gets_what_it_missed_not_the_history(tmp_path, workspace, read_key):
    answered_call(workspace)
    seen = emit_marker(workspace)

    with running_server(tmp_path) as server:
        with open_stream(server, key=read_key.key) as stream:
            cursor = stream.until_event(emit_marker(workspace))[-1].id
        missed = emit_marker(workspace)
        with open_stream(
            server, key=read_key.key, params={"include_history": "true", "last_event_id": cursor}
        ) as resumed:
            events = resumed.until_event(missed)

    assert seen["event_id"] not in {event.data["event_id"] for event in events}
    assert [event.data["event_id"] for event in events] == [missed["event_id"]]


def test_include_history_must_be_a_boolean(tmp_path, workspace, read_key):
    with running_server(tmp_path) as server:
        answer = refused(server, key=read_key.key, params={"include_history": "sometimes"})

    assert answer.status_code == 400
    assert error_of(answer)["code"] == "validation_error"
