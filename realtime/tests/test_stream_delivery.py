"""What a connected client receives live (docs/reference/events.md#envelope, docs/reference/streams.md):
every committed event, once, in
order, as its envelope; nothing rolled back; only what its filters and subscriptions ask for."""

import json

import pytest
from django.db import transaction
from django.test import override_settings

from project.redis_client import get_redis
from project.testing import running_server
from realtime import relay
from realtime.channels import workspace_channel
from realtime.emit import emit
from realtime.models import Event
from realtime.subscriptions import subscribe_call
from realtime.tests.streaming import (
    CAMPAIGN,
    INTERIM,
    TRANSCRIPT,
    CallStandIn,
    call_status,
    emit_exports,
    emit_marker,
    error_of,
    event_ids,
    export_status,
    ids,
    open_stream,
    refused,
    unreachable_redis_url,
    without_control,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Rollback(Exception):
    pass


def test_committed_events_arrive_live_in_order_as_their_envelopes_even_in_a_burst(tmp_path, workspace,
                                                                                 read_key):
    with running_server(tmp_path) as server, open_stream(server, key=read_key.key) as stream:
        # when 1,000 events are committed one after another
        burst = emit_exports(workspace, 1000)

        # then
        events = without_control(stream.until_id(1000))
        assert ids(events) == list(range(1, 1001))
        assert event_ids(events) == [envelope["event_id"] for envelope in burst]
        assert [event.data["data"]["row_count"] for event in events] == list(range(1, 1001))

        # when events of several kinds follow
        with transaction.atomic():
            export = emit(workspace, "data-export-status", export_status(7))
        campaign = emit(workspace, "campaign-status-changed", CAMPAIGN)
        status = emit(workspace, "call-status", call_status("call-9"), call=CallStandIn("call-9", "sales"))

        # then each arrives as the envelope of its row
        events = without_control(stream.until_event(status))
    assert [event.data for event in events] == [export, campaign, status]
    assert [event.event for event in events] == ["data-export-status", "campaign-status-changed",
                                                 "call-status"]
    assert ids(events) == [1001, 1002, 1003]
    for event in events:
        row = Event.objects.get(workspace=workspace, seq=int(event.id))
        assert event.data == relay.envelope_of(row)
        assert event.data["event_id"] == str(row.event_id)
        assert event.data["workspace_id"] == str(workspace.pk)
        assert event.data["timestamp"] == row.occurred_at.isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
    assert events[2].data["call_id"] == "call-9"
    assert "call_id" not in events[0].data


def test_rolled_back_events_and_call_events_nobody_subscribed_to_never_arrive(tmp_path, workspace,
                                                                               read_key):
    with running_server(tmp_path) as server, open_stream(server, key=read_key.key) as stream:
        # when the transaction rolls back
        with pytest.raises(Rollback), transaction.atomic():
            emit(workspace, "data-export-status", export_status(1))
            emit(workspace, "call-interim", INTERIM, call="call-1")
            raise Rollback
        # and when a call event is emitted that the connection did not subscribe to
        emit(workspace, "call-interim", INTERIM, call="call-1")
        emit(workspace, "call-transcript", TRANSCRIPT, call="call-1")
        first = emit_marker(workspace)

        # then
        events = without_control(stream.until_event(first))
        assert [(event.id, event.data) for event in events] == [("2", first)]

        # when the connection subscribes to the call
        subscribe_call(workspace_id=str(workspace.pk), subject_id=f"key:{read_key.api_key.pk}",
                       client_id=stream.client_id, call_id="call-1")
        interim = emit(workspace, "call-interim", INTERIM, call="call-1")
        word = emit(workspace, "call-tts-word", {"word": "Hello", "offset_ms": 120}, call="call-1")
        emit(workspace, "call-interim", INTERIM, call="call-2")
        second = emit_marker(workspace)

        # then its ephemeral events arrive live, without a cursor
        events = without_control(stream.until_event(second))
    assert [event.data for event in events] == [interim, word, second]
    assert [event.id for event in events] == [None, None, "3"]


def test_filters_deliver_only_the_named_types_calls_and_agents(tmp_path, workspace, read_key):
    # given
    sales_call, helpdesk_call = CallStandIn("call-1", "sales"), CallStandIn("call-2", "helpdesk")
    key = read_key.key
    types = {"event_types": "data-export-status, call-status"}

    with running_server(tmp_path) as server, \
            open_stream(server, key=key, params=types) as by_type, \
            open_stream(server, key=key, params={"call_id": "call-1"}) as by_call, \
            open_stream(server, key=key, params={"agent": "helpdesk"}) as by_agent:
        # when
        emit(workspace, "campaign-status-changed", CAMPAIGN)
        emit(workspace, "call-status", call_status("call-1"), call=sales_call)
        emit(workspace, "call-status", call_status("call-2"), call=helpdesk_call)
        emit(workspace, "call-status", call_status("call-3"), call="call-3")
        emit(workspace, "campaign-status-changed", CAMPAIGN)
        last_of_call = emit(workspace, "call-status", call_status("call-1"), call=sales_call)
        last_of_agent = emit(workspace, "call-status", call_status("call-2"), call=helpdesk_call)
        last_of_type = emit(workspace, "data-export-status", export_status(1))

        # then
        of_type = without_control(by_type.until_event(last_of_type))
        about_call = without_control(by_call.until_event(last_of_call))
        about_agent = without_control(by_agent.until_event(last_of_agent))

        # when
        unknown = refused(server, key=key, params={"event_types": "data-export-status,call-teleported"})

    # then
    assert ids(of_type) == [2, 3, 4, 6, 7, 8]
    assert {event.event for event in of_type} == {"call-status", "data-export-status"}
    assert ids(about_call) == [2, 6]
    assert {event.data["call_id"] for event in about_call} == {"call-1"}
    assert ids(about_agent) == [3, 7]
    assert {event.data["call_id"] for event in about_agent} == {"call-2"}
    assert unknown.status_code == 400
    error = error_of(unknown)
    assert error["code"] == "unknown_event_type"
    assert error["details"]["unknown"] == ["call-teleported"]
    assert {"data-export-status", "call-status", "notification"} <= set(error["details"]["valid"])
    assert "call-teleported" in error["message"] and "data-export-status" in error["message"]


def test_a_silent_stream_gets_keep_alives(tmp_path, workspace, read_key):
    with running_server(tmp_path, env={"REALTIME_KEEPALIVE_SECONDS": "1"}) as server, \
            open_stream(server, key=read_key.key) as stream:
        # when nothing happens for a second
        [keep_alive] = stream.until_type("keep-alive")

        # then
        assert keep_alive.id is None
        assert set(keep_alive.data["data"]) == {"server_time"}
        assert stream.connected.data["data"]["keepalive_seconds"] == 1

        # and events still flow after it
        envelope = emit_exports(workspace, 1)[0]
        assert without_control(stream.until_event(envelope))[-1].data == envelope


def test_the_sweeper_delivers_an_event_whose_publish_was_lost_exactly_once(tmp_path, workspace,
                                                                           read_key):
    with running_server(tmp_path) as server, open_stream(server, key=read_key.key) as stream:
        # given
        first = emit_exports(workspace, 1)[0]
        stream.until_event(first)
        with override_settings(REDIS_URL=unreachable_redis_url()):
            lost = emit(workspace, "data-export-status", export_status(2))
        assert relay.waiting_for_publish().filter(event_id=lost["event_id"]).exists()

        # when
        assert relay.sweep_unpublished(grace_seconds=0) == 1

        # then
        repaired = without_control(stream.until_event(lost))
        assert relay.sweep_unpublished(grace_seconds=0) == 0
        after = emit_exports(workspace, 1)[0]
        rest = without_control(stream.until_event(after))
    assert [event.data for event in repaired] == [lost]
    assert ids(repaired + rest) == [2, 3]
    assert [event.data for event in rest] == [after]


def test_a_message_the_server_cannot_read_does_not_stop_delivery(tmp_path, workspace, read_key):
    with running_server(tmp_path) as server, open_stream(server, key=read_key.key) as stream:
        # given a message on the workspace's channel in the previous release's format (its
        # header had no "ts"), as an old worker publishes it during a rolling deploy
        header = {"seq": None, "type": "call-interim", "audience": "call", "call_id": "call-1", "agent": None}
        get_redis().publish(workspace_channel(str(workspace.pk)), json.dumps(header) + "\n{}")

        # when
        envelope = emit_exports(workspace, 1)[0]

        # then the events after it still arrive
        events = without_control(stream.until_event(envelope))
    assert [(event.id, event.data) for event in events] == [("1", envelope)]
