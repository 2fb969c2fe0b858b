"""What the dashboard's browser tests share: headless Chromium (Debian's) through
Playwright's sync API on a thread of its own, the server environments, signing
in, and reading the page.

Why not pytest-playwright's `page` fixture: its session-scoped Playwright keeps an
event loop running on the test thread from the first browser test to the end of
the run, and Django then refuses every later test's ORM call
(SynchronousOnlyOperation) unless its async-safety check is turned off for the
whole suite. A thread keeps that loop away from the tests.
"""

import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"]


WAIT_MS = 2_000  # a change made over the API shows on the page within this
ENDED = "['completed', 'failed', 'busy', 'no-answer', 'canceled']"
# The test plays the voice runtime itself (runtime_player.py), or the simulator does.
INGEST_ENV = {"SECURE_COOKIES": "false", "VOICE_RUNTIME": "ingest"}
SIMULATED_ENV = {"SECURE_COOKIES": "false", "VOICE_RUNTIME": "simulated", "SIMULATOR_SPEED": "20"}
# The drawer's transcript lines as [role, interim/final, text], and its activity lines.
TRANSCRIPT = (
    "[...document.querySelectorAll('#transcript li:not(.empty)')]"
    ".map(li => [li.dataset.role, li.className, li.lastChild.textContent])"
)
ACTIVITY = "[...document.querySelectorAll('#activity li:not(.empty)')].map(li => li.lastChild.textContent)"


def have_chromium() -> bool:
    return shutil.which(CHROMIUM) is not None


needs_chromium = pytest.mark.skipif(
    not have_chromium(), reason="needs Debian's chromium (.ci/run installs it)"
)


def in_browser(script, *args, timeout: float = 180):
    """Runs `script(page, *args)` in a fresh headless Chromium page; its result."""

    def run():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 800})
                page.set_default_timeout(10_000)
                return script(page, *args)
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=timeout)


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/dashboard/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard/$"))
    page.wait_for_selector("#connection[data-state=live]")
    wait_until(page, "document.getElementById('balance').textContent.startsWith('$')")  # state drawn


def wait_until(page, expression: str, arg=None, *, timeout: float = 10_000):
    """page.wait_for_function without its eval() in the page, which the pages'
    Content-Security-Policy refuses: the expression (or function of `arg`) is
    evaluated through DevTools, which the policy does not govern, until it holds
    or `timeout` ms have passed. Its value."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout} ms: {expression}")
        page.wait_for_timeout(50)


def money(text: str) -> Decimal:
    return Decimal(text.strip().lstrip("$"))


def place_call(base_url: str, key: str, to_number: str = "+14155550123") -> dict:
    response = httpx.post(
        f"{base_url}/api/v1/calls",
        json={"to_number": to_number},
        timeout=10,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.text
    return response.json()
