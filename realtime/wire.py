"""What travels: the envelope (docs/reference/events.md#envelope), the Redis message, the SSE frame.

An event is serialized once, when it is published; every process and every
connection reuses those bytes. A Redis message is a small JSON header, a
newline, then the envelope JSON, so a process routes it by the header and
never re-encodes the envelope.
"""

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(*, event_id: str, type: str, workspace_id: str, call_id: str | None,
             timestamp: datetime, data: dict) -> dict:
    body = {"event_id": event_id, "type": type, "workspace_id": workspace_id}
    if call_id is not None:
        body["call_id"] = call_id
    body["timestamp"] = format_timestamp(timestamp)
    body["data"] = data
    return body


def dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event as a process received it: routing facts plus the encoded envelope."""

    seq: int | None  # None for ephemeral events: they have no cursor
    ts: float  # when it happened, seconds since the epoch (for lag metrics)
    type: str
    audience: str
    call_id: str | None
    agent: str | None
    envelope_json: bytes

    def encoded(self, wire: str) -> bytes:
        return self.envelope_json if wire == JSON else self.sse_frame()

    def sse_frame(self) -> bytes:
        cursor = b"id: %d\n" % self.seq if self.seq is not None else b""
        return cursor + b"event: " + self.type.encode() + b"\ndata: " + self.envelope_json + b"\n\n"


def encode_event(*, seq, ts: float, type, audience, call_id, agent, envelope_body: dict | None = None,
                 envelope_json: bytes | None = None) -> bytes:
    """The Redis message; the envelope as a dict, or already encoded (`dumps`)."""
    header = {"seq": seq, "ts": ts, "type": type, "audience": audience, "call_id": call_id,
              "agent": agent}
    return dumps(header) + b"\n" + (envelope_json if envelope_json is not None else dumps(envelope_body))


def encode_control(**fields) -> bytes:
    """A message for the processes, not for clients (e.g. subscribe a connection to a call)."""
    return dumps({"control": fields})


def decode(message: bytes) -> Delivery | dict:
    """A Delivery, or the fields of a control message."""
    head, _, envelope_json = message.partition(b"\n")
    header = json.loads(head)
    if "control" in header:
        return header["control"]
    # A message without "ts" comes from a publisher older than this field.
    return Delivery(seq=header["seq"], ts=header.get("ts", time.time()), type=header["type"],
                    audience=header["audience"],
                    call_id=header["call_id"], agent=header["agent"], envelope_json=envelope_json)


SSE, JSON = "sse", "json"


def control_envelope(type: str, data: dict, *, workspace_id: str, call_id: str | None = None) -> bytes:
    """A control event (docs/reference/events.md#control-events) for one client, in the same envelope as
    every event.

    Every connect and every keep-alive makes one, so it is written straight to
    bytes (the same bytes as dumps(envelope(...)), a test holds them equal):
    building the dict, a UUID object and a datetime per control event was a
    tenth of a reconnect storm."""
    head = b'{"event_id":"%s","type":%s,"workspace_id":%s' % (
        new_event_id().encode(), _quoted(type), _quoted(workspace_id))
    if call_id is not None:
        head += b',"call_id":' + _quoted(call_id)
    return head + b',"timestamp":"%s","data":%s}' % (timestamp_now().encode(), dumps(data))


def _quoted(text: str) -> bytes:
    return _encode_string(text).encode()


_encode_string = json.encoder.encode_basestring  # JSON string escaping, as dumps(ensure_ascii=False)
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_event_id() -> str:
    """A random (version 4) UUID as text, as str(uuid.uuid4()) at a third of the cost."""
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_last_stamp: tuple[int, str] = (-1, "")


def timestamp_now() -> str:
    """format_timestamp(now), computed once per millisecond: thousands of streams
    connect or get a keep-alive within the same one."""
    global _last_stamp
    millis = time.time_ns() // 1_000_000
    if _last_stamp[0] != millis:
        seconds, fraction = divmod(millis, 1000)
        _last_stamp = (millis, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:03d}Z")
    return _last_stamp[1]


def control_frame(type: str, data: dict, *, workspace_id: str, call_id: str | None = None,
                  wire: str = SSE) -> bytes:
    """As an SSE frame it has no `id:` line: it has no cursor, so resuming never
    skips or repeats because of it. As JSON it is the envelope alone."""
    body = control_envelope(type, data, workspace_id=workspace_id, call_id=call_id)
    if wire == JSON:
        return body
    return b"event: " + type.encode() + b"\ndata: " + body + b"\n\n"
