"""Prepaid credit: one account per workspace and the append-only ledger that
explains every change of its balance (docs/reference/domain.md#billing)."""

from decimal import Decimal

from django.db import models

from workspaces.models import TenantModel, Workspace

MONEY = {"max_digits": 14, "decimal_places": 4}


class CreditAccount(TenantModel):
    """A workspace's balance. Changed only by `billing.services` under
    `select_for_update`, and only together with a `LedgerEntry`, so the balance is
    always the sum of the ledger (`manage.py check_ledger` proves it)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, primary_key=True, related_name="+")
    balance = models.DecimalField(**MONEY, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    rate_per_minute = models.DecimalField(
        **MONEY, help_text="What a minute of talk costs, unless the agent has its own rate."
    )
    low_balance_threshold = models.DecimalField(
        **MONEY, help_text="At or below this, `payment-required` (low-balance) is raised once."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def blocked(self) -> bool:
        """New calls are refused and running ones end while the balance is at or below zero."""
        return self.balance <= 0

    def __str__(self) -> str:
        return f"{self.balance} {self.currency} for {self.workspace_id}"


class AgentRate(TenantModel):
    """A per-minute rate for the calls of one agent (by name, as calls keep it),
    over the account's. Set by staff in the admin."""

    agent_name = models.CharField(max_length=100)
    rate_per_minute = models.DecimalField(**MONEY)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "agent_name"], name="one_rate_per_agent")]

    def __str__(self) -> str:
        return f"{self.agent_name}: {self.rate_per_minute}/min"


class EntryKind(models.TextChoices):
    TOP_UP = "top-up"
    CALL_CHARGE = "call-charge"
    ADJUSTMENT = "adjustment"
    REFUND = "refund"


class LedgerEntry(TenantModel):
    """One change of the balance, never updated or deleted. `amount` is signed (a
    charge is negative); `balance_after` is the balance it left. The unique
    `idempotency_key` makes every effect happen once however often its task or
    request runs (`call:<id>:minute:<n>`, `call:<id>:settle`, `top-up:<key>`)."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    # Why, in the words of `balance-updated`'s `reason` (a charge's minute or its settlement).
    reason = models.CharField(max_length=32)
    amount = models.DecimalField(**MONEY)
    balance_after = models.DecimalField(**MONEY)
    # The call's id as text, not a foreign key: the ledger outlives anything it mentions.
    call_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    actor = models.CharField(
        max_length=200, blank=True, default="", help_text="Who made it: a user, an API key, or the system."
    )
    note = models.CharField(max_length=500, blank=True, default="")
    idempotency_key = models.CharField(max_length=200)
    # A digest of the request that made a top-up, to tell a replay from a reused key.
    request_digest = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "idempotency_key"], name="ledger_effect_once"),
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="ledger_newest"),
            models.Index(fields=["workspace", "call_id"], name="ledger_by_call"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.idempotency_key})"
