"""An asyncio SSE load generator over raw loopback sockets.

    python -m bench.loadgen --host 127.0.0.1 --port 8000 --path /api/v1/events/stream \
        --header "Authorization: Bearer cbk_..."

reads one JSON command a line on stdin and answers one JSON line on stdout
(bench/run.py drives it; one process or several, each holding a share of the
streams). Commands:

    {"cmd": "open", "n": 1000, "concurrency": 500, "timeout": 60, "retries": 0, "retry_delay": 0.5}
        opens n streams, at most `concurrency` attempts in flight; a stream counts
        as established when its first `connected` (ours) or `stream-open` (stock)
        event arrived; a refused attempt (non-200, reset) is retried `retries` times
    {"cmd": "reset", "expect": 500}
        forgets counters; from now on every stream expects events n = 0..expect-1
    {"cmd": "stats"}                          counters now
    {"cmd": "wait", "timeout": 30, "idle": 3}
        until every stream holds every expected event, `timeout` passed, or
        nothing arrived for `idle` seconds; then the counters
    {"cmd": "close"}                          closes every stream (RST, no TIME_WAIT)
    {"cmd": "reopen", "concurrency": 500, "timeout": 60, "retries": 0, "retry_delay": 0.5}
        reconnects every stream with `Last-Event-ID` = the last `id:` it received
    {"cmd": "quit"}

What it measures per delivered event: the publisher puts its send time
(time.time(), a string) in `export_id` and its own counter n in `row_count`;
the receive time is taken once per socket read. Duplicates are the same n
twice on a stream (the same `id:`: one publisher, one id per n); an order
violation is an n below one the stream already had; missing is what a stream
expected and never got. Ids (`id:` lines) must also strictly increase.

Everything is bounded: connections by `n`, waits by their timeouts, buffers by
MAX_BUFFER (a stream that sends more without an event boundary is dropped).
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import resource
import socket
import struct
import sys
import time

import uvloop

MAX_BUFFER = 4 * 1024 * 1024
READY_EVENTS = (b"connected", b"stream-open")
DATA_EVENTS = (b"data-export-status", b"message")
PAYLOAD = re.compile(rb'"export_id": ?"([0-9.]+)".*?"row_count": ?(\d+)')
# Latency histogram: bucket i holds latencies in [e^(i/50), e^((i+1)/50)) microseconds (2% wide).
BUCKETS_PER_E = 50
LINGER_RST = struct.pack("ii", 1, 0)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile_from_hist(hist: dict, q: float) -> float | None:
    """The q-th percentile (0-100) in milliseconds from a {bucket: count} histogram."""
    total = sum(hist.values())
    if not total:
        return None
    rank = q / 100 * total
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= rank:
            return math.exp((bucket + 0.5) / BUCKETS_PER_E) / 1000
    return math.exp((max(hist) + 0.5) / BUCKETS_PER_E) / 1000


def merge_hists(hists) -> dict:
    merged: dict[int, int] = {}
    for hist in hists:
        for bucket, count in hist.items():
            merged[int(bucket)] = merged.get(int(bucket), 0) + count
    return merged


class Stats:
    def __init__(self):
        self.reset(0)

    def reset(self, expect: int):
        self.expect = expect
        self.deliveries = 0  # data events received, duplicates included
        self.unique = 0
        self.duplicates = 0
        self.order_violations = 0
        self.id_regressions = 0
        self.unexpected = 0  # n outside 0..expect-1
        self.controls: dict[str, int] = {}
        self.hist: dict[int, int] = {}
        self.lat_max = 0.0
        self.lat_sum = 0.0
        self.first_recv = None
        self.last_recv = None
        self.complete_streams = 0
        self.complete_times: list[float] = []  # when each stream had every expected event
        # Per stream: seconds from its `connected` to its last expected event (its replay).
        self.replay_seconds: list[float] = []
        self.bytes = 0
        self.cpu_mark = time.process_time()
        self.wall_mark = time.monotonic()


class Stream(asyncio.Protocol):
    """One SSE stream: HTTP/1.1 response head, chunked body, SSE frames."""

    def __init__(self, gen: "Generator", index: int):
        self.gen = gen
        self.index = index
        self.transport = None
        self.status = None
        self.head = b""
        self.chunked = False
        self.cbuf = b""  # undecoded chunked bytes
        self.need = 0  # payload bytes left in the current chunk
        self.skip = 0  # CRLF bytes left after it
        self.sbuf = b""  # SSE text not yet ended by a blank line
        self.established = None  # future: set when the first ready event arrives
        self.started = 0.0
        self.ready_at = None
        self.closed = True
        self.ended_by = None
        self.last_id = None  # raw bytes of the last id: line
        self.last_id_num = -1
        self.seen = None  # bytearray(expect): 1 where n arrived
        self.max_n = -1
        self.got = 0
        self.error_body = b""

    # --- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        self.closed = False
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(self.gen.request_for(self))

    def data_received(self, data: bytes):
        now = time.time()
        gen = self.gen
        gen.stats.bytes += len(data)
        if self.status is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > 65536:
                    self._fail("response head too long")
                return
            head, data = self.head[:end], self.head[end + 4:]
            self.head = b""
            lines = head.split(b"\r\n")
            try:
                self.status = int(lines[0].split(b" ", 2)[1])
            except (IndexError, ValueError):
                self._fail("bad status line")
                return
            self.chunked = any(
                line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower()
                for line in lines[1:]
            )
            if self.status != 200:
                gen.statuses[self.status] = gen.statuses.get(self.status, 0) + 1
                self.error_body = data[:512]
                self._settle(False)
                self.transport.close()
                return
        if self.chunked:
            data = self._dechunk(data)
            if data is None:
                return
        if not data:
            return
        sbuf = self.sbuf + data if self.sbuf else data
        if len(sbuf) > MAX_BUFFER:
            self._fail("sse buffer overflow")
            return
        parts = sbuf.split(b"\n\n")
        self.sbuf = parts.pop()
        for block in parts:
            self._event(block, now)

    def connection_lost(self, exc):
        self.closed = True
        if self.ended_by is None:
            self.ended_by = "server" if exc is None else f"error: {exc.__class__.__name__}"
            self.gen.server_closes += 1
        self._settle(False)

    # --- parsing ------------------------------------------------------------------------

    def _dechunk(self, data: bytes):
        buf = self.cbuf + data if self.cbuf else data
        pos, end, out = 0, len(buf), []
        while pos < end:
            if self.skip:
                step = min(self.skip, end - pos)
                pos += step
                self.skip -= step
                continue
            if self.need == 0:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                try:
                    size = int(buf[pos:eol].split(b";", 1)[0], 16)
                except ValueError:
                    self._fail("bad chunk size")
                    return None
                pos = eol + 2
                if size == 0:
                    self.ended_by = "server-end"
                    self.gen.server_closes += 1
                    break
                self.need = size
                continue
            take = min(self.need, end - pos)
            out.append(buf[pos:pos + take])
            pos += take
            self.need -= take
            if self.need == 0:
                self.skip = 2
        self.cbuf = buf[pos:] if pos < end else b""
        if len(self.cbuf) > MAX_BUFFER:
            self._fail("chunk buffer overflow")
            return None
        return out[0] if len(out) == 1 else b"".join(out)

    def _event(self, block: bytes, now: float):
        event = data = event_id = None
        for line in block.split(b"\n"):
            if line.startswith(b"data:"):
                data = line[5:]
            elif line.startswith(b"event:"):
                event = line[6:].strip()
            elif line.startswith(b"id:"):
                event_id = line[3:].strip()
        if event is None:
            return
        gen = self.gen
        stats = gen.stats
        if event in DATA_EVENTS:
            match = PAYLOAD.search(data or b"")
            if match is None:
                stats.unexpected += 1
                return
            sent, n = float(match.group(1)), int(match.group(2))
            stats.deliveries += 1
            if stats.first_recv is None:
                stats.first_recv = now
            stats.last_recv = now
            latency = now - sent
            if latency > stats.lat_max:
                stats.lat_max = latency
            stats.lat_sum += latency
            micros = latency * 1e6
            bucket = int(math.log(micros) * BUCKETS_PER_E) if micros > 1 else 0
            stats.hist[bucket] = stats.hist.get(bucket, 0) + 1
            if event_id is not None:
                self.last_id = event_id
                tail = event_id.rsplit(b":", 1)[-1]
                num = int(tail) if tail.isdigit() else -1
                if num <= self.last_id_num:
                    stats.id_regressions += 1
                self.last_id_num = max(num, self.last_id_num)
            seen = self.seen
            if seen is None or n >= len(seen):
                stats.unexpected += 1
                return
            if seen[n]:
                stats.duplicates += 1
                return
            seen[n] = 1
            stats.unique += 1
            if n < self.max_n:
                stats.order_violations += 1
            else:
                self.max_n = n
            self.got += 1
            if self.got == stats.expect:
                stats.complete_streams += 1
                stats.complete_times.append(now)
                if self.ready_at is not None:
                    stats.replay_seconds.append(time.monotonic() - self.ready_at)
                gen.progress.set()
            return
        name = event.decode(errors="replace")
        stats.controls[name] = stats.controls.get(name, 0) + 1
        if event_id is not None:  # a control event with an id (stock's stream-reset)
            self.last_id = event_id
        if event in READY_EVENTS and self.ready_at is None:
            self.ready_at = time.monotonic()
            self._settle(True)

    # --- helpers ------------------------------------------------------------------------

    def _settle(self, ok: bool):
        if self.established is not None and not self.established.done():
            self.established.set_result(ok)

    def _fail(self, why: str):
        self.gen.failures[why] = self.gen.failures.get(why, 0) + 1
        self.ended_by = why
        self._settle(False)
        if self.transport is not None:
            self.transport.close()

    def reset_for(self, expect: int):
        self.seen = bytearray(expect) if expect else None
        self.max_n = -1
        self.got = 0

    def abort(self):
        """Closes with RST: no TIME_WAIT left on either side."""
        if self.transport is None or self.closed:
            return
        self.ended_by = "client"
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
        self.transport.abort()

    def prepare_connect(self):
        self.status = None
        self.head = self.cbuf = self.sbuf = b""
        self.chunked = False
        self.need = self.skip = 0
        self.ready_at = None
        self.ended_by = None
        self.error_body = b""


class Generator:
    def __init__(self, host: str, port: int, path: str, headers: list[str]):
        self.host, self.port, self.path = host, port, path
        self.headers = headers
        self.streams: list[Stream] = []
        self.stats = Stats()
        self.statuses: dict[int, int] = {}
        self.failures: dict[str, int] = {}
        self.server_closes = 0
        self.progress = asyncio.Event()

    def request_for(self, stream: Stream) -> bytes:
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "Accept: text/event-stream", "Cache-Control: no-cache", *self.headers]
        if stream.last_id is not None:
            lines.append("Last-Event-ID: " + stream.last_id.decode())
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def _connect(self, stream: Stream, semaphore: asyncio.Semaphore, timeout: float,
                       deadline: float, retries: int, retry_delay: float):
        """One stream until it is established; a refused attempt (non-200, reset, timeout)
        is retried up to `retries` times, `retry_delay` apart (a reconnecting
        EventSource's behaviour), never past `deadline`."""
        loop = asyncio.get_running_loop()
        for attempt in range(retries + 1):
            if attempt:
                await asyncio.sleep(retry_delay)
            async with semaphore:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._count_failure("not started before the deadline")
                    return
                stream.prepare_connect()
                stream.established = loop.create_future()
                if attempt == 0:
                    stream.started = time.monotonic()
                stream.attempts = attempt + 1
                try:
                    await asyncio.wait_for(
                        loop.create_connection(lambda: stream, self.host, self.port),
                        timeout=min(timeout, remaining))
                    ok = await asyncio.wait_for(asyncio.shield(stream.established),
                                                timeout=max(0.01, deadline - time.monotonic()))
                    if ok:
                        return
                    if stream.status == 200:
                        self._count_failure("closed before ready")
                except TimeoutError:
                    self._count_failure("timeout")
                    stream.abort()
                    return
                except OSError as error:
                    self._count_failure(f"oserror {error.errno}")

    def _count_failure(self, why: str) -> None:
        self.failures[why] = self.failures.get(why, 0) + 1

    async def open(self, streams: list[Stream], concurrency: int, timeout: float, retries: int = 0,
                   retry_delay: float = 0.5) -> dict:
        semaphore = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        deadline = started + timeout
        cpu = time.process_time()
        self.statuses.clear()
        self.failures.clear()
        await asyncio.gather(*(self._connect(s, semaphore, timeout, deadline, retries, retry_delay)
                               for s in streams))
        ready = [s for s in streams if s.ready_at is not None and not s.closed]
        latencies = sorted(s.ready_at - s.started for s in ready)
        last = max((s.ready_at for s in ready), default=started)
        return {
            "requested": len(streams), "established": len(ready),
            "elapsed_s": round(time.monotonic() - started, 4),
            "first_ready_s": round(min((s.ready_at for s in ready), default=started) - started, 4),
            "all_ready_s": round(last - started, 4),
            "connect_p50_ms": _pct(latencies, 50), "connect_p99_ms": _pct(latencies, 99),
            "connect_max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
            "attempts": sum(getattr(s, "attempts", 1) for s in streams),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "failures": dict(self.failures),
            "error_sample": next(
                (s.error_body.decode(errors="replace") for s in streams if s.error_body), ""),
            "client_cpu_s": round(time.process_time() - cpu, 3),
            "t_start_wall": time.time() - (time.monotonic() - started),
        }

    async def cmd_open(self, n: int, concurrency: int = 500, timeout: float = 60, retries: int = 0,
                       retry_delay: float = 0.5) -> dict:
        new = [Stream(self, len(self.streams) + i) for i in range(n)]
        self.streams.extend(new)
        for stream in new:
            stream.reset_for(self.stats.expect)
        return await self.open(new, concurrency, timeout, retries, retry_delay)

    async def cmd_reopen(self, concurrency: int = 500, timeout: float = 60, retries: int = 0,
                         retry_delay: float = 0.5) -> dict:
        closed = [s for s in self.streams if s.closed]
        result = await self.open(closed, concurrency, timeout, retries, retry_delay)
        result["with_cursor"] = sum(1 for s in closed if s.last_id is not None)
        return result

    def cmd_close(self) -> dict:
        closed = 0
        for stream in self.streams:
            if not stream.closed:
                stream.abort()
                closed += 1
        return {"closed": closed}

    def cmd_reset(self, expect: int) -> dict:
        self.stats.reset(expect)
        self.server_closes = 0
        for stream in self.streams:
            stream.reset_for(expect)
        return {"expect": expect}

    def cmd_stats(self) -> dict:
        s = self.stats
        cpu = time.process_time() - s.cpu_mark
        wall = time.monotonic() - s.wall_mark
        open_streams = sum(1 for st in self.streams if not st.closed)
        expected = s.expect * len(self.streams)
        return {
            "streams": len(self.streams), "open": open_streams, "expect_each": s.expect,
            "deliveries": s.deliveries, "unique": s.unique, "duplicates": s.duplicates,
            "order_violations": s.order_violations, "id_regressions": s.id_regressions,
            "unexpected": s.unexpected, "missing": max(0, expected - s.unique),
            "complete_streams": s.complete_streams,
            "complete_first": min(s.complete_times) if s.complete_times else None,
            "complete_last": max(s.complete_times) if s.complete_times else None,
            "replay_ms": sorted(round(x * 1000, 1) for x in s.replay_seconds),
            "first_recv": s.first_recv, "last_recv": s.last_recv,
            "lat_max_ms": round(s.lat_max * 1000, 3),
            "lat_mean_ms": round(s.lat_sum / s.deliveries * 1000, 3) if s.deliveries else None,
            "hist": s.hist, "controls": s.controls, "bytes": s.bytes,
            "server_closes": self.server_closes, "failures": dict(self.failures),
            "client_cpu_s": round(cpu, 3), "client_wall_s": round(wall, 3),
            "client_cpu_pct": round(100 * cpu / wall, 1) if wall > 0 else None,
        }

    async def cmd_wait(self, timeout: float = 30, idle: float = 3) -> dict:
        deadline = time.monotonic() + timeout
        last_count, last_change = -1, time.monotonic()
        while time.monotonic() < deadline:
            s = self.stats
            if s.expect and s.complete_streams >= len(self.streams):
                break
            count = s.deliveries + sum(s.controls.values())
            now = time.monotonic()
            if count != last_count:
                last_count, last_change = count, now
            elif now - last_change >= idle:
                break
            self.progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.progress.wait(), timeout=0.05)
        return self.cmd_stats()


