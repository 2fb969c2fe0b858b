"""Events about credit (docs/reference/events.md#workspace-events). Money travels as decimal strings."""

from decimal import Decimal
from typing import Literal

from pydantic import Field

from realtime.catalogue import Audience, EventData, register

BalanceReason = Literal["opening-credit", "top-up", "call-charge", "call-settlement", "adjustment", "refund"]


class BalanceUpdated(EventData):
    """The credit balance changed."""

    balance: Decimal
    currency: Literal["USD"]
    delta: Decimal = Field(description="Signed change; a charge is negative.")
    reason: BalanceReason
    call_id: str | None = None


class PaymentRequired(EventData):
    """The balance is below the threshold, or exhausted."""

    balance: Decimal
    threshold: Decimal
    reason: Literal["low-balance", "insufficient-balance"]
    blocked: bool = Field(description="New calls are refused while true.")


def register_events() -> None:
    register("balance-updated", BalanceUpdated, audience=Audience.WORKSPACE)
    register("payment-required", PaymentRequired, audience=Audience.WORKSPACE)
