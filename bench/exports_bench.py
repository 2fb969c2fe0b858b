"""A calls export of 1,000,000 rows (and of 100,000, to show the memory is flat),
written by a real Celery worker consuming the `exports` queue, as `make run` starts
one (Procfile `exports:`). Run with the environment of a migrated PostgreSQL
database of yours (DATABASE_URL, REDIS_URL):

    python bench/exports_bench.py --sizes 100000,1000000 --repeat 3 [--format csv]
    make bench ARGS="--scenarios exports"      # the same, in the run's own database

For each size: the calls are seeded once with COPY (a workspace per size, reused by
later runs when it holds the rows), then each repetition requests an export
through `exports.services.export_create` (what POST /exports calls) and reports:

- rows_per_s: rows written / (completed_at - started_at), the worker's own time;
- total_s: from the request to `completed` (queue wait and the count included);
- first_event_ms: from the request to the first `data-export-status` the worker
  emits (`running`), and first_progress_ms to the first with rows written;
- peak_rss_mb: the worker's VmHWM (peak resident set) after the export, its
  rss_before_mb before it (a fresh worker per repetition, solo pool: the task
  runs in the process measured);
- size_mb of the file.

Prints one JSON object: each run, and the medians per size.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from calls.models import Agent, Call  # noqa: E402
from exports import services  # noqa: E402
from exports.models import DataExport  # noqa: E402
from realtime.models import Event  # noqa: E402
from workspaces.models import Workspace  # noqa: E402
from workspaces.services import workspace_create  # noqa: E402

COLUMNS = ("id", "workspace_id", "direction", "source", "runtime", "status", "from_number", "to_number",
           "agent_id", "agent_name", "variables", "created_at", "started_at", "answered_at", "ended_at",
           "duration", "cost", "end_reason", "recording_status")


def _workspace(size: int) -> Workspace:
    slug = f"exports-bench-{size}"
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        workspace = workspace_create(name=f"Exports bench {size}", slug=slug, opening_credit=0)
    return workspace


def seed(workspace: Workspace, size: int) -> float:
    """`size` ended calls over 30 days, by COPY in 100,000-row chunks; seconds taken
    (0 when the workspace already holds them)."""
    have = Call.objects.filter(workspace=workspace).count()
    if have == size:
        return 0.0
    Call.objects.filter(workspace=workspace).delete()
    agent = Agent.objects.get(workspace=workspace, is_default=True)
    started, now = time.monotonic(), datetime.now(UTC)
    connection.ensure_connection()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for chunk in range(0, size, 100_000):
            with raw.copy(f"COPY calls_call ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for n in range(chunk, min(size, chunk + 100_000)):
                    created = now - timedelta(seconds=30 * 86400 * (size - n) / size)
                    copy.write_row((uuid.uuid4(), workspace.pk, "outbound", "api", "simulated", "completed",
                                    "+14155550100", f"+1415{n % 10**7:07d}", agent.pk, "helpdesk",
                                    json.dumps({"customer": f"Customer {n}", "order": n}), created,
                                    created, created + timedelta(seconds=5),
                                    created + timedelta(seconds=95), 90.0, "0.1500", "customer-hangup",
                                    "available"))
        cursor.execute("ANALYZE calls_call")
    return time.monotonic() - started


def _rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _worker(env: dict, log: io.BufferedWriter) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "solo", "-Q", "exports",
         "--loglevel", "INFO", "--hostname", f"exports-bench-{os.getpid()}@127.0.0.1",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not happen within {timeout} s")


def one_run(workspace: Workspace, export_format: str, files: Path, timeout: float) -> dict:
    env = {**os.environ, "EXPORTS_DIR": str(files), "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    log_path = files / f"worker-{uuid.uuid4().hex[:8]}.log"
    with log_path.open("wb") as log:
        worker = _worker(env, log)
    try:
        _wait(lambda: b"ready." in log_path.read_bytes() or worker.poll() is not None, 60, "the worker start")
        if worker.poll() is not None:
            raise RuntimeError(log_path.read_text()[-2000:])
        rss_before = _rss_kb(worker.pid, "VmRSS")
        requested = time.monotonic()
        requested_at = datetime.now(UTC)
        export = services.export_create(workspace=workspace, kind="calls", format=export_format, filters={})
        finished = DataExport.objects.filter(pk=export.pk, status__in=["completed", "failed"])
        done = _wait(finished.first, timeout, "the export")
        total_s = time.monotonic() - requested
        peak = _rss_kb(worker.pid, "VmHWM")
    finally:
        worker.terminate()
        worker.wait(30)
    events = [(row.occurred_at, row.data) for row in Event.objects.filter(
        workspace=workspace, type="data-export-status", data__export_id=str(export.pk)).order_by("seq")]
    first = next(at for at, data in events if data["status"] == "running")
    moving = [at for at, data in events if data["row_count"] > 0 and data["status"] == "running"]
    progress = moving[0] if moving else None
    seconds = (done.completed_at - done.started_at).total_seconds()
    services.storage().delete(done.file_name)
    return {
        "status": done.status, "rows": done.row_count, "size_mb": round((done.size_bytes or 0) / 2**20, 1),
        "rows_per_s": round(done.row_count / seconds), "worker_s": round(seconds, 2),
        "total_s": round(total_s, 2),
        "first_event_ms": round((first - requested_at).total_seconds() * 1000),
        "first_progress_ms": round((progress - requested_at).total_seconds() * 1000) if progress else None,
        "progress_events": sum(1 for _, data in events if data["status"] == "running"),
        "rss_before_mb": round(rss_before / 1024, 1), "peak_rss_mb": round(peak / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--format", default="csv", choices=["csv", "jsonl"])
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("the exports benchmark needs PostgreSQL (DATABASE_URL)")
    batch_rows = int(os.environ.get("EXPORTS_BATCH_ROWS", 5000))
    out = {"format": args.format, "batch_rows": batch_rows, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="exports-bench-") as files:
        for size in [int(part) for part in args.sizes.split(",")]:
            workspace = _workspace(size)
            seeded_s = seed(workspace, size)
            runs = [one_run(workspace, args.format, Path(files), args.timeout) for _ in range(args.repeat)]
            medians = {key: statistics.median(run[key] for run in runs)
                       for key in ("rows_per_s", "worker_s", "total_s", "first_event_ms", "first_progress_ms",
                                   "rss_before_mb", "peak_rss_mb", "size_mb")
                       if all(run[key] is not None for run in runs)}
            out["sizes"][str(size)] = {"seeded_s": round(seeded_s, 1), "runs": runs, "median": medians}
            print(json.dumps({"size": size, "median": medians}), file=sys.stderr)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
