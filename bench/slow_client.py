"""Memory per slow client: a server's resident memory (VmRSS, read from outside in
/proc) while clients that never read are sent large events (issue 15, item 3).

    DATABASE_URL=postgres://…/callboard_x REDIS_URL=redis://127.0.0.1:6379/N \\
        python bench/slow_client.py --calls 1000 --variables-kb 8 --stalled 1

starts one server (project.testing.running_server, uvicorn unless --server
daphne) on the database DATABASE_URL names (migrated; a workspace is created in
it), opens `--stalled` streams that read `connected` and nothing more and
`--readers` streams that read everything, creates `--calls` calls with
`--variables-kb` KB of variables each (their `call-created` events carry the
variables), and prints the server's RSS before, at its peak, and after, as JSON.
A measurement, not a test: it asserts nothing.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack, suppress
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-for-measurements-only")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--variables-kb", type=int, default=8)
    parser.add_argument("--stalled", type=int, default=1, help="streams that never read")
    parser.add_argument("--readers", type=int, default=0, help="streams that read everything")
    parser.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args(argv)

    import django

    django.setup()
    from calls import services as calls
    from project.testing import running_server
    from realtime.tests.streaming import RawStream, metric_value, open_stream, resident_memory_kib
    from workspaces import services as workspaces

    workspace = workspaces.workspace_create(name=f"Memory {uuid.uuid4().hex[:8]}",
                                            opening_credit=Decimal(1000))
    key = workspaces.api_key_create(workspace=workspace, name="read", scopes=["read"]).plaintext
    variables = {"notes": "x" * (args.variables_kb * 1024)}
    env = dict(item.split("=", 1) for item in args.env)

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as streams:
        server = streams.enter_context(running_server(Path(tmp), env=env, server=args.server))
        pid = server.process.pid
        for _ in range(args.stalled):
            streams.enter_context(RawStream(server, key=key))
        readers = [threading.Thread(target=_read_all, daemon=True,
                                    args=(streams.enter_context(open_stream(server, key=key)),))
                   for _ in range(args.readers)]
        for reader in readers:
            reader.start()
        time.sleep(1)  # let the connects settle before the baseline
        before = peak = resident_memory_kib(pid)
        started = time.monotonic()
        for number in range(args.calls):
            calls.call_create(workspace=workspace, to_number="+14155550123", variables=variables, place=False)
            if number % 20 == 0:
                peak = max(peak, resident_memory_kib(pid))
        emitted_s = time.monotonic() - started
        for _ in range(20):  # two more seconds: the last events reach the server
            time.sleep(0.1)
            peak = max(peak, resident_memory_kib(pid))
        after = resident_memory_kib(pid)
        overflow_closes = metric_value(server, "callboard_stream_overflow_closes_total")
    print(json.dumps({
        "server": args.server, "calls": args.calls, "variables_kb": args.variables_kb,
        "stalled": args.stalled, "readers": args.readers, "env": env, "emit_s": round(emitted_s, 1),
        "rss_before_kib": before, "rss_peak_kib": peak, "rss_after_kib": after,
        "growth_peak_kib": peak - before, "growth_after_kib": after - before,
        "overflow_closes": overflow_closes,
    }))
    return 0


def _read_all(stream) -> None:
    # The stream is closed under it at the end (or times out when idle).
    with suppress(Exception):
        stream.rest()


if __name__ == "__main__":
    sys.exit(main())
