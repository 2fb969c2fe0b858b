"""End to end: a simulated call played by a real Celery worker, charged by the
real beat while it talks, watched on a real stream (the charge period is 3 s
here instead of a minute, so that a call of a few seconds spans several); a
workspace that runs out of credit has its calls ended by a worker; and the
command line opens an account with credit."""

import json
import math
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from billing import services
from billing.models import LedgerEntry
from billing.tests.helpers import answered_call, balance, charges_of
from calls import services as calls
from calls.models import Call
from calls.runtime.simulated import agent_facts, runtime, script_for
from project.testing import running_server, running_worker
from realtime.tests.streaming import emit_marker, open_stream
from workspaces.models import Workspace

PERIOD = 3
ENV = {
    "SIMULATOR_SPEED": "1",
    "VOICE_RUNTIME": "simulated",
    "BILLING_CHARGE_PERIOD_SECONDS": str(PERIOD),
    "BILLING_CHARGE_INTERVAL_SECONDS": "0.5",
}


def talking_seed(call, *, at_least: float, at_most: float) -> int:
    """A seed whose script answers the call and talks for about that long (seconds at speed 1)."""
    for seed in range(1000):
        elapsed, answered = 0.0, None
        for step in script_for(str(call.pk), agent_facts(call.agent), seed):
            elapsed += step.delay
            statuses = [event["data"]["status"] for event in step.events if event["type"] == "call-status"]
            if "in-progress" in statuses:
                answered = elapsed
            if "completed" in statuses and answered is not None and at_least <= elapsed - answered <= at_most:
                return seed
    raise AssertionError("no script of that length in 1,000 seeds")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_simulated_call_moves_the_balance_live_each_period_and_its_charges_equal_its_cost(
    tmp_path, workspace, read_key
):
    call = calls.call_create(workspace=workspace, to_number="+14155550123", place=False)
    seed = talking_seed(call, at_least=10, at_most=20)
    with (
        running_server(tmp_path, env=ENV) as server,
        running_worker(tmp_path, env=ENV, beat=True),
        open_stream(server, key=read_key.key) as stream,
    ):
        runtime.place(call, speed=1, seed=seed)
        seen = stream.until(lambda event: event.event == "call-ended")
        marker = emit_marker(workspace)
        seen += stream.until_event(marker)

    call = Call.objects.get(pk=call.pk)
    updates = [
        event.data["data"]
        for event in seen
        if event.event == "balance-updated" and event.data["data"]["call_id"] == str(call.pk)
    ]
    live = [update for update in updates if update["reason"] == "call-charge"]
    price = Decimal("0.1000") * PERIOD / 60
    # every whole period of talk was charged while the call went on (one may fall after the end)
    assert len(live) >= int(call.duration // PERIOD) - 1 >= 2
    assert {Decimal(update["delta"]) for update in live} == {-price}
    # and the end settled the rest: the call's charges are its cost, on the stream and in the ledger
    billed_seconds = math.ceil(call.duration)
    assert call.cost == (Decimal("0.1000") * billed_seconds / 60).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    assert sum(Decimal(update["delta"]) for update in updates) == -call.cost == charges_of(call)
    assert Decimal(updates[-1]["balance"]) == balance(workspace) == Decimal("100") - call.cost
    assert LedgerEntry.objects.filter(call_id=str(call.pk), reason="call-settlement").count() <= 1


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_running_out_of_credit_ends_the_running_calls_through_a_worker(tmp_path, workspace):
    env = {"VOICE_RUNTIME": "ingest"}  # a runtime outside: nothing plays the call, the worker only ends it
    call = answered_call(workspace, at=datetime.now(UTC) - timedelta(seconds=5))
    with running_worker(tmp_path, env=env):
        services.adjust(
            workspace=workspace, amount=-balance(workspace), reason="test: spent", actor="staff:test"
        )
        deadline = time.monotonic() + 20
        while Call.objects.get(pk=call.pk).is_active and time.monotonic() < deadline:
            time.sleep(0.2)

    call = Call.objects.get(pk=call.pk)
    assert (call.status, call.end_reason) == ("completed", "insufficient-balance")
    assert charges_of(call) == -call.cost < 0
    assert balance(workspace) < 0  # the talk until the end is still paid


@pytest.mark.django_db
def test_createworkspace_with_credit_opens_the_account_with_it():
    out = StringIO()
    call_command("createworkspace", "Hooli", "--credit", "25.50", "--json", stdout=out)

    workspace_id = json.loads(out.getvalue())["workspace_id"]
    assert LedgerEntry.objects.get(workspace_id=workspace_id).reason == "opening-credit"
    assert balance(Workspace.objects.get(pk=workspace_id)) == Decimal("25.50")
