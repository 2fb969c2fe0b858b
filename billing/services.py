"""Every change of a workspace's credit (docs/reference/domain.md#billing).

One rule holds it together: the balance changes only in `_post`, which runs
under the account's row lock, writes one `LedgerEntry` per change with a unique
idempotency key (an entry whose key exists is skipped: a task that runs twice
charges once), sets the balance to the last entry's `balance_after` and emits
`balance-updated` for each, plus `payment-required` when the balance crosses
the low-balance threshold or zero. Lock order, everywhere: the workspace's
event cursor (`hold_cursor`), then the account, so a call's ending (which
emits first, then settles) and a charge (which locks first, then emits) cannot
deadlock.

A loop over many calls or workspaces (the charge run, ending the calls of an
account out of credit) handles each in its own savepoint: a call it cannot
handle is logged with its id, counted (`callboard_background_failures_total`)
and skipped, and the loop goes on.
"""

import hashlib
import json
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum

from billing.models import AgentRate, CreditAccount, EntryKind, LedgerEntry
from calls.models import Call, CallStatus
from project.errors import BadRequest, Conflict, PaymentRequired
from project.metrics import background_failures
from realtime.emit import Emission, emit_many, hold_cursor
from workspaces.models import Workspace
from workspaces.scoping import scoped

logger = logging.getLogger(__name__)
FOUR_PLACES = Decimal("0.0001")
SYSTEM = "system"


def money(value) -> Decimal:
    """An amount of USD at the ledger's precision, rounded half-up."""
    return Decimal(value).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


# --- the account --------------------------------------------------------------------------


def _open(workspace: Workspace) -> CreditAccount:
    """The account, opened on first use with the workspace's opening credit (a
    workspace made before billing existed, or without its service, gets one too)."""
    account, created = scoped(CreditAccount, workspace).get_or_create(
        workspace=workspace,
        defaults={
            "rate_per_minute": money(settings.BILLING_DEFAULT_RATE_PER_MINUTE),
            "low_balance_threshold": money(settings.BILLING_LOW_BALANCE_THRESHOLD),
        },
    )
    if created and workspace.opening_credit > 0:
        _post(
            account,
            [
                Entry(
                    kind=EntryKind.TOP_UP,
                    reason="opening-credit",
                    amount=money(workspace.opening_credit),
                    key=f"workspace:{workspace.pk}:opening",
                    note="Opening credit",
                )
            ],
        )
    return account


def account_of(workspace: Workspace) -> CreditAccount:
    """The account as it is now (opened if need be); not locked."""
    try:
        account = scoped(CreditAccount, workspace).get()
        account.workspace = workspace
        return account
    except CreditAccount.DoesNotExist:
        with transaction.atomic():
            hold_cursor(workspace)
            return _locked(workspace)


def _locked(workspace: Workspace) -> CreditAccount:
    """The account, locked until the caller's transaction ends. Take the cursor
    first (`hold_cursor`)."""
    account = scoped(CreditAccount, workspace).select_for_update().first()
    if account is None:
        _open(workspace)
        account = scoped(CreditAccount, workspace).select_for_update().get()
    account.workspace = workspace
    return account


def open_account(sender, workspace: Workspace, **kwargs) -> None:
    """On `workspace_created`: the account and its opening credit, in the same transaction."""
    hold_cursor(workspace)
    _open(workspace)


# --- posting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    kind: str
    reason: str
    amount: Decimal
    key: str
    call_id: str | None = None
    actor: str = SYSTEM
    note: str = ""
    request_digest: str = ""


def _post(account: CreditAccount, entries: list[Entry]) -> list[LedgerEntry]:
    """Writes the entries whose keys are new, in order, on a locked account; the
    written ones. The only code that changes a balance."""
    keys = [entry.key for entry in entries]
    taken = set(
        scoped(LedgerEntry, account.workspace)
        .filter(idempotency_key__in=keys)
        .values_list("idempotency_key", flat=True)
    )
    before = balance = account.balance
    rows = []
    for entry in entries:
        if entry.key in taken:
            continue
        taken.add(entry.key)
        # Quantized here, whatever the caller computed with (SQLite sums decimals as floats).
        amount = money(entry.amount)
        balance = money(balance + amount)
        rows.append(
            LedgerEntry(
                workspace_id=account.workspace_id,
                kind=entry.kind,
                reason=entry.reason,
                amount=amount,
                balance_after=balance,
                call_id=entry.call_id,
                actor=entry.actor[:200],
                note=entry.note[:500],
                idempotency_key=entry.key,
                request_digest=entry.request_digest,
            )
        )
    if not rows:
        return []
    LedgerEntry.objects.bulk_create(rows)
    account.balance = balance
    account.save(update_fields=["balance", "updated_at"])
    emissions = [
        Emission(
            "balance-updated",
            {
                "balance": str(row.balance_after),
                "currency": account.currency,
                "delta": str(row.amount),
                "reason": row.reason,
                "call_id": row.call_id,
            },
        )
        for row in rows
    ]
    emissions += _crossings(account, before, balance)
    emit_many(account.workspace, emissions)
    if before > 0 >= balance:
        transaction.on_commit(lambda: _end_calls_later(account.workspace_id), robust=True)
    return rows


