"""`WS /api/v1/calls/{id}/observe` over a real server, under each ASGI server we
support: the call's events as JSON messages, then `stream-closed` and close
1000; errors as one error-shape message and close codes 4400/4401/4403/4404."""

import json
import signal
import time
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from calls import services
from calls.tests.helpers import TRANSCRIPT, place
from project.testing import SERVERS, running_server
from realtime.tests.streaming import session_cookie, ticket_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 10



def ws_url(server, call_id, **params) -> str:
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return f"{server.url.replace('http://', 'ws://')}/api/v1/calls/{call_id}/observe" + (
        f"?{query}" if query else ""
    )


def bearer(key) -> dict:
    return {"Authorization": f"Bearer {key.key}"}


class Observer:
    def __init__(self, socket):
        self.socket = socket

    def next(self) -> dict:
        return json.loads(self.socket.recv(timeout=WAIT))

    def rest(self) -> tuple[list[dict], int]:
        """Every message up to the server's close, and the close code."""
        messages = []
        for _ in range(1000):
            try:
                messages.append(self.next())
            except ConnectionClosed as closed:
                return messages, closed.rcvd.code
        raise AssertionError("the socket did not close")


@contextmanager
def observe(url, *, headers=None, origin=None):
    with connect(url, additional_headers=headers, origin=origin, open_timeout=WAIT) as socket:
        yield Observer(socket)


@pytest.fixture(params=SERVERS)
def server(request, tmp_path):
    with running_server(tmp_path, server=request.param) as running:
        running.name = request.param
        yield running


def test_an_observer_gets_the_calls_events_as_json_then_stream_closed_and_a_normal_close(
    server, workspace, read_key
):
    call, other = place(workspace), place(workspace)
    with observe(ws_url(server, call.pk), headers=bearer(read_key)) as observer:
        connected = observer.next()
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
        messages, code = observer.rest()

    assert connected["type"] == "connected"
    assert connected["data"]["stream"] == "call"
    assert connected["call_id"] == str(call.pk)
    assert [message["type"] for message in messages] == [
        "call-status",
        "call-status",
        "call-interim",
        "call-transcript",
        "call-status",
        "call-ended",
        "stream-closed",
    ]
    assert all(message["call_id"] == str(call.pk) for message in messages)
    assert messages[3]["data"]["text"] == "Hello there"
    assert code == 1000


def test_a_ticket_or_a_session_from_this_site_opens_an_observer(
    server, workspace, read_key, owner, signed_in
):
    call = place(workspace)
    ticket = ticket_for(read_key)
    cookie = {"Cookie": f"sessionid={session_cookie(signed_in(owner))}"}

    with (
        observe(ws_url(server, call.pk, ticket=ticket)) as by_ticket,
        observe(ws_url(server, call.pk), headers=cookie, origin=server.url) as by_session,
    ):
        first = [by_ticket.next()["type"], by_session.next()["type"]]
        services.call_transition(workspace=workspace, call_id=call.pk, status="canceled")
        endings = [by_ticket.rest(), by_session.rest()]

    assert first == ["connected", "connected"]
    for messages, code in endings:
        assert [message["type"] for message in messages] == ["call-status", "call-ended", "stream-closed"]
        assert code == 1000


def refusal(url, **connection) -> tuple[int, str]:
    with observe(url, **connection) as observer:
        messages, code = observer.rest()
    [error] = messages
    return code, error["error"]["code"]


def test_refusals_carry_the_error_shape_and_a_close_code_for_their_status(
    server, workspace, read_key, runtime_key, outsider_key, owner, signed_in
):
    call, ended = place(workspace), place(workspace)
    services.call_hangup(workspace=workspace, call_id=ended.pk)
    cookie = {"Cookie": f"sessionid={session_cookie(signed_in(owner))}"}
    unknown = "5b6f8e2e-0000-4000-8000-000000000000"

    answers = {
        "foreign": refusal(ws_url(server, call.pk), headers=bearer(outsider_key)),
        "unknown": refusal(ws_url(server, unknown), headers=bearer(read_key)),
        "ended": refusal(ws_url(server, ended.pk), headers=bearer(read_key)),
        "bad cursor": refusal(ws_url(server, call.pk, last_event_id="x"), headers=bearer(read_key)),
        "anonymous": refusal(ws_url(server, call.pk)),
        "used ticket": refusal(ws_url(server, call.pk, ticket="not-a-ticket")),
        "runtime key": refusal(ws_url(server, call.pk), headers=bearer(runtime_key)),
        "other site": refusal(ws_url(server, call.pk), headers=cookie, origin="https://evil.example"),
        "no such path": refusal(
            server.url.replace("http://", "ws://") + "/api/v1/nothing/here", headers=bearer(read_key)
        ),
    }

    assert answers == {
        "foreign": (4404, "not_found"),
        "unknown": (4404, "not_found"),
        "ended": (4400, "call_not_active"),
        "bad cursor": (4400, "invalid_cursor"),
        "anonymous": (4401, "not_authenticated"),
        "used ticket": (4401, "invalid_ticket"),
        "runtime key": (4403, "insufficient_scope"),
        "other site": (4403, "origin_forbidden"),
        "no such path": (4404, "not_found"),
    }


