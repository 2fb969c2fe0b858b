"""The data of the REST benchmark (issue #20), in its own database (run with its env).

    python bench/seed_rest.py --calls 1000000            # seeds once, then reuses; prints the facts
    python bench/seed_rest.py --calls 1000000 --plans    # and the plan of every list's page and count

Two workspaces with `--calls` ended calls each (the second only so that every
query has another tenant's rows to skip), and in the measured one what its
other lists read: the ledger (a charge per completed call), campaigns, the
contacts of one campaign, notifications (the retention cap's worth) and the
timelines of the sampled calls. The large tables are filled by `INSERT …
SELECT` over `generate_series` in PostgreSQL itself: a million rows through
the ORM would take minutes that measure nothing. PostgreSQL only.

The seed is recorded in a table of its own (`bench_seed`), with its sizes and
the ids the clients ask for: run again with the same sizes against the same
database, it mints a fresh API key and reuses the rows. Prints one JSON object.
"""

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from bench.seed_calls import AGENTS, LIST_QUERIES, list_plans  # noqa: E402
from calls import agents  # noqa: E402
from calls.models import CallEvent  # noqa: E402
from campaigns.models import Campaign  # noqa: E402
from notifications.models import Notification  # noqa: E402
from workspaces import services  # noqa: E402
from workspaces.models import Workspace  # noqa: E402

# Bumped whenever what is seeded changes, so an older seed is not reused.
SEED_VERSION = 1
# The exit status of a database that holds rows but not this seed (bench/run.py makes it anew).
SEED_STALE = 3
SAMPLE_CALLS = 200
EVENTS_PER_CALL = 22  # about the steps of a simulated call
CAMPAIGNS = 200
CONTACTS = 100_000
NOTIFICATIONS = 500  # NOTIFICATIONS_MAX_PER_WORKSPACE: a workspace keeps no more

# Ended calls spread over 30 days, four agents, both directions and the ending
# statuses in the proportions of bench/seed_calls.py (ENDINGS).
CALLS_SQL = """
INSERT INTO calls_call (id, workspace_id, direction, source, runtime, status, from_number, to_number,
    agent_id, agent_name, variables, created_at, started_at, answered_at, ended_at, duration,
    end_reason, recording_status)
SELECT gen_random_uuid(), %(workspace)s, CASE WHEN r_dir < 0.34 THEN 'inbound' ELSE 'outbound' END,
    'api', '', status, '+14155550100', '+1415' || lpad((r_to * 9999999)::int::text, 7, '0'),
    (%(agent_ids)s::uuid[])[agent + 1], (%(agent_names)s::text[])[agent + 1], '{}'::jsonb,
    created, created, CASE WHEN status = 'completed' THEN created + interval '5 seconds' END,
    created + make_interval(secs => 5 + coalesce(duration, 20)), duration, reason,
    CASE WHEN status = 'completed' THEN 'available' ELSE 'none' END
FROM (
    SELECT *, CASE WHEN status = 'completed' THEN 20 + r_duration * 580 END AS duration
    FROM (
        SELECT g, random() AS r_dir, random() AS r_to, random() AS r_duration,
            floor(random() * 4)::int AS agent,
            now() - make_interval(secs => 60 + random() * (30 * 86400 - 60)) AS created,
            CASE WHEN r < 0.55 THEN 'completed' WHEN r < 0.75 THEN 'completed' WHEN r < 0.85 THEN 'no-answer'
                 WHEN r < 0.92 THEN 'busy' WHEN r < 0.97 THEN 'failed' ELSE 'canceled' END AS status,
            CASE WHEN r < 0.55 THEN 'customer-hangup' WHEN r < 0.75 THEN 'agent-hangup'
                 WHEN r < 0.85 THEN 'no-answer' WHEN r < 0.92 THEN 'busy' WHEN r < 0.97 THEN 'error'
                 ELSE 'canceled' END AS reason
        FROM (SELECT g, random() AS r FROM generate_series(1, %(count)s) AS g) AS drawn
    ) AS shaped
) AS calls
"""

# A charge per completed call, at 0.10 USD a minute, with the balance each left.
LEDGER_SQL = """
INSERT INTO billing_ledgerentry (kind, reason, amount, balance_after, call_id, actor, note,
    idempotency_key, request_digest, created_at, workspace_id)
SELECT 'call-charge', 'call-settlement', amount,
    %(opening)s + sum(amount) OVER (ORDER BY ended_at, id), id::text, 'system', '',
    'call:' || id || ':settle', '', ended_at, workspace_id
FROM (SELECT id, workspace_id, ended_at, -round((duration / 60 * 0.1)::numeric, 4) AS amount
      FROM calls_call WHERE workspace_id = %(workspace)s AND status = 'completed') AS charged
"""

CONTACTS_SQL = """
INSERT INTO campaigns_contact (id, workspace_id, campaign_id, phone_number, variables, timezone, status,
    attempts, created_at, updated_at)
SELECT gen_random_uuid(), %(workspace)s, %(campaign)s, '+1628' || lpad(g::text, 7, '0'),
    jsonb_build_object('first_name', 'Contact ' || g), '', 'pending', 0,
    now() - make_interval(secs => g), now() - make_interval(secs => g)
FROM generate_series(1, %(count)s) AS g
"""


