"""Concurrent REST clients reading calls: the calls list (with its filters) and the
call detail, over keep-alive loopback connections.

    python -m bench.restgen --port 8000 --key cbk_... --ids ID,ID,... --clients 20 --duration 10

Each client sends a request, reads the whole answer, sends the next: the query
of each request cycles through LIST_QUERIES (bench/seed_calls.py) and detail
requests for random seeded calls. Prints one JSON object: requests/s and
latency percentiles per kind, and any non-200 answer.
"""

import argparse
import asyncio
import json
import random
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import uvloop

LENGTH = re.compile(rb"(?i)content-length: *(\d+)")


def list_paths(queries: dict) -> list[str]:
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


async def client(args, paths: list[str], ids: list[str], deadline: float, seed: int, out: dict) -> None:
    rng = random.Random(seed)  # noqa: S311 (which call to ask for, not a secret)
    reader, writer = await asyncio.open_connection(args.host, args.port)
    headers = f"Host: {args.host}\r\nAuthorization: Bearer {args.key}\r\n"
    turn = seed
    try:
        while time.monotonic() < deadline:
            path = paths[turn % len(paths)] if args.kind == "list" else f"/api/v1/calls/{rng.choice(ids)}"
            turn += 1
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\n{headers}\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(int(LENGTH.search(head).group(1)))
            out["latencies"].append(time.perf_counter() - started)
            status = head[9:12].decode()
            if status != "200":
                out["statuses"][status] = out["statuses"].get(status, 0) + 1
    finally:
        writer.close()


async def main_async(args) -> dict:
    queries = json.loads(args.queries)
    paths, ids = list_paths(queries), args.ids.split(",")
    out = {"latencies": [], "statuses": {}}
    started = time.monotonic()
    deadline = started + args.duration
    await asyncio.gather(*(client(args, paths, ids, deadline, seed, out) for seed in range(args.clients)))
    elapsed = time.monotonic() - started
    latencies = out["latencies"]
    return {
        "kind": args.kind, "clients": args.clients, "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": _percentile(latencies, 0.5), "p95_ms": _percentile(latencies, 0.95),
        "p99_ms": _percentile(latencies, 0.99), "non_200": out["statuses"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--kind", choices=["list", "detail"], required=True)
    parser.add_argument("--ids", required=True, help="comma list of call ids for detail requests")
    parser.add_argument("--queries", required=True, help="JSON: name -> list query (seed_calls.LIST_QUERIES)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10)
    args = parser.parse_args(argv)
    print(json.dumps(uvloop.run(main_async(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
