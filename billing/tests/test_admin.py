"""Staff adjust a balance in the admin: a reason is required, the entry names
them, and the form never writes the balance it showed (it may be stale)."""

from decimal import Decimal

import pytest

from billing.models import CreditAccount, LedgerEntry
from billing.tests.helpers import balance, ledger_sum
from project.testing import emitted

pytestmark = pytest.mark.django_db


def change_url(workspace) -> str:
    return f"/admin/billing/creditaccount/{workspace.pk}/change/"


def form(**fields) -> dict:
    return {
        "rate_per_minute": "0.1000",
        "low_balance_threshold": "5.0000",
        "adjustment_kind": "adjustment",
        **fields,
    }


def test_an_adjustment_without_a_reason_is_refused_and_changes_nothing(admin_client, workspace):
    response = admin_client.post(change_url(workspace), form(adjustment="-10", adjustment_reason=" "))

    assert response.status_code == 200  # the form again, with its error
    assert "Every adjustment needs a reason." in response.content.decode()
    assert (
        balance(workspace) == Decimal("100") and LedgerEntry.objects.filter(workspace=workspace).count() == 1
    )


def test_an_adjustment_with_a_reason_posts_an_entry_by_the_staff_member(admin_client, workspace):
    response = admin_client.post(
        change_url(workspace),
        form(adjustment="-10.5", adjustment_reason="duplicate top-up, ticket 881", rate_per_minute="0.1500"),
    )

    assert response.status_code == 302
    entry = LedgerEntry.objects.filter(workspace=workspace).latest("id")
    assert (entry.kind, entry.amount, entry.note, entry.actor) == (
        "adjustment",
        Decimal("-10.5"),
        "duplicate top-up, ticket 881",
        "staff:admin",
    )
    account = CreditAccount.objects.get(workspace=workspace)
    assert account.rate_per_minute == Decimal("0.15")
    assert balance(workspace) == ledger_sum(workspace) == Decimal("89.5")
    assert emitted(workspace, "balance-updated")[-1]["reason"] == "adjustment"


def test_saving_the_rate_keeps_a_balance_that_moved_after_the_form_was_shown(admin_client, workspace):
    admin_client.get(change_url(workspace))
    CreditAccount.objects.filter(workspace=workspace).update(balance=Decimal("42"))  # a charge meanwhile

    admin_client.post(change_url(workspace), form(rate_per_minute="0.2000"))

    assert balance(workspace) == Decimal("42")
