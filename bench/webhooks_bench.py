"""Webhooks under load (issue #19): --rate workspace events/s for --duration s,
each delivered to every one of --endpoints webhooks on a local receiver. Run with
the environment of a migrated PostgreSQL database whose name contains `bench`
(DATABASE_URL, REDIS_URL):

    python bench/webhooks_bench.py run --rate 1000 --duration 60 --endpoints 10 [--fail-seconds 30]
    make bench ARGS="--scenarios webhooks"      # both phases, in the run's own database

One run:

- empties the delivery log and the event history of the database (a bench
  database only), creates a workspace and --endpoints webhooks (every event
  type, WEBHOOKS_ALLOW_PRIVATE_URLS=true) pointing at the receiver;
- the receiver (bench/webhook_receiver.mjs, Node's HTTP server on 127.0.0.1)
  keeps (endpoint, webhook-id, receipt time) of every 2xx answer and the
  headers and body of one request in --verify-every, whose signatures are
  checked with `standardwebhooks` after the run, and answers
  500 to the first --fail-endpoints endpoints until --fail-seconds after the
  publishing starts;
- starts what `make run` starts for webhooks: a Celery worker (`-Q celery,ticks`,
  --worker-concurrency children; it runs the reaction that makes the
  deliveries), a beat (the reactions' sweep), and --senders
  `manage.py run_webhook_sender` processes, with WEBHOOKS_RETRY_SCHEDULE set to
  --retry-schedule (5 s steps: a failing endpoint's events come back within the
  run, not after 5 minutes);
- waits until a warm-up event reached every endpoint, then the publishers
  (`publish`, --publishers processes, --rate/--publishers each) emit
  `data-export-status` with `realtime.emit`, one event per committed
  transaction, and write each event's id and commit time (time.time() right
  after the commit);
- waits until every (endpoint, event) arrived, or nothing arrived for
  --stall-seconds, or --drain-timeout.

Prints one JSON object: deliveries expected (events x endpoints: every endpoint
takes every type) and received, duplicates, latency from commit to receipt
(p50/p99/max; of the healthy endpoints and of the failing ones separately),
deliveries/s while publishing and overall, the CPU of each process (% of one
core), the machine's busy share, and the database's view (attempts per delivery).

One workspace: every event goes to all its endpoints (the issue's 1,000 events/s to
10 endpoints is 10,000 deliveries/s only if they share the events), and one
workspace is our worst case, every emit and reaction round of the run queued on
its one event cursor and its one reaction cursor."""

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the receiver ------------------------------------------------------------------------------
# bench/webhook_receiver.mjs: Node's HTTP server. A Python receiver (uvicorn, httptools)
# cost about as much CPU per request as the sender on this 2-core machine, so it
# measured the receiver as much as the sender.

RECEIVER = ROOT / "bench" / "webhook_receiver.mjs"


def verify_samples(samples: list, secrets: dict[int, str]) -> tuple[int, int]:
    """The kept deliveries' signatures checked with the reference library's own signing
    (its `verify` also refuses a timestamp older than 5 minutes, and a long run's
    first samples are); (verified, failed)."""
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    verified = failed = 0
    for index, msg_id, timestamp, header, body in samples:
        try:
            signed_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
            expected = Webhook(secrets[index]).sign(msg_id, signed_at, body)
        except (KeyError, ValueError):
            failed += 1
            continue
        if expected.split(",", 1)[1] in [part.split(",", 1)[-1] for part in header.split()]:
            verified += 1
        else:
            failed += 1
    return verified, failed


# --- the publisher -----------------------------------------------------------------------------


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()


def publish(args) -> None:
    """--count events at --rate/s on a fixed schedule (a late one is sent at once),
    one committed transaction each; writes [event_id, commit time] pairs to --out."""
    django_setup()
    from django.db import transaction

    from realtime.emit import emit
    from workspaces.models import Workspace

    workspace = Workspace.objects.get(pk=args.workspace)
    start_at = args.start_at
    while time.time() < start_at:
        time.sleep(min(0.05, start_at - time.time()))
    started = time.monotonic()
    deadline = started + 2 * args.count / args.rate + 60
    committed, max_behind = [], 0.0
    for n in range(args.count):
        due = started + n / args.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        else:
            max_behind = max(max_behind, now - due)
        if now > deadline:
            break
        with transaction.atomic():
            envelope = emit(workspace, "data-export-status",
                            {"export_id": f"bench-{args.offset + n}", "status": "running", "progress": 1,
                             "row_count": args.offset + n})
        committed.append((envelope["event_id"], time.time()))
    elapsed = time.monotonic() - started
    Path(args.out).write_text(json.dumps({"committed": committed, "elapsed_s": elapsed,
                                          "max_behind_ms": round(max_behind * 1000, 1)}))


