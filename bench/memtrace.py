"""Where a server's memory per stream goes: tracemalloc snapshots of an unchanged server.

    python bench/memtrace.py --engine ours --streams 2000

starts the server (ours or stock, as bench/run.py does) under
`python -X tracemalloc=<depth>` with a hook that writes a snapshot on SIGUSR1,
snapshots it with 1 stream and with N, and prints the allocation difference
grouped by file and by line, divided by the number of streams. Python objects
only: memory that C code (the kernel's socket buffers, OpenSSL, the
allocator's own slack) takes outside Python's allocator is not in it, which is
why it is smaller than the RSS difference bench/run.py reports.

    python bench/memtrace.py --worker --minutes 12 --warmup 3

runs the soak (bench/run.py's `soak` scenario: web, worker, beat, streams and
calls placed) with the Celery worker under tracemalloc, in one process
(`--pool solo`, so the tasks and the consumer that holds their countdowns
share one heap), snapshots it every `--every` seconds from the moment it
is ready, and prints what grew between the first snapshot `--warmup`
minutes after that and the last, by line and by the allocating traceback:
where a worker's RSS that keeps growing goes. The soak itself still starts
the clock for `--minutes`: give a slow start room.
"""

import argparse
import json
import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOOK = """
import os, signal, sys, time, tracemalloc, runpy
def _dump(signum, frame):
    out = os.environ["BENCH_MEMTRACE_OUT"]
    tracemalloc.take_snapshot().dump(f"{out}.{os.getpid()}.{int(time.time() * 1000)}")
signal.signal(signal.SIGUSR1, _dump)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""

# The same, snapshotting every BENCH_MEMTRACE_EVERY seconds from a thread (a Celery
# worker's own signal handling stays as it is), from the moment the worker is ready:
# under tracemalloc, on a loaded machine, its start alone took minutes.
TIMED_HOOK = """
import os, sys, threading, time, tracemalloc, runpy
from celery.signals import worker_ready
ready = threading.Event()
worker_ready.connect(lambda **_: ready.set(), weak=False)
def _dump_every(seconds):
    out = os.environ["BENCH_MEMTRACE_OUT"]
    ready.wait()
    while True:
        tracemalloc.take_snapshot().dump(f"{out}.{os.getpid()}.{int(time.time() * 1000)}")
        time.sleep(seconds)
threading.Thread(target=_dump_every, args=(float(os.environ["BENCH_MEMTRACE_EVERY"]),), daemon=True).start()
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def main(argv=None) -> int:
    from bench import run as R

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["ours", "stock"], default="ours")
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--depth", type=int, default=1, help="frames kept per allocation")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--worker", action="store_true", help="trace the soak's Celery worker instead")
    parser.add_argument("--minutes", type=float, default=12, help="--worker: length of the soak")
    parser.add_argument("--warmup", type=float, default=3, help="--worker: minutes before the baseline")
    parser.add_argument("--every", type=float, default=60, help="--worker: seconds between snapshots")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="--worker: environment of the soak's processes, e.g. DEBUG=true")
    parser.add_argument("--rate", type=float, default=1.0,
                        help="--worker: calls/s (one traced process plays them all, several times slower)")
    args = parser.parse_args(argv)
    if args.worker:
        return trace_worker(args)
    run_args = argparse.Namespace(server_log_level="WARNING", max_streams=20000, listen_backlog=1024,
                                  keep_db=False, profile=False)
    stamp = time.strftime("memtrace-%Y%m%dT%H%M%S")
    setup = R.Setup(run_args, stamp)
    out = setup.logs / "snapshot"
    original_server_init = R.Server.__init__

    def traced_init(self, variant, tag):
        # The same server, started through the hook under tracemalloc.
        original_popen = R.subprocess.Popen

        def popen(argv, **kwargs):
            kwargs["env"] = {**kwargs["env"], "BENCH_MEMTRACE_OUT": str(out)}
            module_at = argv.index("-m")
            argv = [argv[0], f"-Xtracemalloc={args.depth}", "-c", HOOK, *argv[module_at + 1:]]
            return original_popen(argv, **kwargs)

        R.subprocess.Popen = popen
        try:
            original_server_init(self, variant, tag)
        finally:
            R.subprocess.Popen = original_popen

    R.Server.__init__ = traced_init
    try:
        variant = R.Variant(args.engine, setup)
        with R.world(variant, f"memtrace-{args.engine}", 1, publisher=False) as (server, clients, _):
            clients.open(1, 1, 30)
            time.sleep(2)
            first = _snapshot(server.pid, out)
            rss1 = R.proc_status(server.pid)["rss_kb"]
            opened = clients.open(args.streams - 1, 50, 120, 100, 0.5)
            time.sleep(3)
            second = _snapshot(server.pid, out)
            rss2 = R.proc_status(server.pid)["rss_kb"]
            n = opened["established"]
        print(f"{args.engine}: {n + 1} streams; RSS {(rss2 - rss1) / n:.1f} KB per stream")
        total = 0
        for key in ("filename", "lineno"):
            stats = second.compare_to(first, key)
            if key == "filename":
                total = sum(s.size_diff for s in stats)
                print(f"tracemalloc: {total / n / 1024:.1f} KB per stream in Python objects")
            print(f"\nby {key} (bytes per stream, count per stream):")
            for stat in stats[:args.top]:
                frame = stat.traceback[0]
                where = frame.filename.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
                where += f":{frame.lineno}" if key == "lineno" else ""
                print(f"  {stat.size_diff / n:8.0f} B  {stat.count_diff / n:6.2f}  {where}")
    finally:
        setup.close()
    return 0


