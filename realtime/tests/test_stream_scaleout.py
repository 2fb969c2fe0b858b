"""Several ASGI processes serve one deployment (docs/reference/streams.md#scale-out): every process delivers
every event to its own clients, and a subscription made on any process reaches the
connection wherever it is."""

import time

import pytest
from django.test import override_settings

from project.errors import NotFound
from project.testing import running_server
from realtime import relay
from realtime.emit import emit
from realtime.subscriptions import subscribe_call, unsubscribe_call
from realtime.tests.streaming import (
    INTERIM,
    TRANSCRIPT,
    WAIT,
    emit_exports,
    emit_marker,
    event_ids,
    export_status,
    ids,
    open_stream,
    unreachable_redis_url,
    without_control,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_every_process_delivers_every_event_to_its_own_clients_in_order(tmp_path, workspace, read_key,
                                                                         write_key):
    with running_server(tmp_path) as server_a, running_server(tmp_path) as server_b, \
            open_stream(server_a, key=read_key.key) as on_a, \
            open_stream(server_b, key=write_key.key) as on_b:
        # when
        emitted = emit_exports(workspace, 300)

        # then
        seen_on_a = without_control(on_a.until_id(300))
        seen_on_b = without_control(on_b.until_id(300))
    for seen in (seen_on_a, seen_on_b):
        assert ids(seen) == list(range(1, 301))
        assert event_ids(seen) == [envelope["event_id"] for envelope in emitted]


def test_a_subscription_made_on_any_process_reaches_only_that_connection(tmp_path, workspace,
                                                                         other_workspace, read_key,
                                                                         write_key, outsider_key):
    # given
    acme, reader = str(workspace.pk), f"key:{read_key.api_key.pk}"

    with running_server(tmp_path) as server_a, running_server(tmp_path) as server_b:
        with open_stream(server_a, key=read_key.key) as subscriber, \
                open_stream(server_b, key=write_key.key) as bystander, \
                open_stream(server_b, key=outsider_key.key) as foreigner:
            # when the REST side (here: the test process) subscribes the connection on A
            subscribe_call(workspace_id=acme, subject_id=reader, client_id=subscriber.client_id,
                           call_id="call-1")
            transcript = emit(workspace, "call-transcript", TRANSCRIPT, call="call-1")
            interim = emit(workspace, "call-interim", INTERIM, call="call-1")
            first = emit_marker(workspace)

            # then
            assert [event.data for event in without_control(subscriber.until_event(first))] == [
                transcript, interim, first]
            assert [event.data for event in without_control(bystander.until_event(first))] == [first]

            # when it unsubscribes
            unsubscribe_call(workspace_id=acme, subject_id=reader, client_id=subscriber.client_id,
                             call_id="call-1")
            emit(workspace, "call-transcript", TRANSCRIPT, call="call-1")
            emit(workspace, "call-interim", INTERIM, call="call-1")
            second = emit_marker(workspace)

            # then
            assert [event.data for event in without_control(subscriber.until_event(second))] == [second]

            # when someone subscribes a connection that is not theirs
            for client_id in (bystander.client_id, foreigner.client_id, "no-such-client"):
                with pytest.raises(NotFound) as refused:
                    subscribe_call(workspace_id=acme, subject_id=reader, client_id=client_id,
                                   call_id="call-1")
                # then
                assert refused.value.code == "unknown_client"
            with pytest.raises(NotFound):
                subscribe_call(workspace_id=str(other_workspace.pk), subject_id=reader,
                               client_id=foreigner.client_id, call_id="call-1")
            closed_client = subscriber.client_id

        # when the connection has closed, its id is unknown (it is released asynchronously)
        assert_becomes_unknown(acme, reader, closed_client)


def assert_becomes_unknown(workspace_id: str, subject_id: str, client_id: str) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            subscribe_call(workspace_id=workspace_id, subject_id=subject_id, client_id=client_id,
                           call_id="call-1")
        except NotFound as error:
            assert error.code == "unknown_client"
            return
        assert time.monotonic() < deadline, "a closed connection can still be subscribed"
        time.sleep(0.05)  # polling interval, bounded by the deadline


def test_a_client_that_moves_to_a_process_that_is_behind_gets_each_event_once(tmp_path, workspace,
                                                                               read_key, write_key):
    with running_server(tmp_path) as behind, running_server(tmp_path) as ahead, \
            open_stream(behind, key=write_key.key) as watcher:
        # given a process that has delivered event 1, and event 2 whose publish was lost
        emit_exports(workspace, 1)
        watcher.until_id(1)
        with override_settings(REDIS_URL=unreachable_redis_url()):
            lost = emit(workspace, "data-export-status", export_status(2))

        # and a client that got event 2 from another process, which read it from the database
        with open_stream(ahead, key=read_key.key, headers={"Last-Event-ID": "1"}) as elsewhere:
            [(last_seen, replayed)] = [(event.id, event.data)
                                       for event in without_control(elsewhere.until_id(2))]

        # when that client reconnects to the process that has not delivered event 2 yet
        with open_stream(behind, key=read_key.key, headers={"Last-Event-ID": last_seen}) as moved:
            assert relay.sweep_unpublished(grace_seconds=0) == 1
            after = emit_exports(workspace, 1)[0]

            # then it gets what came after its cursor, and nothing it already had
            events = without_control(moved.until_event(after))
    assert replayed == lost
    assert [(event.id, event.data) for event in events] == [("3", after)]
