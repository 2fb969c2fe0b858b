"""Simulated voice runtimes posting to the ingest API while per-call streams read
what comes out: the end-to-end benchmark (runtime → database → outbox → stream).

    python -m bench.ingestgen --port 8000 --runtime-key cbk_... --read-key cbk_... \
        --calls ID,ID,... --senders 20 --batch 50 --duration 10 --ephemeral-share 0.5

Every sender is one runtime with one keep-alive connection, posting a batch,
waiting for the answer, posting the next (as a runtime does), to its own call.
Every item carries its batch's send time and a sequence number in the text the
stream shows (`"text":"t=<time>#<sender>#<n>"`), so the reader of the call's
stream (`GET /calls/{id}/stream`, one per call) measures the time from the
ingest request to receipt and finds what was lost or doubled. Prints one JSON
object at the end. Loopback only; every loop is bounded by the duration or by
a timeout.
"""

import argparse
import asyncio
import json
import re
import sys
import time
import uuid

import uvloop

MARK = re.compile(rb'"(?:text|word)":"t=([0-9.]+)#(\d+)#(\d+)"')
MAX_BUFFER = 4 * 1024 * 1024


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class CallStream(asyncio.Protocol):
    """Reads one call's SSE stream (chunked) and counts the marked events."""

    def __init__(self, results: "Results", request: bytes):
        self.results = results
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.raw = bytearray()
        self.body = bytearray()
        self.head_done = False
        self.connected = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.raw += data
        if not self.head_done:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.raw[:end])
            del self.raw[: end + 4]
            self.head_done = True
            if not head.startswith(b"HTTP/1.1 200"):
                self.connected.set_exception(RuntimeError(head.split(b"\r\n", 1)[0].decode()))
                return
        self._dechunk()
        if not self.connected.done() and b"event: connected" in self.body:
            self.connected.set_result(None)
        cut = self.body.rfind(b"\n\n")
        if cut >= 0:
            self.results.received(bytes(self.body[: cut + 2]), now)
            del self.body[: cut + 2]
        if len(self.body) > MAX_BUFFER:
            raise RuntimeError("a stream sent more than MAX_BUFFER without an event boundary")

    def _dechunk(self) -> None:
        raw = self.raw
        while True:
            line_end = raw.find(b"\r\n")
            if line_end < 0:
                return
            size = int(raw[:line_end].split(b";")[0], 16)
            if len(raw) < line_end + 2 + size + 2:
                return
            start = line_end + 2
            self.body += raw[start : start + size]
            del raw[: start + size + 2]

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class Results:
    def __init__(self):
        self.seen: set[tuple[int, int]] = set()
        self.duplicates = 0
        self.latencies: list[float] = []
        self.last_receive = time.monotonic()

    def received(self, chunk: bytes, now: float) -> None:
        for match in MARK.finditer(chunk):
            key = (int(match.group(2)), int(match.group(3)))
            if key in self.seen:
                self.duplicates += 1
                continue
            self.seen.add(key)
            self.latencies.append(now - float(match.group(1)))
        self.last_receive = time.monotonic()


def _item(kind: str, call_id: str, marker: str) -> dict:
    data = {
        "call-transcript": {"role": "user", "text": marker, "confidence": 0.92, "language": "en-US",
                            "duration_ms": 900, "words": []},
        "call-tts": {"text": marker, "latency_ms": 420},
        "call-interim": {"role": "user", "text": marker},
        "call-tts-word": {"word": marker, "offset_ms": 120},
    }[kind]
    return {"event_id": uuid.uuid4().hex, "call_id": call_id, "type": kind, "data": data}


def batch_items(call_id: str, size: int, ephemeral_share: float, marker: str, first: int) -> list[dict]:
    """One runtime batch about one call: transcripts and TTS, with ephemeral interim
    and word events spread evenly among them (share 0.5 is every other item). Each
    item's text is `<marker>#<n>`, n counting from `first`."""
    items = []
    for position in range(size):
        ephemeral = int((position + 1) * ephemeral_share) > int(position * ephemeral_share)
        kind = ("call-interim" if position % 4 < 2 else "call-tts-word") if ephemeral else (
            "call-transcript" if position % 4 < 2 else "call-tts")
        items.append(_item(kind, call_id, f"{marker}#{first + position}"))
    return items


