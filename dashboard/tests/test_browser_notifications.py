"""The notifications' bell in a real browser, end to end: a real server and a real
Celery worker (which runs the reaction that raises notifications), on this test
run's PostgreSQL and Redis; the credit falls through billing's own service, as a
staff adjustment does.

A notification raised before the page opened is counted over REST; one raised while
it is open raises the count live, in two tabs of the same user; the panel shows
both; marking one read lowers the count, and the other tab follows (through a
BroadcastChannel); marking all read in the second tab brings both to zero."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections

from billing import services as billing
from dashboard.tests.browser import INGEST_ENV, in_browser, needs_chromium, sign_in, wait_until
from notifications.models import Notification
from project.testing import running_server, running_worker, wait_for

pytestmark = [pytest.mark.e2e, needs_chromium]

LIVE_MS = 15_000  # a commit, the worker's reaction, its notification on the stream
COUNT = ("document.getElementById('unread-count').hidden ? 0"
         " : Number(document.getElementById('unread-count').textContent)")
TITLES = ("[...document.querySelectorAll('#notifications li[data-notification-id]')]"
          ".map(li => [li.querySelector('strong').textContent, li.dataset.read])")


def off_the_browser_loop(work):
    """Playwright's sync API keeps an event loop on its thread, where Django refuses the
    ORM: the work runs on a thread of its own."""

    def run():
        try:
            return work()
        finally:
            connections.close_all()  # before the test database goes

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=30)


def credit_to(workspace, balance: str) -> None:
    """A staff adjustment that leaves `balance` of credit."""
    current = billing.account_of(workspace).balance
    billing.adjust(workspace=workspace, amount=Decimal(balance) - current, reason="test: spent",
                   actor="staff:test")


def count(page) -> int:
    return page.evaluate(COUNT)


def follow_the_bell(first_page, base_url: str, username: str, workspace) -> dict:
    seen = {}
    # given one notification already raised (credit low) when the page opens, in two
    # tabs of one browser profile (its cookies and its BroadcastChannel shared)
    profile = first_page.context.browser.new_context(viewport={"width": 1200, "height": 800})
    page, other = profile.new_page(), profile.new_page()
    for tab in (page, other):
        tab.set_default_timeout(10_000)
    sign_in(page, base_url, username)
    other.goto(f"{base_url}/dashboard/")
    other.wait_for_selector("#connection[data-state=live]")
    wait_until(other, "document.getElementById('balance').textContent.startsWith('$')")
    wait_until(page, f"({COUNT}) === 1")
    wait_until(other, f"({COUNT}) === 1")
    seen["on_load"] = [count(page), count(other)]

    # when the credit runs out while both are open
    off_the_browser_loop(lambda: credit_to(workspace, "0"))

    # then both bells count it live
    wait_until(page, f"({COUNT}) === 2", timeout=LIVE_MS)
    wait_until(other, f"({COUNT}) === 2", timeout=LIVE_MS)
    seen["live"] = [count(page), count(other)]

    # and the panel shows both, newest first
    page.click("#bell")
    seen["panel_open"] = page.is_visible("#notifications-panel")
    seen["expanded"] = page.get_attribute("#bell", "aria-expanded")
    seen["listed"] = page.evaluate(TITLES)

    # when one is marked read in the first tab, the count falls there and in the other
    page.click("#notifications li[data-kind='payment-required'] .mark-read")
    wait_until(page, f"({COUNT}) === 1")
    wait_until(other, f"({COUNT}) === 1")
    seen["after_one"] = [count(page), count(other), page.evaluate(TITLES)]

    # when all are marked read in the second tab, both reach zero
    other.click("#bell")
    other.click("#notifications-read-all")
    wait_until(other, f"({COUNT}) === 0")
    wait_until(page, f"({COUNT}) === 0")
    seen["after_all"] = [count(page), count(other), page.is_hidden("#unread-count"),
                         page.evaluate(TITLES)]

    # and a reload reads the same from the server
    page.reload()
    page.wait_for_selector("#connection[data-state=live]")
    wait_until(page, "document.querySelectorAll('#notifications li[data-notification-id]').length === 2")
    seen["reloaded"] = count(page)
    return seen


@pytest.mark.django_db(transaction=True)
def test_the_bell_counts_live_and_follows_marks_across_tabs(tmp_path, owner, workspace):
    with running_server(tmp_path, env=INGEST_ENV) as server, running_worker(tmp_path, env=INGEST_ENV):
        # a notification raised before the page opens, by the worker's reaction
        off_the_browser_loop(lambda: credit_to(workspace, "4"))
        raised = Notification.objects.filter(workspace=workspace)
        wait_for(lambda: off_the_browser_loop(raised.exists), timeout=LIVE_MS / 1000,
                 message="the low-balance notification was not raised")
        seen = in_browser(follow_the_bell, server.url, owner.username, workspace)

    assert seen["on_load"] == [1, 1]
    assert seen["live"] == [2, 2]
    assert seen["panel_open"] and seen["expanded"] == "true"
    assert seen["listed"] == [["Credit exhausted", "false"], ["Credit is low", "false"]]
    assert seen["after_one"] == [1, 1, [["Credit exhausted", "true"], ["Credit is low", "false"]]]
    assert seen["after_all"] == [0, 0, True, [["Credit exhausted", "true"], ["Credit is low", "true"]]]
    assert seen["reloaded"] == 0
