"""Headless Chromium (Debian's) for the dashboard tests, through Playwright's sync
API on a thread of its own.

Why not pytest-playwright's `page` fixture: its session-scoped Playwright keeps an
event loop running on the test thread from the first browser test to the end of
the run, and Django then refuses every later test's ORM call
(SynchronousOnlyOperation) unless its async-safety check is turned off for the
whole suite. A thread keeps that loop away from the tests.
"""

import shutil
from concurrent.futures import ThreadPoolExecutor

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"]


def have_chromium() -> bool:
    return shutil.which(CHROMIUM) is not None


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
