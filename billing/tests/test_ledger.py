"""The billing rules (docs/reference/domain.md#billing): opening credit, live minute charges, settlement to
the call's cost, idempotent effects, payment-required once per crossing, and the
payment wall for new and running calls."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from billing import services
from billing.models import AgentRate, CreditAccount, EntryKind, LedgerEntry
from billing.tests.helpers import (
    ANSWERED,
    answered_call,
    balance,
    charges_of,
    end_call,
    ledger_sum,
)
from calls import agents
from calls import services as calls
from calls.models import Call
from project.errors import BadRequest, Conflict, PaymentRequired
from project.testing import emitted
from workspaces import services as workspaces

RATE = Decimal("0.1000")  # the default per-minute rate (settings)


def minutes(seconds: int):
    return ANSWERED + timedelta(seconds=seconds)


@pytest.mark.django_db
def test_a_new_workspace_opens_its_account_with_the_opening_credit_as_a_ledger_entry():
    workspace = workspaces.workspace_create(name="Initech", opening_credit=Decimal("25.00"))

    account = CreditAccount.objects.get(workspace=workspace)
    [entry] = LedgerEntry.objects.filter(workspace=workspace)
    assert (account.balance, account.currency, account.rate_per_minute) == (Decimal("25"), "USD", RATE)
    assert (entry.kind, entry.reason, entry.amount, entry.balance_after) == (
        "top-up",
        "opening-credit",
        Decimal("25"),
        Decimal("25"),
    )
    assert emitted(workspace, "balance-updated") == [
        {
            "balance": "25.0000",
            "currency": "USD",
            "delta": "25.0000",
            "reason": "opening-credit",
            "call_id": None,
        }
    ]


@pytest.mark.django_db
def test_live_minutes_are_charged_once_each_and_the_end_settles_to_the_cost_exactly(workspace):
    call = answered_call(workspace)

    # when the beat runs at 2 min 5 s, twice (a task may run twice), then at 2 min 30 s
    first = services.charge_live_calls(now=minutes(125))
    again = services.charge_live_calls(now=minutes(125))
    later = services.charge_live_calls(now=minutes(150))
    ended = end_call(workspace, call, after_seconds=150.2)

    # then two minutes were charged, and the end charged the rest of 151 billable seconds
    assert (first, again, later) == (2, 0, 0)
    assert ended.cost == Decimal("0.2517")  # 0.10 * 151 / 60 = 0.251666... rounded half-up
    entries = list(LedgerEntry.objects.filter(call_id=str(call.pk)).order_by("id"))
    assert [(e.reason, e.amount) for e in entries] == [
        ("call-charge", Decimal("-0.1")),
        ("call-charge", Decimal("-0.1")),
        ("call-settlement", Decimal("-0.0517")),
    ]
    assert charges_of(call) == -ended.cost
    assert balance(workspace) == ledger_sum(workspace) == Decimal("100") - ended.cost
    updates = [data for data in emitted(workspace, "balance-updated") if data["call_id"] == str(call.pk)]
    assert [data["delta"] for data in updates] == ["-0.1000", "-0.1000", "-0.0517"]
    assert updates[-1]["balance"] == str(balance(workspace))
    # the call-ended event carries the cost
    [ending] = [data for data in emitted(workspace, "call-ended") if data["call_id"] == str(call.pk)]
    assert ending["cost"] == "0.2517"


@pytest.mark.django_db
def test_a_minute_charged_past_the_runtimes_end_time_is_given_back_by_the_settlement(workspace):
    call = answered_call(workspace)
    services.charge_live_calls(now=minutes(121))

    ended = end_call(workspace, call, after_seconds=119)  # the runtime says it ended before minute 2

    settlement = LedgerEntry.objects.get(call_id=str(call.pk), reason="call-settlement")
    assert ended.cost == Decimal("0.1983")  # 119 s
    assert settlement.amount == Decimal("0.0017")
    assert charges_of(call) == -ended.cost


@pytest.mark.django_db
def test_an_agent_with_its_own_rate_is_charged_at_it(workspace):
    agents.agent_create(workspace=workspace, name="premium")
    AgentRate.objects.create(workspace=workspace, agent_name="premium", rate_per_minute=Decimal("0.4500"))
    call = answered_call(workspace, agent="premium")

    services.charge_live_calls(now=minutes(61))
    ended = end_call(workspace, call, after_seconds=90)

    assert LedgerEntry.objects.filter(call_id=str(call.pk), reason="call-charge").get().amount == Decimal(
        "-0.45"
    )
    assert ended.cost == Decimal("0.6750")
    assert charges_of(call) == Decimal("-0.675")


@pytest.mark.django_db
def test_a_call_that_was_never_answered_costs_nothing_and_leaves_no_entry(workspace):
    call = calls.call_create(workspace=workspace, to_number="+14155550123", place=False)
    calls.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
    ended = calls.call_transition(workspace=workspace, call_id=call.pk, status="no-answer")

    assert ended.cost == Decimal("0")
    assert not LedgerEntry.objects.filter(call_id=str(call.pk)).exists()


@pytest.mark.django_db
def test_a_top_up_happens_once_per_key_and_a_reused_key_with_another_request_is_refused(workspace):
    first, replayed_first = services.top_up(
        workspace=workspace, amount=Decimal("10"), idempotency_key="k1", actor="user:1", digest="d1"
    )
    second, replayed_second = services.top_up(
        workspace=workspace, amount=Decimal("10"), idempotency_key="k1", actor="user:1", digest="d1"
    )
    with pytest.raises(Conflict) as refused:
        services.top_up(
            workspace=workspace, amount=Decimal("99"), idempotency_key="k1", actor="user:1", digest="d2"
        )

    assert (replayed_first, replayed_second) == (False, True)
    assert first.pk == second.pk
    assert refused.value.code == "idempotency_key_reused"
    assert balance(workspace) == ledger_sum(workspace) == Decimal("110")


@pytest.mark.django_db
def test_payment_required_is_raised_once_per_crossing_not_once_per_charge(workspace):
    services.adjust(
        workspace=workspace, amount=Decimal("-94.75"), reason="test: near the threshold", actor="staff:test"
    )  # 5.25 left; threshold 5.00
    for number in range(3):
        answered_call(workspace, at=ANSWERED + timedelta(seconds=number))

    # 0.30 a minute across three calls: into the low band at the first run, to zero later
    services.charge_live_calls(now=minutes(62))  # 4.95: low
    services.charge_live_calls(now=minutes(122))  # 4.65: still low, nothing new
    low = emitted(workspace, "payment-required")
    services.charge_live_calls(now=minutes(60 * 20 + 3))  # 20 minutes each, 6.00 in all: below zero

    assert low == [{"balance": "4.9500", "threshold": "5.0000", "reason": "low-balance", "blocked": False}]
    required = emitted(workspace, "payment-required")
    assert [data["reason"] for data in required] == ["low-balance", "insufficient-balance"]
    assert required[-1]["blocked"] is True and Decimal(required[-1]["balance"]) < 0
    assert balance(workspace) == ledger_sum(workspace)

    # a top-up lifts it; falling again raises it again
    services.top_up(workspace=workspace, amount=Decimal("1"), idempotency_key="lift", actor="user:1")
    services.adjust(workspace=workspace, amount=Decimal("-2"), reason="test: down again", actor="staff:test")
    assert [data["reason"] for data in emitted(workspace, "payment-required")][-1] == "insufficient-balance"
    assert len(emitted(workspace, "payment-required")) == 3


@pytest.mark.django_db
def test_a_workspace_at_zero_places_no_call_and_its_running_calls_end(workspace):
    running = answered_call(workspace, at=datetime.now(UTC) - timedelta(seconds=30))
    queued = calls.call_create(workspace=workspace, to_number="+14155550124", place=False)
    services.adjust(
        workspace=workspace, amount=-balance(workspace), reason="test: exhausted", actor="staff:test"
    )
    calls_before = Call.objects.count()

    with pytest.raises(PaymentRequired) as refused:
        calls.call_create(workspace=workspace, to_number="+14155550125", place=False)
    ended = services.end_calls_without_credit(workspace=workspace)

    assert refused.value.code == "insufficient_balance" and refused.value.status == 402
    assert Call.objects.count() == calls_before
    assert ended == 2
    running.refresh_from_db()
    queued.refresh_from_db()
    assert (running.status, running.end_reason) == ("completed", "insufficient-balance")
    assert (queued.status, queued.end_reason) == ("canceled", "insufficient-balance")
    assert charges_of(running) == -running.cost < 0  # the talk until then is still paid
    assert balance(workspace) == ledger_sum(workspace)


@pytest.mark.django_db
def test_another_workspaces_credit_is_untouched(workspace, other_workspace):
    call = answered_call(workspace)
    services.charge_live_calls(now=minutes(61))
    end_call(workspace, call, after_seconds=70)

    assert balance(other_workspace) == Decimal("100")
    assert not LedgerEntry.objects.filter(workspace=other_workspace).exclude(reason="opening-credit").exists()
    assert emitted(other_workspace, "balance-updated") == [
        {
            "balance": "100.0000",
            "currency": "USD",
            "delta": "100.0000",
            "reason": "opening-credit",
            "call_id": None,
        }
    ]


@pytest.mark.django_db
def test_adjustments_need_a_reason_and_a_refund_must_add_credit(workspace):
    with pytest.raises(BadRequest) as no_reason:
        services.adjust(workspace=workspace, amount=Decimal("1"), reason="  ", actor="staff:test")
    with pytest.raises(BadRequest) as negative_refund:
        services.adjust(
            workspace=workspace,
            amount=Decimal("-1"),
            reason="oops",
            actor="staff:test",
            kind=EntryKind.REFUND,
        )
    refund = services.adjust(
        workspace=workspace,
        amount=Decimal("2.5"),
        reason="dropped call",
        actor="staff:test",
        kind=EntryKind.REFUND,
    )

    assert no_reason.value.code == "reason_required"
    assert negative_refund.value.code == "invalid_amount"
    assert (refund.kind, refund.note, refund.actor) == ("refund", "dropped call", "staff:test")
    assert balance(workspace) == Decimal("102.5")


@pytest.mark.django_db
def test_the_check_command_finds_a_balance_that_disagrees_with_its_ledger(workspace, capsys):
    call_command("check_ledger")
    assert "Every balance equals" in capsys.readouterr().out

    CreditAccount.objects.filter(workspace=workspace).update(
        balance=Decimal("1")
    )  # behind the services' back
    with pytest.raises(SystemExit) as failed:
        call_command("check_ledger")

    assert failed.value.code == 1
    assert str(workspace.pk) in capsys.readouterr().err


@pytest.mark.parametrize("value", ["1e1000000", "-1e1000000", Decimal("1E+28"), 1e308, "NaN", "-Infinity"])
def test_an_amount_beyond_the_decimal_contexts_precision_is_invalid_not_a_crash(value):
    # quantize() past 28 digits raised InvalidOperation, a 500 from the top-up endpoint
    with pytest.raises(BadRequest) as refused:
        services.parse_amount(value, allow_negative=True)

    assert refused.value.code == "invalid_amount"