def trace_worker(args) -> int:
    from bench import run as R

    run_args = argparse.Namespace(server_log_level="WARNING", max_streams=20000, listen_backlog=1024,
                                  keep_db=False, profile=False, soak_minutes=args.minutes,
                                  soak_warmup_minutes=args.warmup, soak_streams=300, soak_rate=args.rate,
                                  soak_interval=5, soak_env=args.env)
    stamp = time.strftime("memtrace-worker-%Y%m%dT%H%M%S")
    setup = R.Setup(run_args, stamp)
    out = setup.logs / "snapshot"
    original = R.celery_process

    def traced(setup_, tag, role, env):
        if role != "worker":
            return original(setup_, tag, role, env)
        env = {**env, "BENCH_MEMTRACE_OUT": str(out), "BENCH_MEMTRACE_EVERY": str(args.every)}
        argv = [R.PY, f"-Xtracemalloc={max(args.depth, 8)}", "-c", TIMED_HOOK, "celery", "-A", "project",
                "worker", "--pool", "solo", "--loglevel", "WARNING", "--hostname", f"trace-{tag}@%h"]
        log_file = (setup_.logs / f"{tag}-worker.log").open("wb")
        return R.subprocess.Popen(argv, cwd=R.ROOT, env=env, stdout=log_file,
                                  stderr=R.subprocess.STDOUT), log_file

    R.celery_process = traced
    try:
        result = R.scenario_soak(R.Variant("ours", setup), run_args, "memtrace-worker")
    finally:
        R.celery_process = original
        setup.close()
    print(json.dumps({k: v for k, v in result["processes"].items() if k.startswith("worker")}, indent=1))
    snapshots = sorted(out.parent.glob(out.name + ".*"), key=lambda path: int(path.name.rsplit(".", 1)[1]))
    first_ms = int(snapshots[0].name.rsplit(".", 1)[1]) if snapshots else 0
    after = [path for path in snapshots
             if int(path.name.rsplit(".", 1)[1]) - first_ms >= 1000 * (60 * args.warmup - args.every)]
    if len(after) < 2:
        print("not enough snapshots after warm-up")
        return 1
    first, last = tracemalloc.Snapshot.load(str(after[0])), tracemalloc.Snapshot.load(str(after[-1]))
    minutes = (int(after[-1].name.rsplit(".", 1)[1]) - int(after[0].name.rsplit(".", 1)[1])) / 60000
    stats = last.compare_to(first, "filename")
    print(f"tracemalloc, {minutes:.1f} min after warm-up: {sum(s.size_diff for s in stats) / 1024:.0f} KB")
    for key in ("lineno", "traceback"):
        print(f"\nby {key} (KB grown, objects grown):")
        for stat in last.compare_to(first, key)[:args.top]:
            frames = stat.traceback if key == "traceback" else stat.traceback[:1]
            print(f"  {stat.size_diff / 1024:8.1f} KB {stat.count_diff:7d}")
            for frame in frames:
                where = frame.filename.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
                print(f"        {where}:{frame.lineno}")
    return 0


def _snapshot(pid: int, out: Path) -> tracemalloc.Snapshot:
    before = set(out.parent.glob(out.name + ".*"))
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        new = set(out.parent.glob(out.name + ".*")) - before
        if new:
            path = new.pop()
            size = -1
            while size != path.stat().st_size:  # the dump is written in one go; wait for it to end
                size = path.stat().st_size
                time.sleep(0.5)
            return tracemalloc.Snapshot.load(str(path))
        time.sleep(0.2)
    raise TimeoutError("the server wrote no snapshot")


if __name__ == "__main__":
    sys.exit(main())