def _recorded(calls: int) -> dict | None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_seed (name text PRIMARY KEY, facts jsonb NOT NULL)")
        cursor.execute("SELECT facts FROM bench_seed WHERE name = 'rest'")
        row = cursor.fetchone()
    facts = json.loads(row[0]) if row and isinstance(row[0], str) else (row[0] if row else None)
    if facts and facts.get("version") == SEED_VERSION and facts.get("calls") == calls:
        return facts
    return None


def _workspace(name: str) -> tuple[Workspace, dict[str, str]]:
    workspace = services.workspace_create(name=name, owner=None, timezone_name="UTC",
                                          opening_credit=services.parse_credit("1000000"))
    made = {agent_name: str(agents.agent_create(workspace=workspace, name=agent_name).pk)
            for agent_name in AGENTS}
    return workspace, made


def _calls(workspace: Workspace, agent_ids: dict[str, str], count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(CALLS_SQL, {"workspace": str(workspace.pk), "count": count,
                                   "agent_ids": list(agent_ids.values()), "agent_names": list(agent_ids)})


def _ledger(workspace: Workspace) -> None:
    with connection.cursor() as cursor:
        cursor.execute(LEDGER_SQL, {"workspace": str(workspace.pk), "opening": 1_000_000})


def _campaigns(workspace: Workspace, agent_ids: dict[str, str]) -> str:
    agent_id = next(iter(agent_ids.values()))
    made = Campaign.objects.bulk_create(
        Campaign(workspace=workspace, agent_id=agent_id, name=f"Campaign {n}", from_number="+14155550100")
        for n in range(CAMPAIGNS))
    first = str(made[0].pk)
    with connection.cursor() as cursor:
        cursor.execute(CONTACTS_SQL, {"workspace": str(workspace.pk), "campaign": first, "count": CONTACTS})
    return first


def _notifications(workspace: Workspace) -> None:
    Notification.objects.bulk_create(
        Notification(workspace=workspace, kind="low-balance", severity="warning",
                     title="Credit is low", body=f"The balance fell to {n}.00 USD.",
                     subject_type="workspace", subject_id=str(workspace.pk),
                     source_event_id=uuid_for(workspace, n))
        for n in range(NOTIFICATIONS))


def uuid_for(workspace: Workspace, n: int) -> uuid.UUID:
    return uuid.uuid5(workspace.pk, f"bench-notification-{n}")


def _timelines(workspace: Workspace, call_ids: list[str]) -> None:
    """Each sampled call gets a timeline of the size a played call leaves."""
    start = datetime.now(UTC) - timedelta(days=1)
    CallEvent.objects.bulk_create(
        [CallEvent(workspace=workspace, call_id=call_id, event_id=f"bench-{call_id}-{n}",
                   type="call-transcript", timestamp=start + timedelta(seconds=n),
                   data={"role": "agent" if n % 2 else "caller", "text": f"Line {n} of the conversation."})
         for call_id in call_ids for n in range(EVENTS_PER_CALL)], batch_size=5000)


def _sample(workspace: Workspace) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id::text FROM calls_call WHERE workspace_id = %s ORDER BY random() LIMIT %s",
                       [str(workspace.pk), SAMPLE_CALLS])
        return [row[0] for row in cursor.fetchall()]


def _vacuum() -> None:
    """What autovacuum does to tables this size soon after: statistics for the
    planner, and the visibility map that lets a count read an index alone."""
    connection.ensure_connection()
    previous = connection.connection.autocommit
    connection.connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for table in ("calls_call", "billing_ledgerentry", "campaigns_contact", "campaigns_campaign",
                          "notifications_notification", "calls_callevent"):
                cursor.execute(f"VACUUM ANALYZE {table}")
    finally:
        connection.connection.autocommit = previous


def seed(calls: int) -> dict:
    started = time.monotonic()
    with transaction.atomic():
        workspace, agent_ids = _workspace("Bench REST")
        other, other_agents = _workspace("Bench REST Other")
        for each, ids in ((workspace, agent_ids), (other, other_agents)):
            _calls(each, ids, calls)
            _ledger(each)
        campaign = _campaigns(workspace, agent_ids)
        _notifications(workspace)
        ids = _sample(workspace)
        _timelines(workspace, ids)
        facts = {"version": SEED_VERSION, "calls": calls, "workspace_id": str(workspace.pk),
                 "other_workspace_id": str(other.pk), "campaign_id": campaign, "ids": ids,
                 "seeded_in_s": round(time.monotonic() - started, 1)}
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM bench_seed WHERE name = 'rest'")
            cursor.execute("INSERT INTO bench_seed (name, facts) VALUES ('rest', %s)", [json.dumps(facts)])
    _vacuum()
    return facts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, required=True, help="ended calls in each of the two workspaces")
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/seed_rest.py needs PostgreSQL (BENCH_DATABASE_URL or DATABASE_URL)")
    facts = _recorded(args.calls)
    reused = facts is not None
    if facts is None and Workspace.objects.exists():
        print("the database holds another seed (an older seeder's): make it anew", file=sys.stderr)
        return SEED_STALE
    if facts is None:
        facts = seed(args.calls)
    workspace = Workspace.objects.get(pk=facts["workspace_id"])
    issued = services.api_key_create(workspace=workspace, name="bench-rest", scopes=["read"])
    out = {**facts, "reused": reused, "api_key": issued.plaintext, "queries": LIST_QUERIES}
    if args.plans:
        out["plans"] = list_plans(workspace)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
