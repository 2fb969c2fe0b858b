"""Shared by the billing tests: calls at a known moment, and what the ledger says."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Sum

from billing.models import CreditAccount, LedgerEntry
from billing.services import money
from calls import services as calls
from calls.models import Call

ANSWERED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def answered_call(workspace, *, at: datetime = ANSWERED, agent: str | None = None) -> Call:
    """A call in progress since `at`, through the call services (as a runtime reports it)."""
    call = calls.call_create(workspace=workspace, to_number="+14155550123", agent=agent, place=False)
    # Created then, too: a call's times never run before its creation.
    Call.objects.filter(pk=call.pk).update(created_at=at)
    calls.call_transition(workspace=workspace, call_id=call.pk, status="ringing", occurred_at=at)
    return calls.call_transition(workspace=workspace, call_id=call.pk, status="in-progress", occurred_at=at)


def end_call(workspace, call: Call, *, after_seconds: float, status: str = "completed") -> Call:
    return calls.call_transition(
        workspace=workspace,
        call_id=call.pk,
        status=status,
        occurred_at=call.answered_at + timedelta(seconds=after_seconds),
    )


def balance(workspace) -> Decimal:
    return CreditAccount.objects.get(workspace=workspace).balance


def _summed(entries) -> Decimal:
    """Their amounts added up, at the ledger's precision (SQLite adds decimals as floats)."""
    return money(entries.aggregate(total=Sum("amount"))["total"] or 0)


def ledger_sum(workspace) -> Decimal:
    return _summed(LedgerEntry.objects.filter(workspace=workspace))


def charges_of(call: Call) -> Decimal:
    return _summed(LedgerEntry.objects.filter(call_id=str(call.pk)))