# --- the run -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(port: int, path: str, payload: dict | None = None, timeout: float = 30) -> dict:
    data = json.dumps(payload).encode() if payload is not None else None
    request = Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST" if data else "GET")
    with urlopen(request, timeout=timeout) as response:  # noqa: S310
        raw = response.read()
    return json.loads(raw) if raw else {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process and of its children (a Celery pool)."""
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):
                    children = Path(f"/proc/{current}/task/{task}/children").read_text()
                    todo.extend(int(child) for child in children.split())
    return total


def machine_cpu() -> tuple[float, float]:
    fields = [float(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


class Processes:
    def __init__(self, logs: Path):
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen, object]] = []

    def start(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log_file = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log_file,  # noqa: S603
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append((name, process, log_file))
        return process

    def check(self) -> None:
        for name, process, _log_file in self.started:
            if process.poll() is not None and not name.startswith("publisher"):
                raise RuntimeError(f"{name} exited: {(self.logs / f'{name}.log').read_text()[-2000:]}")

    def stop(self) -> None:
        for _, process, _log in reversed(self.started):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for _, process, log_file in reversed(self.started):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            log_file.close()


def wait_until(condition, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise RuntimeError(f"{what} within {timeout:g} s: no")


def fresh_state(endpoints: int, port: int) -> tuple[str, dict[int, str], dict[str, int]]:
    """Empties the deliveries and the event history; a workspace with its webhooks."""
    from django.db import connection

    from webhooks.services import webhook_create
    from workspaces.services import workspace_create

    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        raise SystemExit(f"refusing to empty database {name!r}: its name must contain 'bench'")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE webhooks_webhookdelivery, realtime_event")
    workspace = workspace_create(name=f"Webhooks bench {time.time():.0f}")
    secrets, ids = {}, {}
    for index in range(endpoints):
        endpoint, secret = webhook_create(workspace=workspace, url=f"http://127.0.0.1:{port}/hook/{index}",
                                          description=f"bench {index}")
        secrets[index] = secret
        ids[str(endpoint.pk)] = index
    return str(workspace.pk), secrets, ids


def run(args) -> dict:
    os.environ["WEBHOOKS_ALLOW_PRIVATE_URLS"] = "true"
    django_setup()
    from django.conf import settings

    logs = Path(args.logs or tempfile.mkdtemp(prefix="webhooks-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
           "WEBHOOKS_RETRY_SCHEDULE": args.retry_schedule,
           "PYTHONPATH": str(ROOT), "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
    env.update(dict(item.split("=", 1) for item in args.env))
    port = free_port()
    processes = Processes(logs)
    try:
        receiver = processes.start("receiver", ["node", str(RECEIVER), str(port), str(args.verify_every)],
                                   env)
        wait_until(lambda: _answers(port), 20, "the receiver listening")
        workspace, secrets, _endpoint_index = fresh_state(args.endpoints, port)
        worker = processes.start("worker", [PY, "-m", "celery", "-A", "project", "worker", "--concurrency",
                                            str(args.worker_concurrency), "-Q", "celery,ticks",
                                            "--loglevel", "WARNING", "--hostname",
                                            f"wbench-{port}@%h"], env)
        processes.start("beat", [PY, "-m", "celery", "-A", "project", "beat", "--loglevel", "WARNING",
                                 "--schedule", str(logs / "celerybeat-schedule")], env)
        senders = [processes.start(f"sender-{n}", [PY, "manage.py", "run_webhook_sender"], env)
                   for n in range(args.senders)]
        # Warm-up: one event through the whole path before anything is measured.
        _publish_now(workspace)
        wait_until(lambda: processes.check() or _count(port) >= args.endpoints, 90,
                   "a warm-up event reaching every endpoint")
        http(port, "/control", {"reset": True})
        count = int(args.rate * args.duration)
        start_at = time.time() + 2.0
        fail_until = start_at + args.fail_seconds if args.fail_endpoints else 0
        http(port, "/control", {"fail_until": {i: fail_until for i in range(args.fail_endpoints)}})
        outs = []
        for n in range(args.publishers):
            out = logs / f"published-{n}.json"
            outs.append(out)
            share = count // args.publishers + (1 if n < count % args.publishers else 0)
            processes.start(f"publisher-{n}", [PY, __file__, "publish", "--workspace", workspace,
                                               "--count", str(share),
                                               "--rate", str(args.rate / args.publishers),
                                               "--start-at", repr(start_at), "--offset", str(n * count),
                                               "--out", str(out)], env)
        watched = {"receiver": [receiver.pid], "worker": [worker.pid], "senders": [s.pid for s in senders]}
        cpu_before = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in watched.items()}
        busy_before, total_before = machine_cpu()
        t0 = time.monotonic()
        expected = count * args.endpoints
        progress = []  # (seconds since the start, received)
        last_change, last_count = time.monotonic(), -1
        deadline = t0 + args.duration + args.drain_timeout + 5
        publishing_cpu = None
        while time.monotonic() < deadline:
            time.sleep(1.0)
            processes.check()
            received = _count(port)
            elapsed = time.monotonic() - t0
            progress.append((round(elapsed, 1), received))
            print(f"{elapsed:6.1f} s: {received} of {expected}", file=sys.stderr, flush=True)
            if publishing_cpu is None and time.time() >= start_at + args.duration:
                publishing_cpu = ({name: sum(cpu_seconds(pid) for pid in pids)
                                   for name, pids in watched.items()},
                                  machine_cpu(), time.monotonic())
            if received != last_count:
                last_change, last_count = time.monotonic(), received
            if received >= expected and all(out.exists() for out in outs):
                break
            if elapsed > args.duration + 5 and time.monotonic() - last_change > args.stall_seconds:
                break
        cpu_after = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in watched.items()}
        busy_after, total_after = machine_cpu()
        t_end = time.monotonic()
        wait_until(lambda: all(out.exists() for out in outs), 120, "the publishers finishing")
        dump = logs / "received.json"
        http(port, "/dump", {"path": str(dump)}, timeout=120)
        db = _database_view(workspace)
    finally:
        processes.stop()
    published = [json.loads(out.read_text()) for out in outs]
    committed = {event_id: at for one in published for event_id, at in one["committed"]}
    received = json.loads(dump.read_text())
    received["verified"], received["unverified"] = verify_samples(received.pop("samples"), secrets)
    result = analyse(args, committed, received, start_at, fail_until)
    wall = t_end - t0
    result.update({
        "workspaces": 1, "endpoints": args.endpoints, "senders": args.senders,
        "worker_concurrency": args.worker_concurrency, "publishers": args.publishers,
        "rate": args.rate, "duration_s": args.duration, "fail_endpoints": args.fail_endpoints,
        "fail_seconds": args.fail_seconds if args.fail_endpoints else 0,
        "retry_schedule": args.retry_schedule, "sender_concurrency": settings.WEBHOOKS_SENDER_CONCURRENCY,
        "published_rate": round(len(committed) / max(one["elapsed_s"] for one in published), 1),
        "publisher_max_behind_ms": max(one["max_behind_ms"] for one in published),
        "cpu_pct": {name: round(100 * (cpu_after[name] - cpu_before[name]) / wall, 1) for name in watched},
        "machine_cpu_busy_pct": round(100 * (busy_after - busy_before) / (total_after - total_before), 1),
        "measured_s": round(wall, 1), "progress": progress[::5], "database": db, "logs": str(logs),
    })
    if publishing_cpu:
        cpu_mid, (busy_mid, total_mid), t_mid = publishing_cpu
        result["cpu_pct_publishing"] = {name: round(100 * (cpu_mid[name] - cpu_before[name])
                                                    / (t_mid - t0), 1)
                                        for name in watched}
        result["machine_cpu_busy_publishing_pct"] = round(100 * (busy_mid - busy_before)
                                                          / (total_mid - total_before), 1)
    for name, value in result["cpu_pct"].items():
        result[f"{name}_cpu_pct"] = value
    return result


def run_backlog(args) -> dict:
    """The senders alone: --events events committed 500 to a transaction and turned into
    deliveries by the worker before any sender runs; then --senders senders start, and
    the run times how fast they drain that backlog to the receiver."""
    os.environ["WEBHOOKS_ALLOW_PRIVATE_URLS"] = "true"
    django_setup()
    from django.db import transaction

    from realtime.emit import Emission, emit_many
    from webhooks.models import WebhookDelivery
    from workspaces.models import Workspace

    logs = Path(args.logs or tempfile.mkdtemp(prefix="webhooks-backlog-"))
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WEBHOOKS_ALLOW_PRIVATE_URLS": "true", "PYTHONPATH": str(ROOT),
           "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
    port = free_port()
    processes = Processes(logs)
    try:
        processes.start("receiver", ["node", str(RECEIVER), str(port), str(args.verify_every)], env)
        wait_until(lambda: _answers(port), 20, "the receiver listening")
        workspace_id, secrets, _endpoint_index = fresh_state(args.endpoints, port)
        processes.start("worker", [PY, "-m", "celery", "-A", "project", "worker", "--concurrency", "2",
                                   "-Q", "celery,ticks", "--loglevel", "WARNING", "--hostname",
                                   f"wbacklog-{port}@%h"], env)
        workspace = Workspace.objects.get(pk=workspace_id)
        for first in range(0, args.events, 500):
            with transaction.atomic():
                emit_many(workspace, [
                    Emission("data-export-status",
                             {"export_id": f"bench-{n}", "status": "running", "progress": 1, "row_count": n})
                    for n in range(first, min(args.events, first + 500))])
        expected = args.events * args.endpoints
        deliveries = WebhookDelivery.objects.filter(workspace_id=workspace_id)
        wait_until(lambda: processes.check() or deliveries.count() >= expected, 900, "the backlog created",
                   every=1.0)
        busy_before, total_before = machine_cpu()
        started_at, t0 = time.time(), time.monotonic()
        senders = [processes.start(f"sender-{n}", [PY, "manage.py", "run_webhook_sender"], env)
                   for n in range(args.senders)]
        last_change, last_count = time.monotonic(), -1
        while time.monotonic() < t0 + args.drain_timeout:
            time.sleep(0.5)
            processes.check()
            received = _count(port)
            if received != last_count:
                last_change, last_count = time.monotonic(), received
            if received >= expected or time.monotonic() - last_change > args.stall_seconds:
                break
        sender_cpu = sum(cpu_seconds(sender.pid) for sender in senders)
        busy_after, total_after = machine_cpu()
        dump = logs / "received.json"
        http(port, "/dump", {"path": str(dump)}, timeout=120)
    finally:
        processes.stop()
    received = json.loads(dump.read_text())
    verified, failed = verify_samples(received["samples"], secrets)
    first = {}
    for index, event_id, at in received["received"]:
        first.setdefault((index, event_id), at)
    drain = (max(first.values()) - started_at) if first else None
    return {"mode": "backlog", "events": args.events, "endpoints": args.endpoints, "senders": args.senders,
            "expected": expected, "received": len(received["received"]), "received_unique": len(first),
            "missing": expected - len(first), "duplicates": len(received["received"]) - len(first),
            "signatures_verified": verified, "signatures_failed": failed,
            "drain_s": round(drain, 2) if drain else None,
            "deliveries_per_s": round(len(first) / drain, 1) if drain else None,
            "senders_cpu_pct": round(100 * sender_cpu / drain, 1) if drain else None,
            "sender_cpu_ms_per_delivery": round(1000 * sender_cpu / max(1, len(first)), 3),
            "machine_cpu_busy_pct": round(100 * (busy_after - busy_before) / (total_after - total_before), 1),
            "logs": str(logs)}


def _answers(port: int) -> bool:
    try:
        http(port, "/count", timeout=1)
        return True
    except OSError:
        return False


def _count(port: int) -> int:
    return http(port, "/count")["received"]


def _publish_now(workspace_id: str) -> str:
    from django.db import transaction

    from realtime.emit import emit
    from workspaces.models import Workspace

    with transaction.atomic():
        return emit(Workspace.objects.get(pk=workspace_id), "data-export-status",
                    {"export_id": "warm-up", "status": "running", "progress": 0, "row_count": 0})["event_id"]


def _database_view(workspace_id: str) -> dict:
    from django.db.models import Count

    from webhooks.models import WebhookDelivery

    rows = WebhookDelivery.objects.filter(workspace_id=workspace_id)
    by_status = dict(rows.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    attempts = dict(rows.values_list("attempts").annotate(n=Count("pk")).values_list("attempts", "n"))
    return {"by_status": by_status, "attempts": {str(k): v for k, v in sorted(attempts.items())}}


def analyse(args, committed: dict[str, float], dump: dict, start_at: float, fail_until: float) -> dict:
    first: dict[tuple[int, str], float] = {}
    duplicates = unexpected = 0
    for index, event_id, at in dump["received"]:
        if event_id not in committed:
            unexpected += 1
            continue
        key = (index, event_id)
        if key in first:
            duplicates += 1
            first[key] = min(first[key], at)
        else:
            first[key] = at
    expected = len(committed) * args.endpoints
    failing = set(range(args.fail_endpoints))
    healthy = [at - committed[event_id] for (index, event_id), at in first.items() if index not in failing]
    broken = [(at - committed[event_id], at) for (index, event_id), at in first.items() if index in failing]
    out = {"events": len(committed), "expected": expected, "received": len(dump["received"]),
           "received_unique": len(first), "missing": expected - len(first), "duplicates": duplicates,
           "unexpected": unexpected, "refused_500": dump["refused"], "signatures_verified": dump["verified"],
           "signatures_failed": dump["unverified"],
           "p50_ms": ms(percentile(healthy, 0.5)), "p99_ms": ms(percentile(healthy, 0.99)),
           "max_ms": ms(max(healthy) if healthy else None)}
    times = sorted(first.values())
    if times:
        first_commit = min(committed.values())
        in_window = sum(1 for at in times if at <= first_commit + args.duration)
        out["deliveries_per_s_publishing"] = round(in_window / args.duration, 1)
        out["deliveries_per_s"] = round(len(times) / max(times[-1] - first_commit, 1e-9), 1)
        out["last_receipt_after_last_commit_s"] = round(times[-1] - max(committed.values()), 2)
        # Latency by when the event committed, in tenths of the run: does it keep up, or fall behind?
        slices = [[] for _ in range(10)]
        for (index, event_id), at in first.items():
            if index in failing:
                continue
            share = (committed[event_id] - first_commit) / args.duration
            slices[min(9, max(0, int(share * 10)))].append(at - committed[event_id])
        out["p50_ms_by_tenth"] = [ms(statistics.median(values)) if values else None for values in slices]
    if failing:
        latencies = [latency for latency, _ in broken]
        out.update({
            "failing_expected": len(committed) * len(failing), "failing_received_unique": len(broken),
            "failing_before_recovery": sum(1 for _, at in broken if at < fail_until),
            "failing_p50_ms": ms(percentile(latencies, 0.5)),
            "failing_p99_ms": ms(percentile(latencies, 0.99)),
            "failing_max_ms": ms(max(latencies) if latencies else None),
            "failing_last_after_recovery_s": (round(max(at for _, at in broken) - fail_until, 2)
                                              if broken else None),
        })
        out["failing_all_after_recovery"] = (out["failing_before_recovery"] == 0
                                             and out["failing_received_unique"] == out["failing_expected"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("run")
    runner.add_argument("--rate", type=float, default=1000, help="events per second")
    runner.add_argument("--duration", type=float, default=60, help="seconds of publishing")
    runner.add_argument("--endpoints", type=int, default=10)
    runner.add_argument("--senders", type=int, default=1, help="run_webhook_sender processes")
    runner.add_argument("--publishers", type=int, default=2, help="publishing processes (--rate split)")
    runner.add_argument("--worker-concurrency", type=int, default=2, help="the Celery worker's children")
    runner.add_argument("--fail-endpoints", type=int, default=0, help="endpoints answering 500 at first")
    runner.add_argument("--fail-seconds", type=float, default=30, help="this long after publishing starts")
    runner.add_argument("--retry-schedule", default="5,5,5,5,5,5,5,5,5,5,5,5",
                        help="WEBHOOKS_RETRY_SCHEDULE of the senders (the default's 5 min outlasts a run)")
    runner.add_argument("--verify-every", type=int, default=50, help="the receiver verifies 1 request in N")
    runner.add_argument("--drain-timeout", type=float, default=300, help="seconds after publishing, at most")
    runner.add_argument("--stall-seconds", type=float, default=30,
                        help="stop waiting after this long with nothing arriving")
    runner.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment of the worker and senders (repeatable)")
    runner.add_argument("--logs", default="", help="directory for the processes' logs")
    backlog = commands.add_parser("backlog", help="the senders alone, draining a backlog")
    backlog.add_argument("--events", type=int, default=10000)
    backlog.add_argument("--endpoints", type=int, default=10)
    backlog.add_argument("--senders", type=int, default=1)
    backlog.add_argument("--verify-every", type=int, default=50)
    backlog.add_argument("--drain-timeout", type=float, default=600)
    backlog.add_argument("--stall-seconds", type=float, default=30)
    backlog.add_argument("--logs", default="")
    publisher = commands.add_parser("publish")
    publisher.add_argument("--workspace", required=True)
    publisher.add_argument("--count", type=int, required=True)
    publisher.add_argument("--rate", type=float, required=True)
    publisher.add_argument("--start-at", type=float, required=True)
    publisher.add_argument("--offset", type=int, default=0)
    publisher.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "publish":
        publish(args)
    elif args.command == "backlog":
        print(json.dumps(run_backlog(args)))
    else:
        if urlparse(os.environ.get("DATABASE_URL", "")).scheme not in ("postgres", "postgresql"):
            raise SystemExit("the webhooks bench needs PostgreSQL (DATABASE_URL)")
        print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