def _crossings(account: CreditAccount, before: Decimal, after: Decimal) -> list[Emission]:
    """`payment-required` once per crossing: into the low band, or down to zero."""
    threshold = account.low_balance_threshold
    if before > 0 >= after:
        reason, blocked = "insufficient-balance", True
    elif before > threshold >= after:
        reason, blocked = "low-balance", False
    else:
        return []
    return [
        Emission(
            "payment-required",
            {
                "balance": str(after),
                "threshold": str(threshold),
                "reason": reason,
                "blocked": blocked,
            },
        )
    ]


def _end_calls_later(workspace_id) -> None:
    from billing.tasks import end_calls_without_credit

    end_calls_without_credit.delay(str(workspace_id))


# --- top-ups and adjustments ------------------------------------------------------------------


def parse_amount(value, *, field: str = "amount", allow_negative: bool = False) -> Decimal:
    """A money amount from a request: a decimal string or number, at most 4 places,
    not zero, within the top-up limit."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise BadRequest(f"{field}: {value!r} is not an amount of money.", code="invalid_amount") from None
    limit = Decimal(settings.BILLING_MAX_TOP_UP)
    if not amount.is_finite() or amount == 0 or (amount < 0 and not allow_negative):
        sign = "not zero" if allow_negative else "above zero"
        raise BadRequest(f"{field}: must be {sign}.", code="invalid_amount")
    # The limit first: quantize() of an amount past the context's 28 digits
    # (1e1000000) raises InvalidOperation, and abs() past its exponent Overflow.
    if amount.copy_abs() > limit:
        raise BadRequest(
            f"{field}: at most {limit} at once.", code="invalid_amount", details={"max": str(limit)}
        )
    if amount != amount.quantize(FOUR_PLACES):
        raise BadRequest(f"{field}: at most 4 decimal places.", code="invalid_amount")
    return money(amount)


def request_digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def top_up(
    *,
    workspace: Workspace,
    amount: Decimal,
    idempotency_key: str,
    actor: str,
    note: str = "",
    digest: str = "",
) -> tuple[LedgerEntry, bool]:
    """Adds credit once per idempotency key; (the entry, whether it was a replay).
    The same key with another request (`digest`) is 409 `idempotency_key_reused`."""
    key = f"top-up:{idempotency_key}"
    with transaction.atomic():
        hold_cursor(workspace)
        account = _locked(workspace)
        stored = scoped(LedgerEntry, workspace).filter(idempotency_key=key).first()
        if stored is not None:
            if stored.request_digest != digest:
                raise Conflict(
                    "This Idempotency-Key was used for a different top-up.", code="idempotency_key_reused"
                )
            return stored, True
        [entry] = _post(
            account,
            [
                Entry(
                    kind=EntryKind.TOP_UP,
                    reason="top-up",
                    amount=amount,
                    key=key,
                    actor=actor,
                    note=note,
                    request_digest=digest,
                )
            ],
        )
    return entry, False


def adjust(
    *, workspace: Workspace, amount: Decimal, reason: str, actor: str, kind: str = EntryKind.ADJUSTMENT
) -> LedgerEntry:
    """A staff correction (signed) or a refund (positive), with the reason required."""
    if kind not in (EntryKind.ADJUSTMENT, EntryKind.REFUND):
        raise BadRequest(f"{kind!r} is not an adjustment kind.", code="invalid_kind")
    if not reason.strip():
        raise BadRequest("An adjustment needs a reason.", code="reason_required")
    if amount == 0:
        raise BadRequest("An adjustment of zero changes nothing.", code="invalid_amount")
    if kind == EntryKind.REFUND and amount <= 0:
        raise BadRequest("A refund adds credit: the amount must be above zero.", code="invalid_amount")
    with transaction.atomic():
        hold_cursor(workspace)
        account = _locked(workspace)
        # Each adjustment is its own act (a staff member submits the form once): a fresh key.
        [entry] = _post(
            account,
            [
                Entry(
                    kind=kind,
                    reason=str(kind),
                    amount=money(amount),
                    key=f"{kind}:{uuid.uuid4()}",
                    actor=actor,
                    note=reason.strip(),
                )
            ],
        )
    return entry


# --- calls ----------------------------------------------------------------------------------


def refuse_without_credit(sender, workspace: Workspace, **kwargs) -> None:
    """On `call_admission`: a workspace at or below zero starts no call (402)."""
    account = account_of(workspace)
    if account.blocked:
        raise PaymentRequired(
            "The credit balance is exhausted; top up to place calls.",
            code="insufficient_balance",
            details={"balance": str(account.balance), "currency": account.currency},
        )


def agent_rates(account: CreditAccount) -> dict[str, Decimal]:
    """The workspace's per-agent rates, by agent name."""
    return dict(scoped(AgentRate, account.workspace).values_list("agent_name", "rate_per_minute"))


