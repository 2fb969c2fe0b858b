"""Calls for the pipeline benchmarks, in the benchmark's database (run with its env).

    python bench/seed_calls.py --workspace ID --active 20            # answered calls, through the services
    python bench/seed_calls.py --workspace ID --history 100000 --plans   # ended calls, in bulk; query plans

Active calls go through `calls.services` (created, ringing, in progress) so the
ingest path finds them as a runtime would. The history is inserted in bulk:
100,000 calls through the services would take minutes of emits that measure
nothing here. It spreads the calls over 30 days, four agents, both directions
and the ending statuses, as a busy workspace's record would. `--plans` prints
PostgreSQL's plan for each list query the REST benchmark sends, so the report
shows which index serves it. Prints one JSON object.
"""

import argparse
import json
import os
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from calls import agents, selectors, services  # noqa: E402
from calls.models import Call  # noqa: E402
from project.pagination import paginate  # noqa: E402
from workspaces.models import Workspace  # noqa: E402

AGENTS = ["support", "sales", "billing", "survey"]
ENDINGS = [("completed", "customer-hangup", 0.55), ("completed", "agent-hangup", 0.2),
           ("no-answer", "no-answer", 0.1), ("busy", "busy", 0.07), ("failed", "error", 0.05),
           ("canceled", "canceled", 0.03)]
# The list queries the REST benchmark sends (bench/restgen.py uses the same).
LIST_QUERIES = {
    "newest": {},
    "status": {"status": "completed"},
    "agent": {"agent": "sales"},
    "active": {"active": True},
    "week": {"created_after_days": 7},
}


def seed_active(workspace: Workspace, count: int) -> list[str]:
    ids = []
    for number in range(count):
        call = services.call_create(workspace=workspace, to_number=f"+1415555{number:04d}", place=False)
        services.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
        services.call_transition(workspace=workspace, call_id=call.pk, status="in-progress")
        ids.append(str(call.pk))
    return ids


def seed_history(workspace: Workspace, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)  # noqa: S311 (repeatable benchmark data, not secrets)
    agents = {name: agents.agent_create(workspace=workspace, name=name) for name in AGENTS}
    now = datetime.now(UTC)
    statuses, weights = [(s, r) for s, r, _ in ENDINGS], [w for _, _, w in ENDINGS]
    batch = []
    for _ in range(count):
        created = now - timedelta(seconds=rng.uniform(60, 30 * 86400))
        (status, reason), = rng.choices(statuses, weights)
        answered = status == "completed"
        duration = rng.uniform(20, 600) if answered else None
        name = rng.choice(AGENTS)
        batch.append(Call(
            id=uuid.UUID(int=rng.getrandbits(128), version=4), workspace=workspace,
            direction=rng.choice(["outbound", "outbound", "inbound"]), source="api", status=status,
            from_number="+14155550100", to_number=f"+1415{rng.randrange(10**7):07d}",
            agent=agents[name], agent_name=name, created_at=created, started_at=created,
            answered_at=created + timedelta(seconds=5) if answered else None,
            ended_at=created + timedelta(seconds=5 + (duration or 20)), duration=duration,
            end_reason=reason, recording_status="available" if answered else "none",
        ))
        if len(batch) == 5000:
            Call.objects.bulk_create(batch)
            batch = []
    Call.objects.bulk_create(batch)
    # auto_now_add overwrote created_at: put the spread back in one statement per row set.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE calls_call SET created_at = started_at WHERE workspace_id = %s "
                       "AND started_at IS NOT NULL AND created_at <> started_at", [str(workspace.pk)])
    if connection.vendor != "postgresql":
        return
    # What autovacuum does to a table this size soon after: the visibility map lets
    # counts read the index alone.
    connection.ensure_connection()
    with connection.cursor() as cursor:
        previous = connection.connection.autocommit
        connection.connection.autocommit = True
        try:
            cursor.execute("VACUUM ANALYZE calls_call")
        finally:
            connection.connection.autocommit = previous


def list_plans(workspace: Workspace) -> dict:
    """The plan of each list query: the page read and the total count."""
    plans = {}
    for name, query in LIST_QUERIES.items():
        filters = dict(query)
        days = filters.pop("created_after_days", None)
        if days:
            filters["created_after"] = datetime.now(UTC) - timedelta(days=days)
        calls = selectors.call_list(workspace, **filters)
        page = calls.order_by("-created_at", "-pk")[:51]
        plans[name] = {"page": _plan(page), "count": _plan(calls, count=True)}
    detail = Call.objects.filter(workspace=workspace).values_list("pk", flat=True).first()
    plans["detail"] = {"page": _plan(Call.objects.filter(workspace=workspace, pk=detail))}
    paginate(selectors.call_list(workspace), page_size=50)  # the real code path runs as planned
    return plans


def _plan(queryset, *, count: bool = False) -> str:
    sql, params = queryset.query.sql_with_params()
    if count:
        sql = f"SELECT count(*) FROM ({sql}) AS counted"  # noqa: S608 (Django compiled it)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--active", type=int, default=0)
    parser.add_argument("--history", type=int, default=0)
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args()
    workspace = Workspace.objects.get(pk=args.workspace)
    out = {"active": seed_active(workspace, args.active) if args.active else [], "queries": LIST_QUERIES}
    if args.history:
        seed_history(workspace, args.history)
        out["history"] = args.history
    if args.plans and connection.vendor == "postgresql":
        out["plans"] = list_plans(workspace)
    out["ids_sample"] = [str(pk) for pk in Call.objects.filter(workspace=workspace)
                         .order_by("?").values_list("pk", flat=True)[:200]] if args.history else []
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
