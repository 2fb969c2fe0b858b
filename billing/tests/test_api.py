"""Billing over REST (docs/reference/rest.md#billing): the balance, the ledger with its filters and
pages, idempotent top-ups for admins, and the 402 wall in front of new calls."""

from decimal import Decimal

import pytest

from billing import services
from billing.models import LedgerEntry
from billing.tests.helpers import ANSWERED, answered_call, balance
from calls.models import Call
from project.testing import emitted

pytestmark = pytest.mark.django_db


def top_up(client, amount="25.00", key="top-up-1", note=""):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/v1/billing/top-ups", {"amount": amount, "note": note}, headers=headers)


def test_the_balance_is_shown_in_decimal_strings(read_key):
    response = read_key.get("/api/v1/billing/balance")

    assert response.status_code == 200
    assert response.json() == {
        "balance": "100.0000",
        "currency": "USD",
        "rate_per_minute": "0.1000",
        "low_balance_threshold": "5.0000",
        "blocked": False,
    }


def test_an_admin_tops_up_once_per_idempotency_key(admin_key, workspace):
    first = top_up(admin_key, note="invoice 42")
    replay = top_up(admin_key, note="invoice 42")

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    body = first.json()
    assert (body["kind"], body["amount"], body["balance_after"], body["note"]) == (
        "top-up",
        "25.0000",
        "125.0000",
        "invoice 42",
    )
    assert balance(workspace) == Decimal("125")
    assert [data["delta"] for data in emitted(workspace, "balance-updated")] == ["100.0000", "25.0000"]


def test_the_same_key_with_another_body_is_a_409_and_changes_nothing(admin_key, workspace):
    top_up(admin_key, amount="25.00")

    response = top_up(admin_key, amount="30.00")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert balance(workspace) == Decimal("125")


@pytest.mark.parametrize(
    ("amount", "key", "code"),
    [
        ("25.00", None, "idempotency_key_required"),
        ("25.00", "", "idempotency_key_required"),
        ("25.00", "k" * 151, "idempotency_key_required"),
        ("0", "k", "invalid_amount"),
        ("-5", "k", "invalid_amount"),
        ("1.23456", "k", "invalid_amount"),
        ("100000.0001", "k", "invalid_amount"),
        ("1e1000000", "k", "invalid_amount"),
        ("1E+30", "k", "invalid_amount"),
        (1e308, "k", "invalid_amount"),
        ("-0", "k", "invalid_amount"),
        ("0E-1000000", "k", "invalid_amount"),
        ("1e-1000000", "k", "invalid_amount"),
        ("25.000000000000000000000000000000000001", "k", "invalid_amount"),
        ("NaN", "k", "validation_error"),
        ("Infinity", "k", "validation_error"),
        ("-Infinity", "k", "validation_error"),
        ("lots", "k", "validation_error"),
    ],
)
def test_a_bad_top_up_is_a_400_and_changes_nothing(admin_key, workspace, amount, key, code):
    entries = LedgerEntry.objects.count()

    response = top_up(admin_key, amount=amount, key=key)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert LedgerEntry.objects.count() == entries and balance(workspace) == Decimal("100")


def test_only_admins_top_up(read_key, write_key, workspace):
    assert top_up(read_key).status_code == 403
    assert top_up(write_key).status_code == 403
    assert balance(workspace) == Decimal("100")


def test_the_ledger_pages_newest_first_and_filters_by_kind_and_call(read_key, workspace):
    call = answered_call(workspace)
    services.charge_live_calls(now=ANSWERED.replace(minute=3))
    services.top_up(workspace=workspace, amount=Decimal("5"), idempotency_key="x", actor="user:1")

    first = read_key.get("/api/v1/billing/ledger", {"page_size": 2}).json()
    second = read_key.get(
        "/api/v1/billing/ledger", {"page_size": 2, "page_token": first["next_page_token"]}
    ).json()
    charges = read_key.get("/api/v1/billing/ledger", {"kind": "call-charge", "call_id": str(call.pk)}).json()
    top_ups = read_key.get("/api/v1/billing/ledger", {"kind": "top-up"}).json()

    assert first["total_count"] == 5  # opening credit, three minutes, a top-up
    assert [entry["amount"] for entry in first["results"]] == ["5.0000", "-0.1000"]
    assert len(second["results"]) == 2
    assert {entry["id"] for entry in first["results"]}.isdisjoint(entry["id"] for entry in second["results"])
    assert charges["total_count"] == 3
    assert {(entry["kind"], entry["call_id"]) for entry in charges["results"]} == {
        ("call-charge", str(call.pk))
    }
    assert [entry["reason"] for entry in top_ups["results"]] == ["top-up", "opening-credit"]
    assert top_ups["results"][-1]["balance_after"] == "100.0000"


def test_an_unknown_kind_is_a_400_naming_the_valid_ones(read_key):
    response = read_key.get("/api/v1/billing/ledger", {"kind": "gift"})

    assert response.status_code == 400
    assert response.json()["error"]["details"]["valid"] == ["top-up", "call-charge", "adjustment", "refund"]


def test_another_workspaces_credit_and_ledger_stay_out_of_sight(outsider_key, admin_key, workspace):
    top_up(admin_key, amount="50")

    seen = outsider_key.get("/api/v1/billing/ledger").json()
    their_balance = outsider_key.get("/api/v1/billing/balance").json()
    filtered = outsider_key.get("/api/v1/billing/ledger", {"kind": "top-up"}).json()

    assert seen["total_count"] == 1 and seen["results"][0]["reason"] == "opening-credit"
    assert their_balance["balance"] == "100.0000"
    assert filtered["total_count"] == 1
    # the same idempotency key in another workspace is another top-up
    assert top_up(outsider_key, amount="50").json()["balance_after"] == "150.0000"


def test_anonymous_callers_see_nothing(client):
    assert client.get("/api/v1/billing/balance").status_code == 401
    assert client.get("/api/v1/billing/ledger").status_code == 401


def test_a_workspace_at_zero_gets_a_402_for_a_new_call_and_records_nothing(write_key, workspace, settings):
    settings.VOICE_RUNTIME = "ingest"
    services.adjust(workspace=workspace, amount=Decimal("-100"), reason="test: spent", actor="staff:test")

    response = write_key.post("/api/v1/calls", {"to_number": "+14155550123"})
    balance_view = write_key.get("/api/v1/billing/balance").json()

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_balance" and error["details"]["balance"] == "0.0000"
    assert Call.objects.count() == 0
    assert balance_view["blocked"] is True
