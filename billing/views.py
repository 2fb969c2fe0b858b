"""REST endpoints of billing (docs/reference/rest.md#billing). Thin: the rules are in billing.services."""

from django.http import HttpRequest, HttpResponse
from ninja import Header, Query, Router
from ninja.responses import Status

from billing import services
from billing.models import LedgerEntry
from billing.schemas import BalanceOut, LedgerEntryOut, LedgerPage, LedgerParams, TopUpIn
from project.errors import BadRequest, documented_errors
from project.pagination import PageParams, paginated
from workspaces.auth import ADMIN, READ, WorkspaceAuth
from workspaces.tallies import tallied_count

router = Router(tags=["billing"])
AUTH_ERRORS = documented_errors(400, 401, 403, 429)  # 429: rate limits (docs/operations.md)
MAX_IDEMPOTENCY_KEY = 150


def entry_out(entry: LedgerEntry) -> dict:
    return {
        "id": entry.pk,
        "kind": entry.kind,
        "reason": entry.reason,
        "amount": str(entry.amount),
        "balance_after": str(entry.balance_after),
        "call_id": entry.call_id,
        "note": entry.note,
        "created_at": entry.created_at,
    }


@router.get("/billing/balance", response={200: BalanceOut, **AUTH_ERRORS}, auth=WorkspaceAuth(READ))
def balance(request: HttpRequest):
    view = services.balance_view(request.auth.workspace)
    return {key: str(value) if not isinstance(value, bool | str) else value for key, value in view.items()}


@router.get("/billing/ledger", response={200: LedgerPage, **AUTH_ERRORS}, auth=WorkspaceAuth(READ))
def ledger(request: HttpRequest, filters: Query[LedgerParams], params: Query[PageParams]):
    """The ledger, newest first: every change of the balance with the balance it left."""
    entries = services.ledger(request.auth.workspace, kind=filters.kind, call_id=filters.call_id)
    total = tallied_count(LedgerEntry, request.auth.workspace, filters=filters)
    return paginated(entries, params, entry_out, total_count=total)


@router.post(
    "/billing/top-ups",
    response={201: LedgerEntryOut, **AUTH_ERRORS, **documented_errors(409)},
    auth=WorkspaceAuth(ADMIN),
)
def top_up(
    request: HttpRequest,
    response: HttpResponse,
    payload: TopUpIn,
    idempotency_key: str = Header("", alias="Idempotency-Key"),
):
    """Adds credit. `Idempotency-Key` is required: sending the same key and body again
    returns the stored entry (with `Idempotent-Replayed: true`) and adds nothing;
    the same key with another body is 409 `idempotency_key_reused`."""
    key = idempotency_key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise BadRequest(
            f"The Idempotency-Key header is required (1 to {MAX_IDEMPOTENCY_KEY} characters).",
            code="idempotency_key_required",
        )
    amount = services.parse_amount(payload.amount)
    entry, replayed = services.top_up(
        workspace=request.auth.workspace,
        amount=amount,
        idempotency_key=key,
        actor=request.auth.subject_id,
        note=payload.note,
        digest=services.request_digest({"amount": str(amount), "note": payload.note}),
    )
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(201, entry_out(entry))
