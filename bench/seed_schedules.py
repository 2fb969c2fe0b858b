"""One-off call schedules all due at the same instant, for the schedules benchmark,
in the benchmark's database (run with its env).

    python bench/seed_schedules.py --schedules 1000 --workspaces 10 --lead 45 --label run1

Creates --workspaces workspaces (with credit: a workspace at zero places no call)
and --schedules schedules spread over them, each through `schedule_create` (the
path of POST /schedules), each calling a number of its own, all with run_at = now
+ --lead seconds. Prints {"workspaces": [id, ...], "schedules": n, "due_at": ISO,
"seeded_s": seconds}.
"""

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from schedules.services import schedule_create  # noqa: E402
from workspaces.services import workspace_create  # noqa: E402

FIRST_NUMBER = 2_000_000  # +1415 2000000 on: valid San Francisco numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--workspaces", type=int, default=10)
    parser.add_argument("--lead", type=float, default=45, help="seconds from now to the runs' instant")
    parser.add_argument("--label", default="bench", help="makes the workspaces' slugs unique")
    args = parser.parse_args()
    started = time.monotonic()
    # Whole seconds: a run_at as a person would type it.
    due_at = (datetime.now(UTC) + timedelta(seconds=args.lead)).replace(microsecond=0)
    workspaces = [
        workspace_create(name=f"Schedules {n}", slug=f"sched-{args.label}-{n}",
                         opening_credit=Decimal("1000000"))
        for n in range(args.workspaces)
    ]
    for n in range(args.schedules):
        schedule_create(workspace=workspaces[n % len(workspaces)], name=f"Reminder {n}", run_at=due_at,
                        action={"type": "call", "to_number": f"+1415{FIRST_NUMBER + n:07d}"})
    print(json.dumps({"workspaces": [str(workspace.pk) for workspace in workspaces],
                      "schedules": args.schedules, "due_at": due_at.isoformat(),
                      "seeded_s": round(time.monotonic() - started, 2)}))


if __name__ == "__main__":
    main()