def test_a_session_socket_must_come_from_this_very_origin_checked_before_any_lookup(
    server, workspace, owner, signed_in
):
    # given a signed-in user's cookie, and the server's own origin
    call = place(workspace)
    cookie = {"Cookie": f"sessionid={session_cookie(signed_in(owner))}"}
    own = server.url  # http://127.0.0.1:<port>
    unknown = "5b6f8e2e-0000-4000-8000-000000000000"

    # when the socket comes from the same host name at another port or scheme, or
    # from another site naming a workspace or call that does not exist
    answers = {
        "other port": refusal(ws_url(server, call.pk), headers=cookie, origin="http://127.0.0.1:1"),
        "other scheme": refusal(ws_url(server, call.pk), headers=cookie,
                                origin=own.replace("http://", "https://")),
        "unknown workspace": refusal(ws_url(server, call.pk, workspace="no-such-workspace"),
                                     headers=cookie, origin="https://evil.example"),
        "unknown call": refusal(ws_url(server, unknown), headers=cookie, origin="https://evil.example"),
        "own origin, unknown call": refusal(ws_url(server, unknown), headers=cookie, origin=own),
    }

    # then only the very origin passes; the origin is refused before anything is looked up
    assert answers == {
        "other port": (4403, "origin_forbidden"),
        "other scheme": (4403, "origin_forbidden"),
        "unknown workspace": (4403, "origin_forbidden"),
        "unknown call": (4403, "origin_forbidden"),
        "own origin, unknown call": (4404, "not_found"),
    }


def test_an_observer_resumes_after_its_last_event_id(server, workspace, read_key):
    call = place(workspace)
    services.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
    with observe(ws_url(server, call.pk), headers=bearer(read_key)) as observer:
        observer.next()
        services.call_transition(workspace=workspace, call_id=call.pk, status="in-progress")
        seen = observer.next()
    missed = services.call_record_event(
        workspace=workspace, call_id=call.pk, type="call-transcript", data=TRANSCRIPT
    )
    cursor = _cursor_of(workspace, seen["event_id"])

    with observe(ws_url(server, call.pk, last_event_id=cursor), headers=bearer(read_key)) as observer:
        connected = observer.next()
        replayed = observer.next()

    assert seen["data"]["status"] == "in-progress"
    assert connected["data"]["resumed"] is True
    assert replayed["event_id"] == missed["event_id"]


def _cursor_of(workspace, event_id) -> int:
    from realtime.models import Event

    return Event.objects.get(workspace=workspace, event_id=event_id).seq


def test_a_closed_observer_frees_its_place_under_the_stream_caps(tmp_path, workspace, read_key):
    call = place(workspace)
    with running_server(tmp_path, env={"REALTIME_MAX_STREAMS_PER_PRINCIPAL": "1"}) as server:
        url = ws_url(server, call.pk)
        with observe(url, headers=bearer(read_key)) as first:
            first.next()
            over_cap = refusal(url, headers=bearer(read_key))
        admitted_again = _connected_within_the_wait(url, bearer(read_key))

    assert over_cap == (4429, "too_many_streams")
    assert admitted_again


def _connected_within_the_wait(url, headers) -> bool:
    """The cap is released once the server has seen the close: a bounded retry."""
    for _ in range(50):
        with observe(url, headers=headers) as observer:
            if observer.next()["type"] == "connected":
                return True
        time.sleep(0.1)
    return False


def test_sigterm_sends_shutdown_then_closes_with_4503(server, workspace, read_key):
    call = place(workspace)
    with observe(ws_url(server, call.pk), headers=bearer(read_key)) as observer:
        observer.next()
        server.process.send_signal(signal.SIGTERM)
        messages, code = observer.rest()

    assert [message["type"] for message in messages] == ["shutdown"]
    assert messages[0]["data"]["reconnect"] is True
    assert code == 4503
