"""Concurrent REST clients, each sending GET requests one after another on a
loopback connection and reading each whole answer.

    python -m bench.restgen --port 8000 --key cbk_... --paths-file paths.json --clients 20 --duration 10

`--paths-file` holds a JSON list of paths; each client cycles through them from
its own starting point. For the first `--warmup` seconds nothing is counted:
a fresh server builds its URL resolvers, schemas and connection pool on its
first requests. A connection is kept alive unless the server closes it
(`Connection: close`, as gunicorn's sync workers answer every request), and then
the next request opens a new one, its connect counted in the request's time.
Prints one JSON object: requests/s and latency percentiles, and any non-200
answer by status.
"""

import argparse
import asyncio
import json
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import uvloop

LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")
CLOSE = re.compile(rb"(?i)\r\nconnection: *close")


def list_paths(queries: dict) -> list[str]:
    """`GET /calls` with each of the filters of bench/seed_calls.py LIST_QUERIES."""
    paths = []
    for query in queries.values():
        params = {"page_size": 50}
        for key, value in query.items():
            if key == "created_after_days":
                moment = datetime.now(UTC) - timedelta(days=value)
                params["created_after"] = moment.isoformat().replace("+00:00", "Z")
            else:
                params[key] = str(value).lower() if isinstance(value, bool) else value
        paths.append("/api/v1/calls?" + urlencode(params))
    return paths


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def client(args, paths: list[str], counted_from: float, deadline: float, seed: int, out: dict) -> None:
    headers = f"Host: {args.host}\r\nAuthorization: Bearer {args.key}\r\n"
    turn = seed * 7919  # clients start at different paths
    reader = writer = None
    try:
        while time.monotonic() < deadline:
            path = paths[turn % len(paths)]
            turn += 1
            started = time.perf_counter()
            if writer is None:
                reader, writer = await asyncio.open_connection(args.host, args.port)
                out["connects"] += 1
            writer.write(f"GET {path} HTTP/1.1\r\n{headers}\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(int(LENGTH.search(head).group(1)))
            if time.monotonic() >= counted_from:
                out["latencies"].append(time.perf_counter() - started)
                status = head[9:12].decode()
                if status != "200":
                    out["statuses"][status] = out["statuses"].get(status, 0) + 1
            if CLOSE.search(head):
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


async def main_async(args) -> dict:
    with open(args.paths_file) as file:
        paths = json.load(file)
    out = {"latencies": [], "statuses": {}, "connects": 0}
    started = time.monotonic() + args.warmup
    deadline = started + args.duration
    cpu = time.process_time()
    await asyncio.gather(*(client(args, paths, started, deadline, seed, out) for seed in range(args.clients)))
    elapsed = time.monotonic() - started
    # Shares the machine's cores with the server: what the clients took of them.
    cpu_pct = round(100 * (time.process_time() - cpu) / (elapsed + args.warmup), 1)
    latencies = out["latencies"]
    return {
        "clients": args.clients, "requests": len(latencies), "connects": out["connects"],
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": _percentile(latencies, 0.5), "p95_ms": _percentile(latencies, 0.95),
        "p99_ms": _percentile(latencies, 0.99), "non_200": out["statuses"], "client_cpu_pct": cpu_pct,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--paths-file", required=True, help="a JSON list of the paths to GET")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10, help="seconds counted")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of requests before those")
    args = parser.parse_args(argv)
    print(json.dumps(uvloop.run(main_async(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
