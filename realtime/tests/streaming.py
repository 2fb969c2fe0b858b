"""Helpers for the end-to-end stream tests: open a real daphne's stream as a client
would (httpx, or a bare socket when the test decides when bytes are read), emit
events from the test process, and read what arrives."""

import hashlib
import json
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from project.redis_client import get_redis
from project.testing import SERVER_METRICS_TOKEN, SseEvent, SseReader
from realtime.emit import emit

WAIT = 10  # seconds: the bound of every wait in these tests
STREAM_PATH = "/api/v1/events/stream"
TICKET_STREAM_PATH = "/api/v1/sse/connect"
TICKET_URL = "/api/v1/auth/sse-ticket"

CAMPAIGN = {"campaign_id": "cmp_1", "status": "running", "previous_status": "draft"}
TRANSCRIPT = {"role": "agent", "text": "How can I help?", "confidence": 0.98, "language": "en-US",
              "duration_ms": 900, "words": []}
INTERIM = {"role": "user", "text": "I'd like to"}


@dataclass
class CallStandIn:
    """What emit reads from a call: its id and its agent."""

    pk: str
    agent_name: str


def call_status(call_id: str) -> dict:
    return {"call_id": call_id, "status": "ringing", "previous_status": "queued", "direction": "outbound",
            "source": "api", "from_number": "+15550100", "to_number": "+15550199", "active_calls": 1}


def export_status(number: int, *, padding: str = "") -> dict:
    return {"export_id": f"exp_{number}{padding}", "status": "running", "progress": 50.0,
            "row_count": number}


def emit_exports(workspace, count: int, *, padding: str = "") -> list[dict]:
    """`count` data-export-status events, each committed on its own; their envelopes."""
    return [emit(workspace, "data-export-status", export_status(number, padding=padding))
            for number in range(1, count + 1)]


def emit_marker(workspace) -> dict:
    """A workspace event: once a client has read it, it has read all that was emitted before."""
    return emit(workspace, "campaign-status-changed", {**CAMPAIGN, "campaign_id": f"mark_{uuid.uuid4().hex}"})


def ids(events: list[SseEvent]) -> list[int]:
    """The cursors of the persisted events, in arrival order."""
    return [int(event.id) for event in events if event.id is not None]


def event_ids(events: list[SseEvent]) -> list[str]:
    return [event.data["event_id"] for event in events]


def without_control(events: list[SseEvent]) -> list[SseEvent]:
    control = {"connected", "keep-alive", "lag-warning", "stream-reset", "shutdown", "stream-closed"}
    return [event for event in events if event.event not in control]


def ticket_for(client) -> str:
    """A ticket from POST /api/v1/auth/sse-ticket with a test client (keyed or signed in)."""
    response = client.post(TICKET_URL)
    assert response.status_code == 200, response.content
    return response.json()["ticket"]


def expire_ticket(ticket: str) -> None:
    """Lets the ticket's time run out now instead of in 30 s (Redis expires it)."""
    redis_key = "callboard:sse-ticket:" + hashlib.sha256(ticket.encode()).hexdigest()
    redis = get_redis()
    redis.pexpire(redis_key, 1)
    deadline = time.monotonic() + WAIT
    while redis.exists(redis_key):
        assert time.monotonic() < deadline, "the ticket did not expire"
        time.sleep(0.01)  # polling interval, bounded by the deadline


def unreachable_redis_url() -> str:
    """A Redis URL on a loopback port nobody listens on: publishing there fails."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def session_cookie(client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def stream_request(server, *, key: str | None = None, session: str | None = None,
                   path: str = STREAM_PATH, params: dict | None = None, headers: dict | None = None):
    """The context manager of a GET of a stream, its body not yet read."""
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    if session is not None:
        sent["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={session}"
    return httpx.stream("GET", server.url + path, params=params, headers=sent, timeout=httpx.Timeout(WAIT))


class Stream:
    """An open stream whose `connected` event has been read."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self.reader = SseReader(response)
        self.connected = self.reader.next()
        assert self.connected.event == "connected", self.connected

    @property
    def client_id(self) -> str:
        return self.connected.data["data"]["client_id"]

    def until(self, predicate) -> list[SseEvent]:
        """Events up to the first that matches (included); fails if the stream ends first."""
        events = self.reader.until(predicate)
        assert events and predicate(events[-1]), f"the stream ended first; last events: {events[-3:]}"
        return events

    def until_event(self, envelope: dict) -> list[SseEvent]:
        return self.until(lambda event: event.data.get("event_id") == envelope["event_id"])

    def until_id(self, cursor: int) -> list[SseEvent]:
        return self.until(lambda event: event.id == str(cursor))

    def until_type(self, type_name: str) -> list[SseEvent]:
        return self.until(lambda event: event.event == type_name)

    def rest(self) -> list[SseEvent]:
        """Every event until the server ends the stream."""
        return self.reader.until(lambda event: False)