class Sender:
    """One runtime: a keep-alive connection, one batch in flight at a time."""

    def __init__(self, index: int, call_id: str, args):
        self.index, self.call_id, self.args = index, call_id, args
        self.sent = self.accepted = self.duplicates = self.item_errors = self.failed_batches = 0
        self.request_latencies: list[float] = []
        self.n = 0

    def _batch(self) -> bytes:
        marker = f"t={time.time():.6f}#{self.index}"
        items = batch_items(self.call_id, self.args.batch, self.args.ephemeral_share, marker, self.n)
        self.n += len(items)
        return json.dumps({"events": items}).encode()

    async def run(self, deadline: float) -> None:
        # Runtimes spread over the servers (--ingest-ports), as behind a balancer.
        ports = [int(port) for port in self.args.ingest_ports.split(",")] if self.args.ingest_ports else [
            self.args.port]
        reader, writer = await asyncio.open_connection(self.args.host, ports[self.index % len(ports)])
        try:
            while time.monotonic() < deadline:
                body = self._batch()
                request = (
                    f"POST /api/v1/runtime/events HTTP/1.1\r\nHost: {self.args.host}\r\n"
                    f"Authorization: Bearer {self.args.runtime_key}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode() + body
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                answer = await reader.readexactly(length)
                self.request_latencies.append(time.perf_counter() - started)
                self.sent += self.args.batch
                if not head.startswith(b"HTTP/1.1 200"):
                    self.failed_batches += 1
                    continue
                result = json.loads(answer)
                self.accepted += result["accepted"]
                self.duplicates += result["duplicates"]
                self.item_errors += len(result["errors"])
        finally:
            writer.close()


async def main_async(args) -> dict:
    loop = asyncio.get_running_loop()
    results = Results()
    calls = args.calls.split(",")
    streams = []
    for call_id in calls:
        request = (
            f"GET /api/v1/calls/{call_id}/stream HTTP/1.1\r\nHost: {args.host}\r\n"
            f"Authorization: Bearer {args.read_key}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        _, stream = await loop.create_connection(lambda request=request: CallStream(results, request),
                                                 args.host, args.port)
        streams.append(stream)
    await asyncio.wait_for(asyncio.gather(*(s.connected for s in streams)), timeout=30)

    senders = [Sender(index, calls[index % len(calls)], args) for index in range(args.senders)]
    started = time.monotonic()
    deadline = started + args.duration
    await asyncio.gather(*(sender.run(deadline) for sender in senders))
    send_seconds = time.monotonic() - started
    accepted = sum(sender.accepted for sender in senders)
    # Wait for the streams to catch up: bounded by --drain-timeout and by silence.
    drain_deadline = time.monotonic() + args.drain_timeout
    while len(results.seen) < accepted and time.monotonic() < drain_deadline:
        if time.monotonic() - results.last_receive > args.idle_timeout:
            break
        await asyncio.sleep(0.05)
    drained_after = time.monotonic() - started - send_seconds
    for stream in streams:
        stream.transport.close()
    requests = [latency for sender in senders for latency in sender.request_latencies]
    e2e = results.latencies
    return {
        "senders": args.senders, "calls": len(calls), "batch": args.batch,
        "ephemeral_share": args.ephemeral_share, "send_s": round(send_seconds, 2),
        "sent": sum(sender.sent for sender in senders), "accepted": accepted,
        "runtime_duplicates": sum(sender.duplicates for sender in senders),
        "item_errors": sum(sender.item_errors for sender in senders),
        "failed_batches": sum(sender.failed_batches for sender in senders),
        "accepted_events_per_s": round(accepted / send_seconds, 1),
        "batches": len(requests),
        "request_p50_ms": _ms(_percentile(requests, 0.5)), "request_p99_ms": _ms(_percentile(requests, 0.99)),
        "received": len(results.seen), "lost": accepted - len(results.seen),
        "stream_duplicates": results.duplicates,
        "p50_ms": _ms(_percentile(e2e, 0.5)), "p95_ms": _ms(_percentile(e2e, 0.95)),
        "p99_ms": _ms(_percentile(e2e, 0.99)), "drained_after_s": round(drained_after, 2),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ingest-ports", default="", help="ports the runtimes post to (default: --port)")
    parser.add_argument("--runtime-key", required=True)
    parser.add_argument("--read-key", required=True)
    parser.add_argument("--calls", required=True, help="comma list of active call ids")
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--ephemeral-share", type=float, default=0.5)
    parser.add_argument("--drain-timeout", type=float, default=30)
    parser.add_argument("--idle-timeout", type=float, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(uvloop.run(main_async(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
