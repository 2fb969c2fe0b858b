"""The soak's traffic: open workspace streams read all along, and calls placed
through the REST API at a steady rate (the simulated runtime plays them).

    python -m bench.soakgen --port 8000 --read-key cbk_... --write-key cbk_... \
        --streams 300 --rate 3.6 --duration 1800

Every stream is read to the end (a stream the server ends is opened again
with its `Last-Event-ID`, as an EventSource would); calls are posted on a few
keep-alive connections, one request in flight on each, at `--rate` per second
in total (a call that is late is posted at once, never two to catch up). It
talks to 127.0.0.1 only and stops by itself after `--duration` seconds.
Prints one JSON object: calls placed and refused (by status), events and
bytes received, reconnects.
"""

import argparse
import asyncio
import json
import random
import re
import sys
import time

import uvloop

LENGTH = re.compile(rb"(?i)content-length: *(\d+)")
EVENT_ID = re.compile(rb"(?m)^id: ?(\S+)")


async def reader_loop(args, deadline: float, out: dict) -> None:
    last_id = None
    while time.monotonic() < deadline:
        try:
            await asyncio.wait_for(_read_stream(args, deadline, out, last_id),
                                   deadline - time.monotonic() + 5)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            out["stream_errors"][type(error).__name__] = out["stream_errors"].get(type(error).__name__, 0) + 1
        except TimeoutError:
            return
        last_id = out.get("_last_id")
        if time.monotonic() < deadline:
            out["reconnects"] += 1
            await asyncio.sleep(0.5)  # a reconnecting EventSource waits too


async def _read_stream(args, deadline: float, out: dict, last_id: str | None) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", args.port, limit=1 << 20)
    resume = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
    writer.write(f"GET /api/v1/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: Bearer {args.read_key}\r\n"
                 f"Accept: text/event-stream\r\n{resume}\r\n".encode())
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        status = head[9:12].decode()
        if status != "200":
            out["stream_refused"][status] = out["stream_refused"].get(status, 0) + 1
            return
        out["streams_open"] += 1
        try:
            while time.monotonic() < deadline:
                chunk = await asyncio.wait_for(reader.read(65536), max(0.1, deadline - time.monotonic()))
                if not chunk:
                    return
                out["bytes"] += len(chunk)
                ids = EVENT_ID.findall(chunk)
                if ids:
                    out["events"] += len(ids)
                    out["_last_id"] = ids[-1].decode()
        except TimeoutError:
            return
        finally:
            out["streams_open"] -= 1
    finally:
        writer.close()


async def placer(args, deadline: float, slots: asyncio.Queue, out: dict, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 (a phone number, not a secret)
    connection = None
    try:
        while time.monotonic() < deadline:
            try:
                await asyncio.wait_for(slots.get(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                return
            number = f"+1415{rng.randrange(2, 10)}{rng.randrange(10**6):06d}"  # a valid US number
            try:
                # The server closes an idle keep-alive connection (uvicorn: after 5 s): open
                # another then, as an HTTP client's pool does.
                connection = connection or await asyncio.open_connection("127.0.0.1", args.port)
                status = await asyncio.wait_for(_place(args, *connection, number, out), 30)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                kind = type(error).__name__
                out["place_errors"][kind] = out["place_errors"].get(kind, 0) + 1
                if connection:
                    connection[1].close()
                connection = None
                continue
            if status == "201":
                out["placed"] += 1
            else:
                out["refused"][status] = out["refused"].get(status, 0) + 1
    finally:
        if connection:
            connection[1].close()


async def _place(args, reader, writer, number: str, out: dict) -> str:
    body = json.dumps({"to_number": number}).encode()
    writer.write(b"POST /api/v1/calls HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 + f"Authorization: Bearer {args.write_key}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    started = time.perf_counter()
    head = await reader.readuntil(b"\r\n\r\n")
    await reader.readexactly(int(LENGTH.search(head).group(1)))
    out["latencies"].append(time.perf_counter() - started)
    return head[9:12].decode()


async def ticker(args, deadline: float, slots: asyncio.Queue, out: dict) -> None:
    """One slot per 1/rate seconds; slots not taken are dropped, not piled up."""
    interval = 1 / args.rate
    at = time.monotonic()
    while at < deadline:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        if slots.qsize() < args.placers:
            slots.put_nowait(at)
        else:
            out["late"] += 1
        at += interval


async def main_async(args) -> dict:
    out = {"placed": 0, "refused": {}, "place_errors": {}, "late": 0, "latencies": [], "events": 0,
           "bytes": 0, "reconnects": 0, "streams_open": 0, "stream_refused": {}, "stream_errors": {}}
    started = time.monotonic()
    deadline = started + args.duration
    readers = []
    for n in range(args.streams):  # in steps, as clients arrive; not a storm
        readers.append(asyncio.create_task(reader_loop(args, deadline, out)))
        if n % 50 == 49:
            await asyncio.sleep(0.2)
    slots: asyncio.Queue = asyncio.Queue()
    opened_at = time.monotonic()
    streams_opened = out["streams_open"]
    await asyncio.gather(ticker(args, deadline, slots, out),
                         *(placer(args, deadline, slots, out, seed) for seed in range(args.placers)))
    await asyncio.gather(*readers, return_exceptions=True)
    latencies = sorted(out.pop("latencies"))
    out.pop("_last_id", None)
    elapsed = time.monotonic() - opened_at

    def pick(q: float) -> float | None:
        if not latencies:
            return None
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)

    out.update({"streams": args.streams, "streams_open_after_setup": streams_opened,
                "calls_per_s": round(out["placed"] / max(1e-9, elapsed), 2),
                "place_p50_ms": pick(0.5), "place_p99_ms": pick(0.99),
                "events_per_stream": round(out["events"] / max(1, args.streams), 1)})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--read-key", required=True)
    parser.add_argument("--write-key", required=True)
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--rate", type=float, default=3.6, help="calls placed per second")
    parser.add_argument("--placers", type=int, default=4, help="keep-alive connections placing calls")
    parser.add_argument("--duration", type=float, default=180)
    args = parser.parse_args(argv)
    if not (0 < args.rate <= 50 and 0 <= args.streams <= 5000 and 0 < args.duration <= 6 * 3600):
        parser.error("rate in (0, 50], streams in [0, 5000], duration up to 6 h")
    print(json.dumps(uvloop.run(main_async(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