def rate_for(account: CreditAccount, agent_name: str | None, overrides: dict | None = None) -> Decimal:
    """The agent's own per-minute rate, else the account's. `overrides`: `agent_rates`,
    when the caller prices many calls at once."""
    if overrides is None:
        overrides = agent_rates(account) if agent_name else {}
    return overrides.get(agent_name, account.rate_per_minute)


def billable_seconds(call: Call) -> int:
    """Per-second billing: the talk time (answer to end) in whole seconds, rounded up."""
    if call.answered_at is None or call.duration is None:
        return 0
    return math.ceil(Decimal(str(call.duration)))


def call_cost(call: Call) -> Decimal:
    """The price of an ended call (calls.pricing): billable seconds at the per-minute rate."""
    seconds = billable_seconds(call)
    if seconds == 0:
        return money(0)
    return money(rate_for(account_of(call.workspace), call.agent_name) * seconds / 60)


def settle_ended_calls(sender, workspace: Workspace, calls: list[Call], **kwargs) -> None:
    """On `calls_ended` (in the ending transaction, after its events): one entry per
    call that makes its charges add up to its `cost` exactly."""
    due = [call for call in calls if call.cost is not None]
    if not due:
        return
    hold_cursor(workspace)
    account = _locked(workspace)
    charges = (
        scoped(LedgerEntry, workspace)
        .filter(call_id__in=[str(call.pk) for call in due], kind=EntryKind.CALL_CHARGE)
        .values("call_id")
        .annotate(total=Sum("amount"))
    )
    charged = {row["call_id"]: money(row["total"]) for row in charges}  # SQLite sums as floats
    entries = []
    for call in due:
        remainder = -call.cost - charged.get(str(call.pk), Decimal(0))
        if remainder:
            entries.append(
                Entry(
                    kind=EntryKind.CALL_CHARGE,
                    reason="call-settlement",
                    amount=remainder,
                    key=f"call:{call.pk}:settle",
                    call_id=str(call.pk),
                )
            )
    _post(account, entries)


def charge_live_calls(*, now: datetime | None = None) -> int:
    """Charges every whole minute of talk that calls in progress have had and not
    yet paid, in every workspace; the number of minutes charged. The beat runs it
    every BILLING_CHARGE_INTERVAL_SECONDS, so a balance moves about once a minute
    per call; a minute's key makes a repeated run charge nothing."""
    now = now or datetime.now(UTC)
    # System-wide by design (a sweep acts for no workspace); each workspace's
    # charges then go through its own scoped, locked path.
    workspace_ids = (
        Call.objects.filter(status=CallStatus.IN_PROGRESS, answered_at__isnull=False)
        .values_list("workspace_id", flat=True)
        .distinct()
    )
    charged = 0
    for workspace in Workspace.objects.filter(pk__in=list(workspace_ids)):
        try:
            charged += charge_workspace_calls(workspace=workspace, now=now)
        except Exception:  # one workspace's failure must not stop everyone's billing
            logger.exception("charge run: workspace %s skipped", workspace.pk)
            background_failures.labels("charge").inc()
    return charged


def charge_workspace_calls(*, workspace: Workspace, now: datetime) -> int:
    """`charge_live_calls` for one workspace, in one transaction. A minute is
    BILLING_CHARGE_PERIOD_SECONDS of talk (60) and costs that share of the rate;
    one run charges a call at most BILLING_MAX_MINUTES_PER_RUN of them (the next
    runs charge the rest)."""
    with transaction.atomic():
        hold_cursor(workspace)
        account = _locked(workspace)
        # Read under the lock: a call settled meanwhile is no longer in progress.
        calls = list(scoped(Call, workspace).filter(status=CallStatus.IN_PROGRESS, answered_at__isnull=False))
        if account.blocked and calls:
            # The hang-ups of the crossing may have been lost (a worker died): ask again.
            transaction.on_commit(lambda: _end_calls_later(workspace.pk), robust=True)
        if not calls:
            return 0
        pricing = _Pricing(account, agent_rates(account), _minutes_paid(workspace, calls), now)
        try:
            # The usual case, in one go: one ledger insert and one emit for the workspace.
            with transaction.atomic():
                return len(_post(account, [entry for call in calls for entry in pricing.entries(call)]))
        except Exception:  # some call cannot be charged: find it below, one by one
            account.refresh_from_db(fields=["balance"])
        return sum(_charge_one(account, pricing, call) for call in calls)


