"""What an ended call cost: `Call.cost`, set when the call ends so that its
`call-ended` event carries it. Billing provides the price (it owns the rates);
without a provider a call has no cost (None)."""

from collections.abc import Callable
from decimal import Decimal

_price: Callable | None = None


def provide_pricing(price: Callable) -> None:
    """`price(call) -> Decimal`: the cost of a call that has just ended (its
    `answered_at`, `ended_at` and `duration` set). May read, must not write."""
    global _price
    _price = price


def cost_of(call) -> Decimal | None:
    return _price(call) if _price is not None else None
