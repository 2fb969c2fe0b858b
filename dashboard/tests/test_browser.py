"""The dashboard in a real browser: headless Chromium against a real server and
Celery worker on this test run's database and Redis. It signs in, watches a call
placed over the API appear within 2 s and reach its end, and the balance move."""

import os
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from dashboard.tests.browser import (
    ENDED,
    SIMULATED_ENV,
    WAIT_MS,
    in_browser,
    money,
    needs_chromium,
    place_call,
    sign_in,
    wait_until,
)
from project.testing import running_server, running_worker

SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "dashboard.png"

pytestmark = [pytest.mark.e2e, needs_chromium]


def watch_a_call(page, base_url: str, username: str, write_key: str, admin_key: str) -> dict:
    sign_in(page, base_url, username)
    seen = {
        "before": money(page.inner_text("#balance")),
        "empty": page.locator("#calls tr.empty-row").count(),
    }
    call = place_call(base_url, write_key)
    row = page.locator(f"#call-{call['id']}")
    row.wait_for(timeout=WAIT_MS)
    wait_until(page,
        # ended (call-status) and priced (call-ended, right after it)
        f"id => {{ const row = document.getElementById(`call-${{id}}`);"
        f" return {ENDED}.includes(row.dataset.status)"
        " && row.querySelector('[data-field=cost]').textContent.startsWith('$'); }",
        arg=call["id"],
        timeout=60_000,
    )
    cost = money(row.locator("[data-field=cost]").inner_text())
    httpx.post(
        f"{base_url}/api/v1/billing/top-ups",
        json={"amount": "12.50"},
        timeout=10,
        headers={"Authorization": f"Bearer {admin_key}", "Idempotency-Key": "browser-1"},
    )
    # the call's cost and the top-up, each shown as its balance-updated arrives
    expected = f"${seen['before'] - cost + Decimal('12.50'):.4f}"
    wait_until(page,
        "text => document.getElementById('balance').textContent === text", arg=expected, timeout=WAIT_MS
    )
    if os.environ.get("CI") or not SCREENSHOT.exists():
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    return {
        **seen,
        "after": money(page.inner_text("#balance")),
        "rows": page.locator("#calls tr").count(),
        "ending": row.locator("[data-field=ending]").inner_text(),
        "cost": row.locator("[data-field=cost]").inner_text(),
    }


@pytest.mark.django_db(transaction=True)
def test_a_call_placed_over_the_api_appears_live_ends_and_the_balance_moves(
    tmp_path, owner, workspace, write_key, admin_key
):
    with running_server(tmp_path, env=SIMULATED_ENV) as server, running_worker(tmp_path, env=SIMULATED_ENV):
        seen = in_browser(watch_a_call, server.url, owner.username, write_key.key, admin_key.key)

    assert seen["empty"] == 1 and seen["rows"] == 1
    assert seen["ending"] and money(seen["cost"]) >= 0
    assert seen["after"] - seen["before"] == Decimal("12.50") - money(seen["cost"])
