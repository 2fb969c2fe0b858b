"""Who may open the workspace stream, and how (docs/reference/rest.md#sse-tickets,
docs/reference/streams.md#endpoints): bearer key,
session cookie or single-use ticket; everything else is a JSON error, never a stream."""

import time

import pytest

from project.testing import running_server
from realtime.emit import emit
from realtime.tests.streaming import (
    TICKET_STREAM_PATH,
    emit_exports,
    emit_marker,
    error_of,
    expire_ticket,
    open_stream,
    parse_frames,
    refused,
    session_cookie,
    stream_request,
    ticket_for,
    without_control,
)
from workspaces import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def read_preamble(response) -> tuple[bytes, list]:
    """The first bytes of a stream, up to and including its `connected` event."""
    received = bytearray()
    for chunk in response.iter_bytes():
        received += chunk
        events = parse_frames(bytearray(received))
        if any(event.event == "connected" for event in events):
            return bytes(received), events
    raise AssertionError(f"the stream ended before `connected`: {bytes(received)!r}")


def test_a_bearer_key_or_a_session_cookie_opens_an_event_stream_starting_with_retry_and_connected(
        tmp_path, workspace, read_key, owner, signed_in):
    # given
    session = session_cookie(signed_in(owner))

    with running_server(tmp_path) as server:
        # when
        with stream_request(server, key=read_key.key) as response:
            preamble, events = read_preamble(response)
        with open_stream(server, session=session) as by_session:
            envelope = emit_exports(workspace, 1)[0]
            [event] = by_session.until_event(envelope)

    # then
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert preamble.startswith(b"retry: ")
    [connected] = events
    assert connected.id is None
    assert connected.data["type"] == "connected"
    assert connected.data["workspace_id"] == str(workspace.pk)
    data = connected.data["data"]
    assert set(data) == {"client_id", "stream", "resumed", "server_time", "keepalive_seconds"}
    assert data["client_id"]
    assert data["stream"] == "workspace"
    assert data["resumed"] is False
    assert isinstance(data["keepalive_seconds"], int) and data["keepalive_seconds"] > 0
    # the session's stream is the user's workspace's
    assert by_session.connected.data["workspace_id"] == str(workspace.pk)
    assert by_session.client_id != data["client_id"]
    assert (event.id, event.data) == ("1", envelope)


def test_a_stream_request_without_read_access_is_a_json_error_not_a_stream(tmp_path, workspace,
                                                                          runtime_key):
    with running_server(tmp_path) as server:
        # when
        anonymous = refused(server)
        bad_key = refused(server, key=runtime_key.key[:-4] + "abcd")
        runtime_only = refused(server, key=runtime_key.key)
        no_ticket = refused(server, path=TICKET_STREAM_PATH, params={"ticket": ""})

    # then
    assert anonymous.status_code == 401
    assert error_of(anonymous)["code"] == "not_authenticated"
    assert bad_key.status_code == 401
    assert runtime_only.status_code == 403
    assert error_of(runtime_only)["code"] == "insufficient_scope"
    assert no_ticket.status_code == 401
    assert error_of(no_ticket)["code"] == "invalid_ticket"


def test_a_ticket_opens_one_stream_of_its_workspace_once_and_never_reaches_the_log(
        tmp_path, workspace, read_key, other_workspace, outsider, signed_in):
    # given
    ticket = ticket_for(read_key)
    outsiders_ticket = ticket_for(signed_in(outsider, enforce_csrf=False))
    expired = ticket_for(read_key)
    expire_ticket(expired)

    with running_server(tmp_path, env={"LOG_LEVEL": "DEBUG"}) as server:
        # when
        with open_stream(server, path=TICKET_STREAM_PATH, params={"ticket": ticket}) as stream:
            ours = emit_exports(workspace, 1)[0]
            [event] = stream.until_event(ours)
        again = refused(server, path=TICKET_STREAM_PATH, params={"ticket": ticket})
        unknown = refused(server, path=TICKET_STREAM_PATH, params={"ticket": "not-a-ticket-" + "x" * 30})
        too_late = refused(server, path=TICKET_STREAM_PATH, params={"ticket": expired})
        with open_stream(server, path=TICKET_STREAM_PATH, params={"ticket": outsiders_ticket}) as theirs:
            emit_exports(workspace, 2)
            emit(workspace, "call-interim", {"role": "user", "text": "acme"}, call="call-1")
            globex_event = emit_marker(other_workspace)
            seen_by_outsider = without_control(theirs.until_event(globex_event))

    # then
    assert stream.connected.data["data"]["stream"] == "workspace"
    assert event.data == ours
    for answer in (again, unknown, too_late):
        assert answer.status_code == 401
        assert error_of(answer)["code"] == "invalid_ticket"
    # the outsider's ticket streams globex, and nothing of acme
    assert theirs.connected.data["workspace_id"] == str(other_workspace.pk)
    assert [(seen.id, seen.data) for seen in seen_by_outsider] == [("1", globex_event)]
    log = server.log()
    assert "/api/v1/sse/connect" in log, "the server logged no request: the check below would prove nothing"
    for secret in (ticket, outsiders_ticket, expired):
        assert secret not in log


def test_a_revoked_key_opens_no_stream_once_the_key_cache_time_has_passed(tmp_path, workspace, read_key):
    # given a server that remembers verified keys for half a second, and a stream it admitted
    with running_server(tmp_path, env={"API_KEY_CACHE_SECONDS": "0.5"}) as server:
        with open_stream(server, key=read_key.key) as before:
            pass

        # when the key is revoked (in another process than the server's) and the time passes
        services.api_key_revoke(workspace=workspace, key_id=read_key.api_key.pk)
        time.sleep(0.6)
        after = refused(server, key=read_key.key)

    # then
    assert before.connected.data["type"] == "connected"
    assert after.status_code == 401
    assert error_of(after)["code"] == "api_key_revoked"
