"""call_create from several threads into one workspace: the cost of the
active-call cap's count, which runs under the workspace's cursor lock
(docs/architecture.md, Admission). Prints calls per second per round.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callboard_bench \\
        python bench/call_create_threads.py --threads 4 --calls 50 --rounds 3

The database must be a migrated one whose name contains "bench"; the script adds
a workspace and its calls to it (ended after each round, so the cap never bites).
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from calls import services  # noqa: E402
from calls.models import Call  # noqa: E402
from workspaces import services as workspaces  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--calls", type=int, default=50, help="per thread and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if "bench" not in settings.DATABASES["default"]["NAME"]:
        sys.exit("Run against a benchmark database (its name contains 'bench').")
    settings.VOICE_RUNTIME = "ingest"  # recorded only: nothing plays the calls
    workspace = workspaces.workspace_create(name=f"create-{time.time_ns()}", opening_credit=Decimal(10**6))

    def create(count: int) -> None:
        try:
            for _ in range(count):
                services.call_create(workspace=workspace, to_number="+14155550123")
        finally:
            connection.close()

    rates = []
    for _ in range(args.rounds):
        threads = [threading.Thread(target=create, args=(args.calls,)) for _ in range(args.threads)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rates.append(args.threads * args.calls / (time.perf_counter() - started))
        Call.objects.filter(workspace=workspace).update(status="completed")
    print(json.dumps({"calls_per_second": [round(rate, 1) for rate in rates],
                      "median": round(statistics.median(rates), 1)}))


if __name__ == "__main__":
    main()
