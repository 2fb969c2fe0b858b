"""What the row tallies' triggers (workspaces/tallies.py) cost a write: the same
writes with the triggers on and off, in alternating rounds, one thread.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callboard_tally_bench SECRET_KEY=bench \\
        python bench/tally_write_cost.py --calls 300 --rounds 6

Two writes are timed: `call_create` (the service: the call, its event, the
outbox; one INSERT statement per row, the triggers' worst case) and one
INSERT of 1,000 calls (a bulk write, where the statement trigger is paid once).
The database must be a migrated PostgreSQL one whose name contains "bench" and
that nothing else writes meanwhile: the triggers are switched off and on for the
whole table. The workspace the script adds stays, its tallies recounted.
"""

import argparse
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from calls import services  # noqa: E402
from calls.models import Call  # noqa: E402
from workspaces import services as workspaces  # noqa: E402
from workspaces.models import RowTally  # noqa: E402

COUNTED_TABLES = ("calls_call", "billing_ledgerentry", "campaigns_contact")


def switch_tallies(on: bool) -> None:
    with connection.cursor() as cursor:
        for table in COUNTED_TABLES:
            for event in ("added", "removed"):
                cursor.execute(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER "
                               f"callboard_tally_{table}_{event}")


def recount(workspace) -> None:
    """The workspace's tallies made true again: rows written with the triggers off
    were not counted."""
    RowTally.objects.filter(workspace=workspace).delete()
    with connection.cursor() as cursor:
        for kind, table in (("calls.call", "calls_call"), ("billing.ledgerentry", "billing_ledgerentry")):
            cursor.execute(f"INSERT INTO workspaces_rowtally (workspace_id, kind, scope, shard, total) "  # noqa: S608
                           f"SELECT workspace_id, %s, workspace_id, 0, count(*) FROM {table} "
                           "WHERE workspace_id = %s GROUP BY workspace_id", [kind, workspace.pk])


def created_ms(workspace, count: int) -> float:
    """Median milliseconds of one call_create."""
    took = []
    for _ in range(count):
        started = time.perf_counter()
        services.call_create(workspace=workspace, to_number="+14155550123")
        took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took)


def bulk_ms(workspace, rows: int) -> float:
    """Milliseconds of one INSERT of `rows` calls, copied from the workspace's first."""
    template = Call.objects.filter(workspace=workspace).first()
    columns = [field.column for field in Call._meta.concrete_fields if field.column != "id"]
    listed = ", ".join(columns)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO calls_call (id, {listed}) SELECT gen_random_uuid(), {listed} "  # noqa: S608
                       "FROM calls_call, generate_series(1, %s) WHERE id = %s", [rows, template.pk])
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="call_create per round")
    parser.add_argument("--bulk-rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6, help="rounds of each, alternating")
    args = parser.parse_args()
    database = settings.DATABASES["default"]
    if connection.vendor != "postgresql" or "bench" not in database["NAME"]:
        sys.exit("Run against a PostgreSQL benchmark database (its name contains 'bench').")
    settings.VOICE_RUNTIME = "ingest"  # recorded only: nothing plays the calls
    workspace = workspaces.workspace_create(name=f"tally-{time.time_ns()}", opening_credit=Decimal(10**7))
    results: dict[str, dict[str, list[float]]] = {"on": {"create": [], "bulk": []},
                                                   "off": {"create": [], "bulk": []}}
    try:
        created_ms(workspace, 20)  # warm-up: code paths, plans, the first shard row
        for turn in range(args.rounds * 2):
            state = "on" if turn % 2 == 0 else "off"
            switch_tallies(state == "on")
            results[state]["create"].append(created_ms(workspace, args.calls))
            results[state]["bulk"].append(bulk_ms(workspace, args.bulk_rows))
            # The cap on active calls never bites: every call made so far is over.
            Call.objects.filter(workspace=workspace).exclude(status="completed").update(status="completed")
    finally:
        switch_tallies(True)
        recount(workspace)
    summary = {}
    for write in ("create", "bulk"):
        on, off = statistics.median(results["on"][write]), statistics.median(results["off"][write])
        summary[write] = {"tallies_on_ms": round(on, 3), "tallies_off_ms": round(off, 3),
                          "added_ms": round(on - off, 3), "ratio": round(on / off, 3),
                          "rounds_on": [round(value, 3) for value in results["on"][write]],
                          "rounds_off": [round(value, 3) for value in results["off"][write]]}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
