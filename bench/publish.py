"""The publishing side of the benchmark: a separate process, set up like the server.

    DJANGO_SETTINGS_MODULE=project.settings     python -m bench.publish --engine ours
    DJANGO_SETTINGS_MODULE=bench.stock.settings python -m bench.publish --engine stock

reads JSON commands on stdin, one a line, and answers one JSON line each:

    {"cmd": "publish", "target": "<workspace id | channel>", "count": 500, "rate": 50,
     "start_n": 0, "atomic": false}
    {"cmd": "quit"}

Each event carries its send time (time.time() as a string, taken just before
the publish call) in `export_id` and its number n in `row_count`:

- ours:  realtime.emit.emit(workspace, "data-export-status", {...}) in its own
  transaction (the relay publishes on commit); with "atomic": true, all of
  them in one transaction, so they reach Redis as one burst after the commit.
- stock: django_eventstream.send_event(channel, "message", {...}).

`rate` is events per second on a fixed schedule (a late event is sent at once,
not skipped); 0 means as fast as the calls return. Bounded by `count` and by a
deadline of twice the planned time plus 60 s.
"""

import argparse
import json
import os
import sys
import time


def _setup():
    import django

    django.setup()


def publisher_for(engine: str):
    if engine == "ours":
        from realtime.emit import emit
        from workspaces.models import Workspace

        workspaces = {}

        def publish(target: str, n: int):
            workspace = workspaces.get(target)
            if workspace is None:
                workspace = workspaces[target] = Workspace.objects.get(pk=target)
            emit(workspace, "data-export-status",
                 {"export_id": repr(time.time()), "status": "running", "progress": 1, "row_count": n})

        return publish
    if engine == "stock":
        from django_eventstream import send_event

        def publish(target: str, n: int):
            send_event(target, "message",
                       {"export_id": repr(time.time()), "status": "running", "progress": 1, "row_count": n})

        return publish
    raise SystemExit(f"unknown engine {engine!r}")


def run_publish(publish, *, target: str, count: int, rate: float, start_n: int = 0,
                atomic: bool = False) -> dict:
    from django.db import transaction

    planned = count / rate if rate > 0 else 0
    deadline = time.monotonic() + 2 * planned + 60
    started = time.monotonic()
    t_first = time.time()
    max_behind = 0.0
    published = 0

    def loop():
        nonlocal max_behind, published
        for i in range(count):
            if rate > 0:
                due = started + i / rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                else:
                    max_behind = max(max_behind, now - due)
            if time.monotonic() > deadline:
                break
            publish(target, start_n + i)
            published += 1

    if atomic:
        with transaction.atomic():
            loop()
    else:
        loop()
    elapsed = time.monotonic() - started
    return {"published": published, "t_first": t_first, "t_last": time.time(),
            "elapsed_s": round(elapsed, 4),
            "achieved_rate": round(published / elapsed, 1) if elapsed > 0 else None,
            "max_behind_ms": round(max_behind * 1000, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["ours", "stock"], required=True)
    args = parser.parse_args(argv)
    _setup()
    publish = publisher_for(args.engine)
    out = sys.stdout
    out.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        command = json.loads(line)
        name = command.pop("cmd")
        if name == "quit":
            break
        try:
            if name != "publish":
                raise ValueError(f"unknown command {name!r}")
            reply = {"ok": True, **run_publish(publish, **command)}
        except Exception as error:
            reply = {"ok": False, "error": f"{error.__class__.__name__}: {error}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
