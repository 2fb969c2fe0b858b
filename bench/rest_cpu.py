"""Server CPU a REST read costs, ours beside the WSGI floor, one client at a time.

`bench/run.py --scenarios rest` measures requests/s under 20 clients, which on
this shared machine swings by tens of percent between minutes. This asks a
narrower question that holds still: how much CPU time the server process (and
its children) spends per request, read from /proc before and after N requests
sent one after another on one keep-alive connection, so no contention and no
queueing enter it. The servers take turns, round by round, and each round's
ours-over-floor ratio is reported with the medians.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callboard_rest20_bench_rest_1000000 \\
      REDIS_URL=redis://127.0.0.1:6379/9 SECRET_KEY=bench-secret \\
      .venv/bin/python bench/rest_cpu.py --kinds detail,calls --requests 3000 --rounds 5

DATABASE_URL names a database seeded by `bench/seed_rest.py` (the `rest`
scenario leaves one, `<bench database>_rest_<calls>`); this runs the seed
script once to read its key and call ids (it reuses the rows it finds).
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_argv(server: str, port: int) -> list[str]:
    if server == "ours":
        return [PY, "-m", "project.serve_uvicorn", "--host", "127.0.0.1", "--port", str(port)]
    return [PY, "-m", "gunicorn", "bench.wsgi_floor:application", "--workers", "1", "--worker-class", "sync",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]


def process_cpu_s(pid: int) -> float:
    """User and system time of `pid` and its children (gunicorn's worker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for each in [pid, *map(int, children)]:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def measure(server: str, paths: list[str], key: str, requests: int, env: dict) -> float:
    """Milliseconds of server CPU per request, after 300 requests of warm-up."""
    port = free_port()
    process = subprocess.Popen(server_argv(server, port), cwd=ROOT, env=env,  # noqa: S603
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                probe.request("GET", "/healthz")
                probe.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{server} did not start") from None
                time.sleep(0.2)
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {key}"}

        def send(count: int) -> None:
            for n in range(count):
                client.request("GET", paths[n % len(paths)], headers=headers)
                answer = client.getresponse()
                answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"{server}: {paths[n % len(paths)]} answered {answer.status}")

        send(300)
        before = process_cpu_s(process.pid)
        send(requests)
        return 1000 * (process_cpu_s(process.pid) - before) / requests
    finally:
        process.terminate()
        process.wait(15)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", default="detail,calls", help="detail (GET /calls/{id}), calls (1st page)")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=1_000_000, help="the seed's size (bench/seed_rest.py)")
    args = parser.parse_args(argv)
    env = {**os.environ, "DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "project.settings"}
    seed = [PY, "bench/seed_rest.py", "--calls", str(args.calls)]
    seeded = json.loads(subprocess.run(seed, cwd=ROOT, env=env, check=True,  # noqa: S603
                                       capture_output=True, text=True).stdout)
    paths = {"detail": [f"/api/v1/calls/{pk}" for pk in seeded["ids"]], "calls": ["/api/v1/calls"]}
    report = {}
    for kind in [kind.strip() for kind in args.kinds.split(",") if kind.strip()]:
        rounds = []
        for _ in range(args.rounds):
            ours = measure("ours", paths[kind], seeded["api_key"], args.requests, env)
            floor = measure("wsgi-floor", paths[kind], seeded["api_key"], args.requests, env)
            rounds.append({"ours_ms": round(ours, 3), "floor_ms": round(floor, 3),
                           "ratio": round(ours / floor, 2)})
            print(kind, rounds[-1], file=sys.stderr)
        report[kind] = {"rounds": rounds,
                        "ours_ms_median": statistics.median(r["ours_ms"] for r in rounds),
                        "floor_ms_median": statistics.median(r["floor_ms"] for r in rounds),
                        "ratio_median": statistics.median(r["ratio"] for r in rounds)}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