@dataclass(frozen=True)
class _Pricing:
    """What a charge run needs to price one call's minutes."""

    account: CreditAccount
    overrides: dict
    paid: dict  # call id -> minutes charged so far
    now: datetime

    def entries(self, call: Call) -> list[Entry]:
        """The call's minutes that are due and unpaid, at most BILLING_MAX_MINUTES_PER_RUN."""
        period = settings.BILLING_CHARGE_PERIOD_SECONDS
        minutes = int((self.now - call.answered_at).total_seconds() // period)
        first = self.paid.get(str(call.pk), 0) + 1
        last = min(minutes, first - 1 + settings.BILLING_MAX_MINUTES_PER_RUN)
        if last < first:
            return []
        price = money(rate_for(self.account, call.agent_name, self.overrides) * period / 60)
        return [
            Entry(
                kind=EntryKind.CALL_CHARGE,
                reason="call-charge",
                amount=-price,
                key=f"call:{call.pk}:minute:{minute}",
                call_id=str(call.pk),
            )
            for minute in range(first, last + 1)
        ]


def _minutes_paid(workspace: Workspace, calls: list[Call]) -> dict[str, int]:
    """Minutes charged so far, by call id: minutes are charged in order from 1, so
    their number is the last one paid."""
    ids = [str(call.pk) for call in calls]
    rows = (
        scoped(LedgerEntry, workspace)
        .filter(call_id__in=ids, kind=EntryKind.CALL_CHARGE, reason="call-charge")
        .values("call_id")
        .annotate(minutes=Count("id"))
    )
    return {row["call_id"]: row["minutes"] for row in rows}


def _charge_one(account: CreditAccount, pricing: _Pricing, call: Call) -> int:
    """One call's charges in a savepoint: a call that cannot be charged (its data
    overflows the ledger, say) is logged and skipped; the others are charged."""
    try:
        with transaction.atomic():
            return len(_post(account, pricing.entries(call)))
    except Exception:
        account.refresh_from_db(fields=["balance"])
        logger.exception("charge run: call %s skipped", call.pk)
        background_failures.labels("charge").inc()
        return 0


def end_calls_without_credit(*, workspace: Workspace) -> int:
    """Ends the workspace's active calls while its balance is at or below zero
    (`insufficient-balance`); the number ended."""
    from calls import services as calls

    if not account_of(workspace).blocked:
        return 0
    ended = 0
    for call_id in (
        scoped(Call, workspace)
        .filter(
            status__in=[
                CallStatus.QUEUED,
                CallStatus.RINGING,
                CallStatus.IN_PROGRESS,
            ]
        )
        .values_list("pk", flat=True)
    ):
        try:
            calls.call_hangup(workspace=workspace, call_id=call_id, end_reason="insufficient-balance")
        except Conflict:  # it ended meanwhile
            continue
        except Exception:  # this call's ending failed: end the others anyway
            logger.exception("out of credit: call %s not ended", call_id)
            background_failures.labels("end-without-credit").inc()
            continue
        ended += 1
    return ended


# --- reading ----------------------------------------------------------------------------


def balance_view(workspace: Workspace) -> dict:
    account = account_of(workspace)
    return {
        "balance": account.balance,
        "currency": account.currency,
        "rate_per_minute": account.rate_per_minute,
        "low_balance_threshold": account.low_balance_threshold,
        "blocked": account.blocked,
    }


def ledger(workspace: Workspace, *, kind: str | None = None, call_id: str | None = None):
    entries = scoped(LedgerEntry, workspace)
    if kind:
        if kind not in EntryKind.values:
            raise BadRequest(
                f"{kind!r} is not a ledger entry kind.",
                code="invalid_kind",
                details={"valid": EntryKind.values},
            )
        entries = entries.filter(kind=kind)
    if call_id:
        entries = entries.filter(call_id=call_id)
    return entries


def ledger_discrepancies() -> list[dict]:
    """Accounts whose balance is not the sum of their ledger (there should be none)."""
    sums = {
        row["workspace_id"]: row["total"]
        for row in LedgerEntry.objects.values("workspace_id").annotate(total=Sum("amount"))
    }
    problems = []
    for account in CreditAccount.objects.all():
        total = money(sums.get(account.workspace_id) or 0)  # SQLite sums decimals as floats
        if total != account.balance:
            problems.append(
                {
                    "workspace_id": str(account.workspace_id),
                    "balance": str(account.balance),
                    "ledger_sum": str(total),
                }
            )
    return problems