def _pct(sorted_seconds: list[float], q: float):
    if not sorted_seconds:
        return None
    index = min(len(sorted_seconds) - 1, max(0, math.ceil(q / 100 * len(sorted_seconds)) - 1))
    return round(sorted_seconds[index] * 1000, 2)


async def serve_commands(gen: Generator) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout
    out.write(json.dumps({"ready": True, "pid": os.getpid(), "nofile": raise_fd_limit()}) + "\n")
    out.flush()
    while True:
        line = await reader.readline()
        if not line:
            break
        command = json.loads(line)
        name = command.pop("cmd")
        try:
            if name == "quit":
                gen.cmd_close()
                out.write(json.dumps({"ok": True}) + "\n")
                out.flush()
                break
            handler = getattr(gen, f"cmd_{name}")
            result = handler(**command)
            if asyncio.iscoroutine(result):
                result = await result
            reply = {"ok": True, **result}
        except Exception as error:  # report, keep serving: run.py decides
            reply = {"ok": False, "error": f"{error.__class__.__name__}: {error}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--header", action="append", default=[],
                        help="a request header; BENCH_LOADGEN_HEADERS (a JSON list) adds more, "
                             "for credentials that should not show in the process list")
    args = parser.parse_args(argv)
    args.header += json.loads(os.environ.get("BENCH_LOADGEN_HEADERS") or "[]")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the load generator only targets the loopback interface")
    raise_fd_limit()
    gen_holder = {}

    async def run():
        gen_holder["gen"] = Generator(args.host, args.port, args.path, args.header)
        await serve_commands(gen_holder["gen"])

    # uvloop: the clients are not what is measured, and on a 2-core machine every
    # percent of CPU they save is a percent the server under test gets back.
    uvloop.run(run())


if __name__ == "__main__":
    main()
