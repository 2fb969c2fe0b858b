"""The two cron evaluators we could use for schedules, side by side: whether each
keeps the contract's daylight-saving rules (docs/schedules.md "Time zones and
daylight saving"), and what parsing an expression and stepping to its next time
costs. cronsim is what schedules/timing.py uses; croniter is pinned in
requirements-dev.txt only for this comparison.

    python bench/cron_evaluators.py --steps 5000

docs/PERFORMANCE.md ("Schedules") reads the numbers.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter
from cronsim import CronSim

# (what, expression, zone, start (UTC), the instants (UTC) the contract wants next)
DST_CASES = [
    ("New York springs forward: 02:30 runs at 03:00 EDT", "30 2 * * *", "America/New_York",
     "2026-03-07T12:00", ["2026-03-08T07:00", "2026-03-09T06:30"]),
    ("New York falls back: 01:30 runs once", "30 1 * * *", "America/New_York",
     "2026-10-31T12:00", ["2026-11-01T05:30", "2026-11-02T06:30"]),
    ("Berlin springs forward: 02:30 runs at 03:00 CEST", "30 2 * * *", "Europe/Berlin",
     "2026-03-28T12:00", ["2026-03-29T01:00", "2026-03-30T00:30"]),
    ("Berlin falls back: 02:30 runs once", "30 2 * * *", "Europe/Berlin",
     "2026-10-24T12:00", ["2026-10-25T00:30", "2026-10-26T01:30"]),
    ("hourly through New York's repeated hour: every real hour", "0 * * * *", "America/New_York",
     "2026-11-01T04:30", ["2026-11-01T05:00", "2026-11-01T06:00", "2026-11-01T07:00"]),
]
TIMED = ["*/5 9-17 * * mon-fri", "30 2 * * *", "0 0 L * *"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def with_cronsim(expression: str, start: datetime, count: int) -> list[datetime]:
    steps = CronSim(expression, start)
    return [next(steps).astimezone(UTC) for _ in range(count)]


def with_croniter(expression: str, start: datetime, count: int) -> list[datetime]:
    steps = croniter(expression, start)
    return [steps.get_next(datetime).astimezone(UTC) for _ in range(count)]


EVALUATORS: dict[str, Callable] = {"cronsim": with_cronsim, "croniter": with_croniter}


def median_us(call: Callable[[], object], steps: int) -> float:
    samples = []
    for _ in range(steps):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5000, help="timed calls per evaluator and expression")
    args = parser.parse_args()

    print("| case | " + " | ".join(EVALUATORS) + " |")
    print("|---|" + "---|" * len(EVALUATORS))
    for what, expression, zone, start, wanted in DST_CASES:
        expected = [utc(moment) for moment in wanted]
        cells = []
        for evaluate in EVALUATORS.values():
            got = evaluate(expression, utc(start).astimezone(ZoneInfo(zone)), len(expected))
            shown = ", ".join(f"{moment:%m-%d %H:%M}Z" for moment in got)
            cells.append("right" if got == expected else f"wrong: {shown}")
        print(f"| {what} (`{expression}`) | " + " | ".join(cells) + " |")

    print()
    print("| expression: parse + next time, median µs | " + " | ".join(EVALUATORS) + " | ratio |")
    print("|---|" + "---|" * (len(EVALUATORS) + 1))
    start = datetime(2026, 6, 1, tzinfo=ZoneInfo("Europe/Berlin"))
    for expression in TIMED:
        costs = [median_us(lambda evaluate=evaluate, expression=expression: evaluate(expression, start, 1),
                           args.steps)
                 for evaluate in EVALUATORS.values()]
        print(f"| `{expression}` | " + " | ".join(f"{cost:.1f}" for cost in costs)
              + f" | {costs[1] / costs[0]:.1f}x |")


if __name__ == "__main__":
    main()
