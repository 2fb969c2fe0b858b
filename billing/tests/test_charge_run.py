"""The charge run's bounds (docs/billing.md): at most BILLING_MAX_MINUTES_PER_RUN
minutes per call per run, and a call that cannot be charged costs only itself.
Before, a call answered at year 1 made one run build ~10^9 entries, and any
failing call stopped billing for every workspace."""

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from billing import services
from billing.models import AgentRate, EntryKind, LedgerEntry
from billing.tests.helpers import ANSWERED, answered_call, balance, charges_of, ledger_sum
from calls import agents
from calls.models import Call
from calls.tests.helpers import place

pytestmark = pytest.mark.django_db
RATE = Decimal("0.1000")


def minutes_charged(call) -> int:
    return LedgerEntry.objects.filter(call_id=str(call.pk), kind=EntryKind.CALL_CHARGE).count()


def failures(loop: str) -> float:
    return REGISTRY.get_sample_value("callboard_background_failures_total", {"loop": loop}) or 0


def test_one_run_charges_a_call_at_most_the_cap_and_the_next_runs_the_rest(workspace, settings):
    # given a cap of 5 minutes a run, and a call that has talked 12 minutes unbilled
    settings.BILLING_MAX_MINUTES_PER_RUN = 5
    call = answered_call(workspace)
    now = ANSWERED + timedelta(minutes=12, seconds=1)

    # when the charge run runs four times
    runs = [services.charge_live_calls(now=now) for _ in range(4)]

    # then it charged 5, 5, 2 and then nothing, each minute once
    assert runs == [5, 5, 2, 0]
    assert minutes_charged(call) == 12 and charges_of(call) == -12 * RATE
    assert ledger_sum(workspace) == balance(workspace)


def test_a_call_answered_in_year_one_costs_one_run_only_the_cap(workspace, settings):
    # given a call whose answer time was stored at year 1 (before ingest bounded timestamps)
    settings.BILLING_MAX_MINUTES_PER_RUN = 60
    call = answered_call(workspace)
    Call.objects.filter(pk=call.pk).update(answered_at=ANSWERED.replace(year=1))

    # when the charge run runs
    charged = services.charge_live_calls(now=ANSWERED)

    # then it built 60 entries, not a billion
    assert charged == 60 and minutes_charged(call) == 60


def test_a_call_whose_charge_fails_is_logged_and_every_other_call_is_charged(
    workspace, other_workspace, caplog
):
    # given, in one workspace, a call whose agent's rate overflows the ledger (two minutes
    # of it are more than a balance can hold) beside an ordinary call, and an ordinary
    # call in another workspace
    agents.agent_create(workspace=workspace, name="costly")
    AgentRate.objects.create(workspace=workspace, agent_name="costly", rate_per_minute=Decimal("9999999999"))
    costly = answered_call(workspace, agent="costly")
    ordinary = answered_call(workspace)
    elsewhere = answered_call(other_workspace)
    before = failures("charge")

    # when the charge run runs two minutes later
    with caplog.at_level(logging.ERROR, logger="billing.services"):
        charged = services.charge_live_calls(now=ANSWERED + timedelta(minutes=2, seconds=1))

    # then the failing call is skipped, logged with its id and counted; the others are charged
    assert charged == 4
    assert minutes_charged(costly) == 0
    assert charges_of(ordinary) == charges_of(elsewhere) == -2 * RATE
    assert any(str(costly.pk) in record.getMessage() for record in caplog.records)
    assert failures("charge") == before + 1
    assert ledger_sum(workspace) == balance(workspace)


def test_ending_calls_out_of_credit_goes_on_past_a_call_that_cannot_end(workspace, caplog):
    # given an account out of credit with two live calls, one of them with an answer time
    # stored at year 1, whose cost no longer fits a call (it cannot end)
    broken, ordinary = answered_call(workspace), place(workspace)
    Call.objects.filter(pk=broken.pk).update(answered_at=ANSWERED.replace(year=1))
    services.adjust(workspace=workspace, amount=-balance(workspace), reason="test", actor="staff")

    # when the calls of the blocked account are ended
    with caplog.at_level(logging.ERROR, logger="billing.services"):
        ended = services.end_calls_without_credit(workspace=workspace)

    # then the other call ends, and the failure is logged with the call's id
    assert ended == 1
    assert Call.objects.get(pk=ordinary.pk).end_reason == "insufficient-balance"
    assert Call.objects.get(pk=broken.pk).status == "in-progress"
    assert any(str(broken.pk) in record.getMessage() for record in caplog.records)