@contextmanager
def open_stream(server, **request):
    """An admitted stream (200, `connected` read); closed on leaving."""
    with stream_request(server, **request) as response:
        if response.status_code != 200:
            response.read()
        assert response.status_code == 200, (response.status_code, response.text)
        # Held here: a Stream nobody references is collected, and closing its reader
        # closes the connection (a `with open_stream(...):` without `as`).
        stream = Stream(response)
        yield stream


def refused(server, **request) -> httpx.Response:
    """A stream request that must be answered with an error; the read response."""
    with stream_request(server, **request) as response:
        assert response.status_code != 200, "the stream was admitted"
        response.read()
        return response


def error_of(response: httpx.Response) -> dict:
    """The error body: JSON in the one shape, never a stream."""
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
    return body["error"]


@contextmanager
def open_stream_once_admitted(server, **request):
    """Retries a stream refused with 429 until it is admitted: a closed stream frees
    its slot asynchronously."""
    deadline = time.monotonic() + WAIT
    while True:
        with stream_request(server, **request) as response:
            if response.status_code == 200:
                stream = Stream(response)
                yield stream
                return
            response.read()
        assert response.status_code == 429, (response.status_code, response.text)
        assert time.monotonic() < deadline, "no slot was freed"
        time.sleep(0.05)  # polling interval, bounded by the deadline


def parse_frames(buffer: bytearray) -> list[SseEvent]:
    """Takes the complete SSE frames off the front of `buffer`."""
    events = []
    while (end := buffer.find(b"\n\n")) >= 0:
        frame = bytes(buffer[:end]).decode()
        del buffer[:end + 2]
        fields = dict(line.split(": ", 1) for line in frame.split("\n") if ": " in line)
        if "event" in fields:
            events.append(SseEvent(event=fields["event"], data=json.loads(fields["data"]),
                                   id=fields.get("id")))
    return events


class RawStream:
    """A stream over a bare socket with a small receive buffer: bytes move only when
    the test reads them, so it can play a client that stalls or sips."""

    def __init__(self, server, *, key: str, receive_buffer: int = 4096):
        address = urlsplit(server.url)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connecting, so the window the client advertises is small from the start.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.socket.settimeout(WAIT)
        self.socket.connect((address.hostname, address.port))
        self.socket.sendall(
            f"GET {STREAM_PATH} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Authorization: Bearer {key}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n".encode()
        )
        self._raw = bytearray()
        self._body = bytearray()
        self.ended = False  # the chunked terminator arrived: the server ended the stream
        self.status, self.headers = self._read_head()
        assert self.status == 200, self.status
        self.connected = self.read_until(lambda event: event.event == "connected")[-1]

    def _read_head(self) -> tuple[int, dict]:
        while b"\r\n\r\n" not in self._raw:
            self._receive(4096)
        head, _, rest = bytes(self._raw).partition(b"\r\n\r\n")
        self._raw = bytearray(rest)
        status_line, *lines = head.decode().split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        assert headers.get("transfer-encoding") == "chunked", headers
        return int(status_line.split()[1]), headers

    def _receive(self, size: int) -> None:
        data = self.socket.recv(size)
        if not data:
            raise ConnectionError("the server closed the connection without ending the stream")
        self._raw += data

    def _decode_chunks(self) -> None:
        raw = self._raw
        while not self.ended and (line_end := raw.find(b"\r\n")) >= 0:
            size = int(bytes(raw[:line_end]).split(b";")[0], 16)
            if size == 0:
                self.ended = True
                return
            if len(raw) < line_end + 2 + size + 2:
                return
            self._body += raw[line_end + 2:line_end + 2 + size]
            del raw[:line_end + 2 + size + 2]

    def _buffered(self) -> list[SseEvent]:
        self._decode_chunks()
        return parse_frames(self._body)

    def sip(self, size: int) -> list[SseEvent]:
        """Reads at most `size` bytes (waiting for some) and returns the events completed."""
        self._receive(size)
        return self._buffered()

    def read_until(self, predicate) -> list[SseEvent]:
        events = self._buffered()
        while not any(predicate(event) for event in events):
            assert not self.ended, f"the stream ended first; last events: {events[-3:]}"
            events += self.sip(65536)
        return events

    def read_until_end_or(self, predicate) -> list[SseEvent]:
        """Events up to the first that matches, or to the end of the stream."""
        events = self._buffered()
        while not self.ended and not any(predicate(event) for event in events):
            events += self.sip(65536)
        return events

    def read_to_end(self) -> list[SseEvent]:
        """Everything until the server ends the stream."""
        events = self._buffered()
        while not self.ended:
            events += self.sip(65536)
        return events

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.socket.close()


def resident_memory_kib(pid: int) -> int:
    """The process's resident set size (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS line")


def metric_value(server, name: str) -> float:
    """A sample of the server's /metrics, 0 when it has none yet."""
    text = httpx.get(f"{server.url}/metrics", timeout=WAIT,
                     headers={"Authorization": f"Bearer {SERVER_METRICS_TOKEN}"}).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
