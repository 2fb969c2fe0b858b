"""A call's own stream over a real server (docs/reference/streams.md#endpoints): `connected`, the call's
events and no other call's, `stream-closed` when it ends, then the end of the
stream; 404 for unknown or foreign calls, 400 for ended ones."""

from contextlib import ExitStack

import httpx
import pytest
from django.db import connection

from calls import services
from calls.tests.helpers import TRANSCRIPT, place
from project.testing import running_server
from realtime.tests.streaming import emit_marker, error_of, open_stream, stream_request, ticket_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def path_of(call) -> str:
    return f"/api/v1/calls/{call.pk}/stream"


def test_a_call_stream_carries_its_call_then_closes_when_the_call_ends(tmp_path, workspace, read_key):
    call, other = place(workspace), place(workspace)
    with (
        running_server(tmp_path) as server,
        open_stream(server, key=read_key.key, path=path_of(call)) as stream,
    ):
        services.call_transition(workspace=workspace, call_id=other.pk, status="ringing")
        services.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
        services.call_transition(workspace=workspace, call_id=call.pk, status="in-progress")
        services.call_record_event(
            workspace=workspace, call_id=call.pk, type="call-interim", data={"role": "user", "text": "Hel"}
        )
        services.call_record_event(
            workspace=workspace, call_id=call.pk, type="call-transcript", data=TRANSCRIPT
        )
        services.call_hangup(workspace=workspace, call_id=call.pk)
        events = stream.rest()

    assert stream.connected.data["data"]["stream"] == "call"
    assert stream.connected.data["call_id"] == str(call.pk)
    kinds = [event.event for event in events]
    assert kinds == [
        "call-status",
        "call-status",
        "call-interim",
        "call-transcript",
        "call-status",
        "call-ended",
        "stream-closed",
    ]
    assert all(event.data["call_id"] == str(call.pk) for event in events)
    assert events[-1].data["data"] == {"reason": "call-ended"}


def test_unknown_foreign_and_ended_calls_get_errors_not_streams(tmp_path, workspace, read_key, outsider_key):
    call, ended = place(workspace), place(workspace)
    services.call_hangup(workspace=workspace, call_id=ended.pk)

    with running_server(tmp_path) as server:
        answers = {}
        for name, key, path in [
            ("foreign", outsider_key.key, path_of(call)),
            ("unknown", read_key.key, "/api/v1/calls/5b6f8e2e-0000-4000-8000-000000000000/stream"),
            ("malformed", read_key.key, "/api/v1/calls/nope/stream"),
            ("ended", read_key.key, path_of(ended)),
            ("anonymous", None, path_of(call)),
        ]:
            with stream_request(server, key=key, path=path) as response:
                response.read()
                answers[name] = (response.status_code, error_of(response)["code"])

    assert answers == {
        "foreign": (404, "not_found"),
        "unknown": (404, "not_found"),
        "malformed": (404, "not_found"),
        "ended": (400, "call_not_active"),
        "anonymous": (401, "not_authenticated"),
    }


def test_a_cursor_of_digits_that_are_not_ascii_is_a_400_on_the_call_stream(tmp_path, workspace, read_key):
    call = place(workspace)

    with running_server(tmp_path) as server:
        answers = []
        for request in ({"headers": {"Last-Event-ID": b"\xb2"}}, {"params": {"last_event_id": "²"}},
                        {"params": {"last_event_id": "١٢"}}):
            with stream_request(server, key=read_key.key, path=path_of(call), **request) as response:
                response.read()
                answers.append((response.status_code, error_of(response)["code"]))

    assert answers == [(400, "invalid_cursor")] * 3


def test_a_ticket_opens_a_call_stream(tmp_path, workspace, read_key):
    call = place(workspace)
    ticket = ticket_for(read_key)

    with (
        running_server(tmp_path) as server,
        open_stream(server, path=path_of(call), params={"ticket": ticket}) as stream,
    ):
        services.call_transition(workspace=workspace, call_id=call.pk, status="canceled")
        events = stream.rest()

    assert [event.event for event in events] == ["call-status", "call-ended", "stream-closed"]


def test_a_dashboard_stream_gets_a_calls_speech_while_subscribed_to_it(
    tmp_path, workspace, read_key, write_key
):
    call = place(workspace)
    services.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
    services.call_transition(workspace=workspace, call_id=call.pk, status="in-progress")
    subscribe_url, unsubscribe_url = (
        f"/api/v1/calls/{call.pk}/subscribe",
        f"/api/v1/calls/{call.pk}/unsubscribe",
    )

    with running_server(tmp_path) as server, open_stream(server, key=read_key.key) as dashboard:
        not_yours = write_key.post(subscribe_url, {"client_id": dashboard.client_id})
        subscribed = read_key.post(subscribe_url, {"client_id": dashboard.client_id})
        heard = services.call_record_event(
            workspace=workspace, call_id=call.pk, type="call-transcript", data=TRANSCRIPT
        )
        while_subscribed = dashboard.until_event(heard)
        unsubscribed = read_key.post(unsubscribe_url, {"client_id": dashboard.client_id})
        services.call_record_event(
            workspace=workspace,
            call_id=call.pk,
            type="call-transcript",
            data={**TRANSCRIPT, "text": "not for you"},
        )
        after = dashboard.until_event(emit_marker(workspace))

    assert subscribed.status_code == 200 and subscribed.json()["subscribed"] is True
    assert not_yours.status_code == 404 and not_yours.json()["error"]["code"] == "unknown_client"
    assert while_subscribed[-1].event == "call-transcript"
    assert unsubscribed.status_code == 200 and unsubscribed.json()["subscribed"] is False
    assert [event.event for event in after] == ["campaign-status-changed"]


def test_subscribing_to_another_workspaces_call_is_not_found(workspace, other_workspace, outsider_key):
    call = place(workspace)

    response = outsider_key.post(f"/api/v1/calls/{call.pk}/subscribe", {"client_id": "abc"})

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_open_call_streams_hold_no_database_connection_of_the_pool(tmp_path, workspace, read_key):
    if connection.vendor != "postgresql":
        pytest.skip("the connection pool is PostgreSQL's")
    calls = [place(workspace) for _ in range(4)]
    pool = {
        "DATABASE_POOL_MIN_SIZE": "1",
        "DATABASE_POOL_MAX_SIZE": "2",
        "DATABASE_POOL_TIMEOUT_SECONDS": "3",
    }

    with running_server(tmp_path, env=pool) as server, ExitStack() as streams:
        # More open call streams than the pool has connections: each was served in
        # a request thread of its own that kept its connection for the stream's life.
        opened = [
            streams.enter_context(open_stream(server, key=read_key.key, path=path_of(call))) for call in calls
        ]
        listed = httpx.get(
            server.url + "/api/v1/calls", headers={"Authorization": f"Bearer {read_key.key}"}, timeout=10
        )

    assert [stream.connected.data["call_id"] for stream in opened] == [str(call.pk) for call in calls]
    assert listed.status_code == 200 and listed.json()["total_count"] == 4
