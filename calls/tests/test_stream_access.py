"""A call's own streams end when access is taken away or at their maximum lifetime,
like the workspace stream (docs/streams.md): SSE with `stream-closed`
(`access-revoked`) or `shutdown`; the WebSocket with the error shape and 4401,
or `shutdown` and 4503. Under each ASGI server we support."""

import time

import pytest

from calls import services as calls
from calls.tests.helpers import place
from calls.tests.test_observe import bearer, observe, ws_url
from project.testing import SERVERS, running_server
from realtime.tests.streaming import open_stream
from workspaces import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEADLINE = 2.0  # seconds: the contract's bound from the revocation to the stream's end


@pytest.fixture(params=SERVERS)
def server(request, tmp_path):
    with running_server(tmp_path, server=request.param) as running:
        yield running


@pytest.fixture(params=SERVERS)
def short_lived_server(request, tmp_path):
    with running_server(tmp_path, server=request.param,
                        env={"REALTIME_MAX_STREAM_SECONDS": "3"}) as running:
        yield running


def test_a_revoked_keys_call_streams_end_on_both_wires(server, workspace, read_key, write_key):
    # given the key's call stream over SSE and over WebSocket, and another key's observer
    call = place(workspace)
    with open_stream(server, key=read_key.key, path=f"/api/v1/calls/{call.pk}/stream") as sse, \
            observe(ws_url(server, call.pk), headers=bearer(read_key)) as socket, \
            observe(ws_url(server, call.pk), headers=bearer(write_key)) as bystander:
        socket.next()
        bystander.next()

        # when
        services.api_key_revoke(workspace=workspace, key_id=read_key.api_key.pk)
        revoked_at = time.monotonic()
        sse_ending = sse.rest()
        socket_ending, code = socket.rest()
        ended_after = time.monotonic() - revoked_at

        # then the other key's observer still follows the call
        calls.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
        followed = bystander.next()

    assert ended_after <= DEADLINE
    assert [(event.event, event.data["data"]) for event in sse_ending] == [
        ("stream-closed", {"reason": "access-revoked"})]
    assert socket_ending == [{"error": {"code": "api_key_revoked", "message": "The API key has been revoked.",
                                        "details": {}}}]
    assert code == 4401
    assert followed["type"] == "call-status"


def test_a_call_stream_at_its_maximum_lifetime_ends_with_shutdown_on_both_wires(short_lived_server,
                                                                              workspace, read_key):
    server = short_lived_server
    call = place(workspace)
    with open_stream(server, key=read_key.key, path=f"/api/v1/calls/{call.pk}/stream") as sse, \
            observe(ws_url(server, call.pk), headers=bearer(read_key)) as socket:
        socket.next()

        # when the lifetime (3 s, less up to a tenth) runs out
        sse_ending = sse.rest()
        socket_ending, code = socket.rest()

    # then
    assert [event.event for event in sse_ending] == ["shutdown"]
    assert [message["type"] for message in socket_ending] == ["shutdown"]
    assert socket_ending[0]["data"]["reconnect"] is True
    assert code == 4503
