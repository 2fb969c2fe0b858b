"""Request and response shapes of the billing endpoints. Money travels as
decimal strings, never as floats."""

from datetime import datetime
from decimal import Decimal

from ninja import Field, Schema

from billing.models import EntryKind

MONEY = {"pattern": r"^-?\d+(\.\d{1,4})?$", "examples": ["12.3400"]}


class BalanceOut(Schema):
    balance: str = Field(..., **MONEY)
    currency: str = Field(..., examples=["USD"])
    rate_per_minute: str = Field(..., **MONEY)
    low_balance_threshold: str = Field(..., **MONEY)
    blocked: bool = Field(..., description="True at or below zero: new calls are refused (402).")


class LedgerEntryOut(Schema):
    id: int
    kind: EntryKind
    reason: str = Field(..., description="As in `balance-updated`: call-charge, call-settlement, top-up, ...")
    amount: str = Field(..., description="Signed: a charge is negative.", **MONEY)
    balance_after: str = Field(..., **MONEY)
    call_id: str | None
    note: str
    created_at: datetime


class LedgerParams(Schema):
    kind: str | None = Field(None, description="top-up, call-charge, adjustment or refund.")
    call_id: str | None = None


class LedgerPage(Schema):
    results: list[LedgerEntryOut]
    next_page_token: str
    total_count: int


class TopUpIn(Schema):
    amount: Decimal = Field(..., description="USD above zero, at most 4 decimal places.", examples=["25.00"])
    note: str = Field("", max_length=500)
