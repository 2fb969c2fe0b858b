"""Waits until every schedule of the given workspaces has a run, then reports the
runs from the database, for the schedules benchmark (run with its env).

    python bench/schedule_runs.py --workspaces ID,ID --timeout 300

Polls every 0.2 s until each schedule has at least one ScheduleRun or --timeout
passes (then reports what there is, with "all_run": false). Prints one JSON
object: runs recorded, the most runs of one (schedule, scheduled_for) (exactly
once: 1), the outcomes, the calls placed for a schedule, the schedules completed,
and the lateness (executed_at - scheduled_for) p50/p90/p99/max in ms.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from django.db.models import Count, Max, Min  # noqa: E402

from calls.models import Call  # noqa: E402
from schedules.models import Schedule, ScheduleRun  # noqa: E402


def percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def wait_for_runs(workspace_ids: list[str], timeout: float) -> tuple[bool, float]:
    """(every schedule has a run, seconds waited)."""
    started = time.monotonic()
    schedules = Schedule.objects.filter(workspace_id__in=workspace_ids)
    while True:
        without_run = schedules.filter(runs__isnull=True).count()
        if without_run == 0 or time.monotonic() - started > timeout:
            return without_run == 0, time.monotonic() - started
        time.sleep(0.2)


def report(workspace_ids: list[str]) -> dict:
    runs = ScheduleRun.objects.filter(workspace_id__in=workspace_ids)
    outcomes = dict(runs.values_list("outcome").annotate(n=Count("id")).values_list("outcome", "n"))
    per_time = runs.values("schedule_id", "scheduled_for").annotate(n=Count("id"))
    lateness = [(executed - scheduled).total_seconds() * 1000
                for scheduled, executed in runs.filter(executed_at__isnull=False)
                .values_list("scheduled_for", "executed_at")]
    span = runs.aggregate(first=Min("executed_at"), last=Max("executed_at"), due=Min("scheduled_for"))
    schedules = Schedule.objects.filter(workspace_id__in=workspace_ids)
    schedule_ids = [str(pk) for pk in schedules.values_list("pk", flat=True)]
    return {
        "schedules": len(schedule_ids),
        "runs_recorded": runs.count(),
        "runs_per_scheduled_time_max": per_time.aggregate(most=Max("n"))["most"],
        "executed": outcomes.get("executed", 0),
        "failed": outcomes.get("failed", 0),
        "missed": outcomes.get("missed", 0),
        "calls_with_schedule_id": Call.objects.filter(schedule_id__in=schedule_ids).count(),
        "schedules_completed": schedules.filter(status="completed").count(),
        "failure_codes": sorted({(error or {}).get("code") for error in
                                 runs.exclude(outcome="executed").values_list("error", flat=True)}),
        "lateness_p50_ms": _ms(percentile(lateness, 0.50)),
        "lateness_p90_ms": _ms(percentile(lateness, 0.90)),
        "lateness_p99_ms": _ms(percentile(lateness, 0.99)),
        "lateness_max_ms": _ms(max(lateness, default=None)),
        "first_executed_after_due_ms": _ms(_between(span["due"], span["first"])),
        "last_executed_after_due_ms": _ms(_between(span["due"], span["last"])),
    }


def _between(earlier, later) -> float | None:
    return (later - earlier).total_seconds() * 1000 if earlier and later else None


def _ms(value: float | None) -> int | None:
    return None if value is None else round(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspaces", required=True, help="comma-separated workspace ids")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    workspace_ids = args.workspaces.split(",")
    all_run, waited = wait_for_runs(workspace_ids, args.timeout)
    result = report(workspace_ids)
    result.update({"all_run": all_run, "waited_s": round(waited, 1)})
    executed_in = (result["last_executed_after_due_ms"] or 0) - (result["first_executed_after_due_ms"] or 0)
    result["runs_per_s"] = round(result["executed"] / (executed_in / 1000), 1) if executed_in > 0 else None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
