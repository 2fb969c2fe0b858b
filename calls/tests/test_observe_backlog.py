"""The byte bound of a stream's backlog on the WebSocket (JSON) wire: an observer
that stops reading is closed with 4013 once about 1 MiB waits for it, far
below the event limits, and resumes with `last_event_id`, every event once."""

import socket
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from calls import services
from calls.tests.helpers import TRANSCRIPT, place
from calls.tests.test_observe import WAIT, Observer, bearer, observe, ws_url
from project.testing import SERVERS, running_server
from realtime.models import Event
from realtime.tests.streaming import metric_value

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

UTTERANCES = 250  # about 4 MB of 16 KB transcripts: far past 1 MiB, far below 1,000 events
LONG_TEXT = "y" * 16 * 1024


@pytest.fixture(params=SERVERS)
def server_name(request):
    return request.param


@pytest.fixture
def server(server_name, tmp_path):
    with running_server(tmp_path, server=server_name) as running:
        yield running


@contextmanager
def observe_sipping(url, *, headers):
    """An observer whose socket takes little before the test reads (a small kernel
    receive buffer, locked against autotuning, and a short message queue), so a
    stop in reading reaches the server at once, as a stalled browser's would.
    Without compression: deflated, the repetitive test transcripts would be a
    few dozen bytes each on the wire and never fill a socket."""
    address = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(WAIT)
    sock.connect((address.hostname, address.port))
    with connect(url, sock=sock, additional_headers=headers, open_timeout=WAIT, max_queue=2,
                 compression=None) as opened:
        yield Observer(opened)


def received_until(observer, last_event_id: str) -> tuple[list[dict], int | None]:
    """Messages up to the one with `last_event_id`, or to the close (with its code;
    None when the connection was dropped without a close frame)."""
    messages = []
    while True:
        try:
            message = observer.next()
        except ConnectionClosed as closed:
            return messages, closed.rcvd.code if closed.rcvd else None
        messages.append(message)
        if message.get("event_id") == last_event_id:
            return messages, None


def cursor_of(workspace, event_id: str) -> int:
    return Event.objects.get(workspace=workspace, event_id=event_id).seq


def test_an_observer_that_stops_reading_is_closed_with_4013_at_the_byte_bound_and_resumes_once_each(
        server, server_name, workspace, read_key):
    call = place(workspace)
    services.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
    services.call_transition(workspace=workspace, call_id=call.pk, status="in-progress")

    # given an observer that has read `connected` and then stops reading
    with observe_sipping(ws_url(server, call.pk), headers=bearer(read_key)) as stalled:
        assert stalled.next()["type"] == "connected"

        # when 250 transcripts of 16 KB are recorded
        said = [
            services.call_record_event(workspace=workspace, call_id=call.pk, type="call-transcript",
                                       data={**TRANSCRIPT, "text": f"{number} {LONG_TEXT}"})
            for number in range(UTTERANCES)
        ]

        # then what it reads ends with a 4013 close before the last of them
        received, code = received_until(stalled, said[-1]["event_id"])
    events = [message for message in received if message["type"] == "call-transcript"]
    # daphne (autobahn) drops a connection whose client does not answer its close
    # within a second: a client stalled that long reads a reset, not the 4013
    assert code == 4013 or (code is None and server_name == "daphne"), (
        f"the observer that stopped reading was not closed by the byte bound (close code {code})")
    assert metric_value(server, "callboard_stream_overflow_closes_total") >= 1

    # when it resumes from the last event it received
    cursor = cursor_of(workspace, events[-1]["event_id"])
    with observe(ws_url(server, call.pk, last_event_id=cursor), headers=bearer(read_key)) as resumed:
        assert resumed.next()["data"]["resumed"] is True
        replayed, _ = received_until(resumed, said[-1]["event_id"])

    said_ids = [envelope["event_id"] for envelope in said]
    seen = [message["event_id"] for message in events + replayed if message["type"] == "call-transcript"]
    assert seen == said_ids, "every transcript once, in order, across the close"
