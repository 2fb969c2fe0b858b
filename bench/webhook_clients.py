"""The webhook sender's HTTP client, measured alone (docs/PERFORMANCE.md "Webhooks"):
--requests POSTs of a webhook-sized body to bench/webhook_receiver.mjs, --concurrency
at once spread over 10 endpoints with a pool each (as webhooks/transport.py), by
httpx and by aiohttp, on asyncio's loop and on uvloop's. Prints requests/s and the
client's CPU per request, one line per client and loop:

    python bench/webhook_clients.py --requests 10000 --concurrency 200
"""

import argparse
import asyncio
import json
import resource
import socket
import subprocess
import time
from pathlib import Path
from urllib.request import urlopen

import uvloop

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = 10
BODY = json.dumps({"event_id": "0" * 36, "type": "call-ended", "workspace_id": "0" * 36,
                   "timestamp": "2026-12-07T12:00:00Z",
                   "data": {"call_id": "0" * 36, "note": "x" * 300}}).encode()
HEADERS = {"content-type": "application/json", "webhook-id": "msg_bench", "webhook-timestamp": "1765108800",
           "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(client: str, port: int, requests: int, concurrency: int) -> tuple[float, float]:
    per_endpoint = max(1, concurrency // ENDPOINTS)
    if client == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=per_endpoint, max_keepalive_connections=per_endpoint)
        sessions = [httpx.AsyncClient(limits=limits) for _ in range(ENDPOINTS)]

        async def post(index: int) -> None:
            async with sessions[index].stream("POST", f"http://127.0.0.1:{port}/hook/{index}", content=BODY,
                                              headers=HEADERS) as response:
                async for _ in response.aiter_raw():
                    pass

        async def close() -> None:
            for session in sessions:
                await session.aclose()
    else:
        import aiohttp

        sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=per_endpoint),
                                          auto_decompress=False) for _ in range(ENDPOINTS)]

        async def post(index: int) -> None:
            async with sessions[index].post(f"http://127.0.0.1:{port}/hook/{index}", data=BODY,
                                            headers=HEADERS, allow_redirects=False) as response:
                await response.content.read(4096)

        async def close() -> None:
            for session in sessions:
                await session.close()

    numbers = iter(range(requests))

    async def worker() -> None:
        for number in numbers:
            await post(number % ENDPOINTS)

    await asyncio.gather(*(post(n % ENDPOINTS) for n in range(concurrency)))  # connections open
    started, cpu_before = time.monotonic(), cpu_seconds()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.monotonic() - started, cpu_seconds() - cpu_before
    await close()
    return requests / elapsed, cpu / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    receiver = subprocess.Popen(["node", str(ROOT / "bench" / "webhook_receiver.mjs"), str(port), "0"])  # noqa: S603, S607
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                urlopen(f"http://127.0.0.1:{port}/count", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        for client in ("httpx", "aiohttp"):
            for loop in ("asyncio", "uvloop"):
                run = uvloop.run if loop == "uvloop" else asyncio.run
                rate, cpu = run(measure(client, port, args.requests, args.concurrency))
                print(json.dumps({"client": client, "loop": loop, "requests_per_s": round(rate),
                                  "cpu_us_per_request": round(cpu * 1e6)}), flush=True)
    finally:
        receiver.terminate()
        receiver.wait(10)


if __name__ == "__main__":
    main()
