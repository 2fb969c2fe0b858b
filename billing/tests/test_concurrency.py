"""On PostgreSQL, with real row locks: many workers charging one account at once
end exact, and a worker that dies inside its charge leaves nothing behind."""

import os
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, connections

from billing import services
from billing.models import LedgerEntry
from billing.tests.helpers import ANSWERED, answered_call, balance, ledger_sum
from project import testing

THREADS = 20


def needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent transactions and row locks")


@pytest.mark.django_db(transaction=True)
def test_twenty_threads_charging_and_topping_up_one_account_at_once_end_exact(workspace):
    needs_postgresql()
    calls = [answered_call(workspace, at=ANSWERED + timedelta(seconds=n)) for n in range(3)]
    start = threading.Barrier(THREADS)
    failures = []

    def work(number: int) -> None:
        try:
            start.wait(timeout=30)
            # every thread charges the same minutes (each at most once in all) and adds its own credit
            services.charge_workspace_calls(workspace=workspace, now=ANSWERED + timedelta(seconds=185))
            services.top_up(
                workspace=workspace,
                amount=Decimal("1.0001"),
                idempotency_key=f"thread-{number}",
                actor=f"thread:{number}",
            )
        except Exception as error:  # reported below, on the test's thread
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(number,)) for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    minute_charges = LedgerEntry.objects.filter(workspace=workspace, reason="call-charge")
    assert minute_charges.count() == 3 * 3  # three calls, three whole minutes each
    expected = Decimal("100") - Decimal("0.9") + THREADS * Decimal("1.0001")
    assert balance(workspace) == ledger_sum(workspace) == expected
    for call in calls:
        assert {entry.idempotency_key for entry in minute_charges.filter(call_id=str(call.pk))} == {
            f"call:{call.pk}:minute:{n}" for n in (1, 2, 3)
        }


DYING_CHARGER = textwrap.dedent("""
    import os, sys
    from datetime import datetime
    import django
    django.setup()
    from billing import services
    from workspaces.models import Workspace

    def die(*args, **kwargs):
        os._exit(0)  # the worker is killed: its ledger rows and balance are written, not committed

    services.emit_many = die
    workspace = Workspace.objects.get(pk=sys.argv[1])
    services.charge_workspace_calls(workspace=workspace, now=datetime.fromisoformat(sys.argv[2]))
    sys.exit(3)  # not reached
""")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_inside_a_charge_leaves_no_partial_charge_and_the_retry_charges_once(workspace):
    needs_postgresql()
    call = answered_call(workspace)
    moment = ANSWERED + timedelta(seconds=130)
    entries_before, balance_before = LedgerEntry.objects.count(), balance(workspace)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": testing.test_database_url(),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret"),
        "REDIS_URL": settings.REDIS_URL,
    }

    died = subprocess.run(
        [sys.executable, "-c", DYING_CHARGER, str(workspace.pk), moment.isoformat()],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert died.returncode == 0, died.stderr
    assert (LedgerEntry.objects.count(), balance(workspace)) == (entries_before, balance_before)

    # when the task runs again (acks_late redelivers it)
    assert services.charge_workspace_calls(workspace=workspace, now=moment) == 2
    assert services.charge_workspace_calls(workspace=workspace, now=moment) == 0
    assert LedgerEntry.objects.filter(call_id=str(call.pk)).count() == 2
    assert balance(workspace) == ledger_sum(workspace) == balance_before - Decimal("0.2")
