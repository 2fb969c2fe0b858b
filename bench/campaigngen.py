"""A campaign run end to end through the REST API, watched from the database.

    python -m bench.campaigngen --port 8000 --key cbk_... --contacts 10000 --concurrency 100

Creates a campaign, uploads --contacts generated numbers as one CSV, starts it,
and while the dialer (Celery workers and beat, the simulated runtime) works it
through, samples the campaign's active calls from the database every
--sample-interval s. When the campaign completes (or --timeout passes) it checks
the run from the calls table and prints one JSON object:

- `max_active_sampled` against `max_concurrency`;
- every contact terminal, attempts within `retry.max_attempts`, one call per attempt;
- `overlapping_dials`: calls to the same number that were active at the same time;
- calls placed per second (first to last dial) and the time from a call's end to
  the next dial while contacts were still waiting (median, p90, p99).

It talks to 127.0.0.1 only; every wait is bounded. The database is read with the
project's settings (DATABASE_URL), as the server reads it.
"""

import argparse
import bisect
import itertools
import json
import os
import sys
import threading
import time

import httpx

ACTIVE = ("queued", "ringing", "in-progress")
# NANP area codes of several zones, so a "contact" window would see them apart.
AREA_CODES = ("415", "212", "312", "303", "206", "617", "305", "512")


def numbers(count: int) -> list[str]:
    """`count` distinct, valid North American numbers (555-01xx is reserved for fiction,
    so the subscriber part spans the whole 0000-9999 of other exchanges)."""
    out = []
    for n in range(count):
        area = AREA_CODES[n % len(AREA_CODES)]
        exchange = 200 + (n // len(AREA_CODES)) // 10_000
        out.append(f"+1{area}{exchange}{(n // len(AREA_CODES)) % 10_000:04d}")
    return out


def csv_body(count: int) -> bytes:
    lines = ["phone_number,first_name,account"]
    lines += [f"{number},Contact {n},A-{n:06d}" for n, number in enumerate(numbers(count))]
    return ("\n".join(lines) + "\n").encode()


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


class ActiveSampler:
    """The campaign's active calls, counted in the database every `interval` s."""

    def __init__(self, campaign_id: str, interval: float):
        self.campaign_id = campaign_id
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self):
        from django.db import connection

        try:
            while not self._stop.is_set():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM calls_call WHERE campaign_id = %s AND status = ANY(%s)",
                                   [self.campaign_id, list(ACTIVE)])
                    self.samples.append(cursor.fetchone()[0])
                self._stop.wait(self.interval)
        finally:
            connection.close()


def analyse(campaign_id: str, max_attempts: int) -> dict:
    """What the calls and contacts tables say about the run."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_number, created_at, ended_at FROM calls_call WHERE campaign_id = %s "
                       "ORDER BY created_at", [campaign_id])
        calls = cursor.fetchall()
        cursor.execute("SELECT status, count(*), coalesce(sum(attempts), 0), coalesce(max(attempts), 0) "
                       "FROM campaigns_contact WHERE campaign_id = %s GROUP BY status", [campaign_id])
        by_status = {status: (count, attempts, most) for status, count, attempts, most in cursor.fetchall()}
    created = [row[1].timestamp() for row in calls]
    ended = [row[2].timestamp() for row in calls if row[2] is not None]
    # A call's end → the first dial after it. Only while the campaign still had contacts
    # waiting: the last wave's endings have no next dial to wait for.
    last_dial = created[-1] if created else 0
    gaps = []
    for end in ended:
        if end >= last_dial:
            continue
        at = bisect.bisect_right(created, end)
        if at < len(created):
            gaps.append(1000 * (created[at] - end))
    overlapping = 0
    by_number: dict[str, list[tuple[float, float]]] = {}
    for number, start, end in calls:
        by_number.setdefault(number, []).append((start.timestamp(), end.timestamp() if end else float("inf")))
    for spans in by_number.values():
        spans.sort()
        overlapping += sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])
    contacts = sum(count for count, _, _ in by_status.values())
    attempts = sum(total for _, total, _ in by_status.values())
    span = (created[-1] - created[0]) if len(created) > 1 else 0
    return {
        "calls": len(calls),
        "contacts": contacts,
        "contacts_by_status": {status: count for status, (count, _, _) in by_status.items()},
        "all_terminal": contacts > 0 and set(by_status) <= {"completed", "failed", "skipped"},
        "attempts": attempts,
        "calls_match_attempts": attempts == len(calls),
        "max_attempts_seen": max((most for _, _, most in by_status.values()), default=0),
        "attempts_within_policy": all(most <= max_attempts for _, _, most in by_status.values()),
        "overlapping_dials": overlapping,
        "dial_span_s": round(span, 1),
        "calls_per_s": round(len(calls) / span, 1) if span else None,
        "end_to_next_dial_p50_ms": _percentile(gaps, 0.5),
        "end_to_next_dial_p90_ms": _percentile(gaps, 0.9),
        "end_to_next_dial_p99_ms": _percentile(gaps, 0.99),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True, help="a key with read and write")
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--max-attempts", type=int, default=2)
    parser.add_argument("--retry-delay", type=int, default=1, help="delay_seconds of the retry policy")
    parser.add_argument("--sample-interval", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the benchmark talks to this machine only")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    api = httpx.Client(base_url=f"http://{args.host}:{args.port}/api/v1",
                       headers={"Authorization": f"Bearer {args.key}"}, timeout=120)
    made = api.post("/campaigns", json={
        "name": f"Bench {args.contacts:,} contacts", "max_concurrency": args.concurrency,
        "retry": {"max_attempts": args.max_attempts, "retry_on": ["no-answer", "busy", "failed", "voicemail"],
                  "delay_seconds": args.retry_delay},
    })
    made.raise_for_status()
    campaign = made.json()
    started = time.monotonic()
    uploaded = api.post(f"/campaigns/{campaign['id']}/contacts", content=csv_body(args.contacts),
                        headers={"Content-Type": "text/csv"})
    uploaded.raise_for_status()
    upload = {**uploaded.json(), "seconds": round(time.monotonic() - started, 2)}
    upload["errors"] = len(upload["errors"])
    api.post(f"/campaigns/{campaign['id']}/start").raise_for_status()
    started = time.monotonic()
    status = "running"
    with ActiveSampler(campaign["id"], args.sample_interval) as sampler:
        while time.monotonic() - started < args.timeout:
            status = api.get(f"/campaigns/{campaign['id']}").json()["status"]
            if status in ("completed", "canceled"):
                break
            time.sleep(0.5)
    elapsed = time.monotonic() - started
    result = {
        "max_concurrency": args.concurrency, "max_attempts": args.max_attempts, "upload": upload,
        "status": status, "run_s": round(elapsed, 1),
        "max_active_sampled": max(sampler.samples, default=0), "active_samples": len(sampler.samples),
        "mean_active_sampled": (round(sum(sampler.samples) / len(sampler.samples), 1)
                                if sampler.samples else 0),
        **analyse(campaign["id"], args.max_attempts),
    }
    result["concurrency_held"] = result["max_active_sampled"] <= args.concurrency
    print(json.dumps(result))
    return 0 if status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
