"""What a rate-limit check adds to a request: N calls of each limiter in a loop
against a real Redis, one at a time as a request makes them, with medians and
p99 per call. Ours (project.ratelimit, one EVALSHA each) beside the `limits`
library's strategies on the same Redis, and a bare PING as the floor.

    REDIS_URL=redis://127.0.0.1:6379/5 python bench/ratelimit_latency.py --calls 2000

The keys it writes start with `callboard:ratelimit:bench:` or `LIMITS:` and
expire by themselves. docs/PERFORMANCE.md ("Rate limits") reads the numbers.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")


def timed(call, calls: int) -> dict:
    samples = []
    for number in range(calls):
        started = time.perf_counter()
        call(number)
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return {"median_us": round(statistics.median(samples)),
            "p99_us": round(samples[int(len(samples) * 0.99)])}


def ours() -> dict:
    from project import ratelimit
    from project.redis_client import get_redis

    client = get_redis()
    return {
        "redis PING (floor)": lambda n: client.ping(),
        "ours: token bucket (REST write)": lambda n: ratelimit.take_token(
            f"bench:writes:{n % 50}", rate=1e6, burst=1_000_000),
        "ours: failed-key check (bearer)": lambda n: ratelimit.blocked_for(
            f"bench:failures:{n % 50}", limit=20),
    }


def library(url: str) -> dict:
    from limits import parse, storage, strategies

    store = storage.storage_from_string(url)
    item = parse("1000000/second")
    limiters = {
        "fixed window": strategies.FixedWindowRateLimiter(store),
        "moving window": strategies.MovingWindowRateLimiter(store),
        "sliding window counter": strategies.SlidingWindowCounterRateLimiter(store),
    }
    return {f"limits {name}": _hitter(limiter, item, name) for name, limiter in limiters.items()}


def _hitter(limiter, item, name: str):
    # Each strategy its own keys: they keep different Redis types under one name.
    return lambda n: limiter.hit(item, "bench", name, str(n % 50))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median of each case's medians")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    cases = {**ours(), **library(settings.REDIS_URL)}
    for call in cases.values():  # warm: connections made, scripts loaded
        timed(call, 50)
    rounds = {name: [timed(call, args.calls) for _ in range(args.repeat)] for name, call in cases.items()}
    print(f"{'case':40} {'median µs':>10} {'p99 µs':>8}   ({args.calls} calls x {args.repeat})")
    for name, results in rounds.items():
        median = statistics.median(result["median_us"] for result in results)
        p99 = statistics.median(result["p99_us"] for result in results)
        print(f"{name:40} {median:>10.0f} {p99:>8.0f}")


if __name__ == "__main__":
    main()
