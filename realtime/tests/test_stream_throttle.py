"""The stream endpoints authenticate on their own fast path (realtime/asgi.py)
and WebSocket: failed bearer keys throttle a client address there too, with
429 `too_many_failed_attempts` (4429 on a socket) before any key lookup."""

import json
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from project.testing import running_server
from realtime.tests.streaming import STREAM_PATH, error_of, refused
from workspaces.keys import generate_key

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIMIT = 2
WAIT = 10
SERVER_ENV = {"API_KEY_FAILURE_LIMIT": str(LIMIT), "API_KEY_FAILURE_WINDOW_SECONDS": "60"}


def wrong_key() -> str:
    return generate_key().plaintext


def stream_status_from(server, address: str, key: str) -> int:
    """The status of a stream connect made from another loopback address."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=WAIT) as client, client.stream(
            "GET", server.url + STREAM_PATH, headers={"Authorization": f"Bearer {key}"}) as response:
        return response.status_code


def test_the_stream_fast_path_refuses_a_throttled_address_with_429(tmp_path, workspace, read_key):
    with running_server(tmp_path, env=SERVER_ENV) as server:
        # when one address presents LIMIT wrong keys, then a wrong and a right one
        failures = [refused(server, key=wrong_key()).status_code for _ in range(LIMIT)]
        throttled = refused(server, key=wrong_key())
        valid_key = refused(server, key=read_key.key)
        # and another address connects with the right key
        neighbour = stream_status_from(server, "127.0.0.2", read_key.key)

    # then
    assert failures == [401] * LIMIT
    for response in (throttled, valid_key):
        assert response.status_code == 429
        error = error_of(response)
        assert error["code"] == "too_many_failed_attempts"
        assert int(response.headers["retry-after"]) >= 1
    assert neighbour == 200


def observe(server, key: str) -> tuple[dict, int]:
    """The one error message and the close code of a refused observer socket."""
    url = f"{server.url.replace('http://', 'ws://')}/api/v1/calls/{uuid.uuid4()}/observe"
    with connect(url, additional_headers={"Authorization": f"Bearer {key}"},
                 open_timeout=WAIT) as socket:
        message = json.loads(socket.recv(timeout=WAIT))
        try:
            socket.recv(timeout=WAIT)
        except ConnectionClosed as closed:
            return message, closed.rcvd.code
    raise AssertionError("the socket did not close")


def test_a_websocket_from_a_throttled_address_is_refused_with_4429(tmp_path, workspace):
    with running_server(tmp_path, env=SERVER_ENV) as server:
        # when sockets present LIMIT wrong keys, then another
        failures = [observe(server, wrong_key())[1] for _ in range(LIMIT)]
        message, code = observe(server, wrong_key())

    # then
    assert failures == [4401] * LIMIT
    assert code == 4429
    assert message["error"]["code"] == "too_many_failed_attempts"
    assert message["error"]["details"]["retry_after"] >= 1
