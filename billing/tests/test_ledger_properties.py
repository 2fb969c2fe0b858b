"""Property: whatever mix of top-ups, live charges, call endings, adjustments and
replays reaches an account, its balance is the sum of its ledger, every call's
charges equal its cost, and a replay changes nothing."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import services
from billing.models import LedgerEntry
from billing.tests.helpers import ANSWERED, answered_call, balance, charges_of, end_call, ledger_sum
from project.errors import Conflict
from workspaces import services as workspaces

amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=4)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("top-up"), amounts, st.integers(0, 4)),  # a key among five: repeats are replays
        st.tuples(st.just("charge"), st.integers(0, 1), st.integers(0, 600)),  # a call, seconds in
        st.tuples(st.just("end"), st.integers(0, 1), st.integers(0, 900)),
        st.tuples(
            st.just("adjust"),
            st.decimals(min_value=Decimal("-50"), max_value=Decimal("50"), places=4),
            st.just(0),
        ),
    ),
    max_size=25,
)
slugs = itertools.count()


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=operations, opening=st.decimals(min_value=Decimal("1"), max_value=Decimal("50"), places=2))
def test_the_balance_is_always_the_sum_of_the_ledger(operations, opening):
    workspace = workspaces.workspace_create(name="Prop", slug=f"prop-{next(slugs)}", opening_credit=opening)
    calls = [answered_call(workspace) for _ in range(2)]
    for operation, first, second in operations:
        entries_before = LedgerEntry.objects.filter(workspace=workspace).count()
        if operation == "top-up":
            digest = services.request_digest({"amount": str(first)})
            try:
                _, replayed = services.top_up(
                    workspace=workspace,
                    amount=first,
                    idempotency_key=f"key-{second}",
                    actor="prop",
                    digest=digest,
                )
            except Conflict:
                replayed = True  # the key was used with another amount: refused, nothing written
            if replayed:
                assert LedgerEntry.objects.filter(workspace=workspace).count() == entries_before
        elif operation == "charge":
            services.charge_workspace_calls(workspace=workspace, now=ANSWERED + timedelta(seconds=second))
        elif operation == "end":
            calls[first].refresh_from_db()
            if calls[first].is_active:
                end_call(workspace, calls[first], after_seconds=second)
        elif first != 0:
            services.adjust(workspace=workspace, amount=first, reason="property", actor="prop")
        assert balance(workspace) == ledger_sum(workspace)

    for call in calls:
        call.refresh_from_db()
        if not call.is_active:
            assert charges_of(call) == -call.cost
