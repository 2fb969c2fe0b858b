"""Resuming a stream (docs/reference/streams.md#resume): a client that comes back with its last cursor gets
every
persisted event it missed, once and in order, then live ones; a cursor is a position in
the caller's own workspace only; history that is gone is a stream-reset, not a silent gap."""

import httpx
import pytest

from project.testing import running_server
from realtime.emit import emit
from realtime.models import Event
from realtime.tests.streaming import (
    WAIT,
    call_status,
    emit_exports,
    error_of,
    event_ids,
    ids,
    open_stream,
    refused,
    without_control,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FOREIGN_CURSORS = ["globex:5", "1,2", "-1", "abc", "1.5", "12345678901234567890"]

# A gap up to REALTIME_REPLAY_SHARED_EVENTS is replayed from pages shared by the
# process's streams (realtime/pages.py); a longer one is read for the stream alone.
# These tests' gaps go down each path, with pages of 2 so that a gap spans several.
REPLAY_PATHS = pytest.mark.parametrize(
    "replay_env",
    [{"REALTIME_REPLAY_BATCH": "2"}, {"REALTIME_REPLAY_BATCH": "2", "REALTIME_REPLAY_SHARED_EVENTS": "0"}],
    ids=["shared-pages", "own-read"])


@REPLAY_PATHS
def test_a_client_that_reconnects_gets_exactly_the_missed_events_then_live_ones(tmp_path, workspace,
                                                                                read_key, replay_env):
    with running_server(tmp_path, env=replay_env) as server:
        # given a client that read three events and went away
        with open_stream(server, key=read_key.key) as first:
            emit_exports(workspace, 3)
            last_seen = first.until_id(3)[-1].id
        missed = emit_exports(workspace, 4)

        # when it comes back with the Last-Event-ID header
        with open_stream(server, key=read_key.key, headers={"Last-Event-ID": last_seen}) as second:
            replayed = without_control(second.until_id(7))
            live = emit_exports(workspace, 1)
            after_replay = without_control(second.until_id(8))
        missed_again = emit_exports(workspace, 2)

        # and when a client that cannot set headers comes back with last_event_id
        with open_stream(server, key=read_key.key, params={"last_event_id": "8"}) as third:
            replayed_again = without_control(third.until_id(10))

    # then
    assert first.connected.data["data"]["resumed"] is False
    assert second.connected.data["data"]["resumed"] is True
    assert third.connected.data["data"]["resumed"] is True
    assert ids(replayed) == [4, 5, 6, 7]
    assert [event.data for event in replayed] == missed
    assert [(event.id, event.data) for event in after_replay] == [("8", live[0])]
    assert [event.data for event in replayed_again] == missed_again


def test_a_cursor_means_a_position_in_the_callers_own_workspace_only(tmp_path, workspace, other_workspace,
                                                                    read_key, outsider_key):
    # given both workspaces have events, some about a call id they both use
    for number in range(1, 4):
        emit(workspace, "call-status", call_status("call-shared"), call="call-shared")
        emit_exports(other_workspace, number)
        emit(other_workspace, "call-status", call_status("call-shared"), call="call-shared")
    resumes = [
        {"headers": {"Last-Event-ID": "0"}},
        {"params": {"last_event_id": "1"}},
        {"params": {"last_event_id": "0", "call_id": "call-shared"}},
        {"params": {"last_event_id": "0", "event_types": "call-status,data-export-status"}},
    ]

    with running_server(tmp_path) as server:
        # when a cursor in any other form is presented
        foreign = [refused(server, key=read_key.key, headers={"Last-Event-ID": cursor})
                   for cursor in FOREIGN_CURSORS]
        foreign.append(refused(server, key=read_key.key, params={"last_event_id": "globex:5"}))
        # digits that are not ASCII: '²' as a latin-1 header byte, others in the query
        foreign.append(refused(server, key=read_key.key, headers={"Last-Event-ID": b"\xb2"}))
        foreign += [refused(server, key=read_key.key, params={"last_event_id": cursor})
                    for cursor in ("²", "١٢")]

        # when acme's client resumes whatever the cursor and filters, while globex goes on
        seen_by_acme = []
        for resume in resumes:
            with open_stream(server, key=read_key.key, **resume) as stream:
                emit(other_workspace, "call-status", call_status("call-shared"), call="call-shared")
                mine = emit(workspace, "call-status", call_status("call-shared"), call="call-shared")
                seen_by_acme += without_control(stream.until_event(mine))

        # when globex's client resumes from the start of its history
        with open_stream(server, key=outsider_key.key, headers={"Last-Event-ID": "0"}) as globex:
            seen_by_globex = without_control(globex.until_id(10))

    # then
    for answer in foreign:
        assert answer.status_code == 400
        assert error_of(answer)["code"] == "invalid_cursor"
    acme_events = {str(row.event_id) for row in Event.objects.filter(workspace=workspace)}
    globex_events = [str(row.event_id) for row in Event.objects.filter(workspace=other_workspace)
                     .order_by("seq")]
    assert seen_by_acme, "acme's client saw nothing: the check below would prove nothing"
    assert {event.data["workspace_id"] for event in seen_by_acme} == {str(workspace.pk)}
    assert set(event_ids(seen_by_acme)) <= acme_events
    assert ids(seen_by_acme[:4]) == [1, 2, 3, 4]  # from 0: all of acme's, then the live one
    assert {event.data["workspace_id"] for event in seen_by_globex} == {str(other_workspace.pk)}
    assert event_ids(seen_by_globex) == globex_events[:10]


@REPLAY_PATHS
def test_a_cursor_outside_the_retained_history_gets_stream_reset_then_live_events(tmp_path, workspace,
                                                                                 read_key, replay_env):
    # given the oldest events are gone, as trimming deletes them
    emit_exports(workspace, 5)
    Event.objects.filter(workspace=workspace, seq__lte=3).delete()

    with running_server(tmp_path, env=replay_env) as server:
        # when a client resumes from before what is left
        with open_stream(server, key=read_key.key, headers={"Last-Event-ID": "1"}) as expired:
            [expired_reset] = expired.until_type("stream-reset")
            live = emit_exports(workspace, 1)[0]
            after_expired = without_control(expired.until_event(live))

        # when a client resumes from just before the oldest event left
        with open_stream(server, key=read_key.key, headers={"Last-Event-ID": "3"}) as at_the_edge:
            from_the_edge = without_control(at_the_edge.until_id(6))

        # when a client presents a cursor the workspace has not reached
        with open_stream(server, key=read_key.key, headers={"Last-Event-ID": "100"}) as ahead:
            [ahead_reset] = ahead.until_type("stream-reset")
            next_live = emit_exports(workspace, 1)[0]
            after_ahead = without_control(ahead.until_event(next_live))

    # then
    assert expired_reset.id is None
    assert expired_reset.data["data"] == {"reason": "cursor-expired", "oldest_available": "4"}
    assert [(event.id, event.data) for event in after_expired] == [("6", live)]
    assert ids(from_the_edge) == [4, 5, 6]
    assert ahead_reset.data["data"]["reason"] == "cursor-ahead"
    assert [(event.id, event.data) for event in after_ahead] == [("7", next_live)]


def test_a_client_resumes_exactly_where_it_was_after_the_server_was_killed(tmp_path, workspace, read_key):
    # given a client that read three events from a server that then dies without a word
    with running_server(tmp_path) as first_server, open_stream(first_server, key=read_key.key) as stream:
        emit_exports(workspace, 3)
        last_seen = stream.until_id(3)[-1].id
        first_server.process.kill()
        first_server.process.wait(WAIT)
        with pytest.raises(httpx.TransportError):
            stream.rest()  # cut off, not ended: no terminating chunk
    missed = emit_exports(workspace, 4)

    # when it reconnects to a new server with its last cursor
    with running_server(tmp_path) as second_server, \
            open_stream(second_server, key=read_key.key, headers={"Last-Event-ID": last_seen}) as resumed:
        replayed = without_control(resumed.until_id(7))
        live = emit_exports(workspace, 1)[0]
        after_replay = without_control(resumed.until_id(8))

    # then
    assert [(event.id, event.data) for event in replayed] == [(str(seq), envelope)
                                                               for seq, envelope in zip(range(4, 8), missed,
                                                                                        strict=True)]
    assert [(event.id, event.data) for event in after_replay] == [("8", live)]
