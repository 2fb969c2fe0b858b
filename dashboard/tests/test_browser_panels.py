"""The exports panel in a real browser: empty first, then it fills from its
workspace events as they arrive (the campaigns, which read their state first, have
test_browser_campaigns.py; the notifications' bell, test_browser_notifications.py).

Exports have no services yet (their events are registered, their REST endpoints
are not built), so the test emits their events through `realtime.emit`, the one
path every service will use."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from dashboard.tests.browser import INGEST_ENV, WAIT_MS, in_browser, needs_chromium, sign_in
from project.testing import running_server
from realtime.emit import emit

EMPTY = "[...document.querySelectorAll('.side li.empty')].map(li => li.textContent)"

pytestmark = [pytest.mark.e2e, needs_chromium]


def emit_off_the_browser_loop(workspace, events: list[tuple[str, dict]]) -> None:
    """Playwright's sync API keeps an event loop on its thread, where Django refuses
    the ORM: the events are emitted from a thread of their own."""

    def run():
        try:
            for type, data in events:
                emit(workspace, type, data)
        finally:
            connections.close_all()  # before the test database goes

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result(timeout=30)


def watch_the_panels(page, base_url: str, username: str, workspace) -> dict:
    export_id = str(uuid.uuid4())
    sign_in(page, base_url, username)
    seen = {"empty": page.evaluate(EMPTY)}
    emit_off_the_browser_loop(
        workspace,
        [
            (
                "data-export-status",
                {"export_id": export_id, "status": "running", "progress": 30.0, "row_count": 300},
            ),
            (
                "data-export-status",
                {
                    "export_id": export_id,
                    "status": "completed",
                    "progress": 100.0,
                    "row_count": 1000,
                    "download_url": f"/api/v1/exports/{export_id}/download",
                },
            ),
        ],
    )
    page.wait_for_selector(f"#export-{export_id}[data-status=completed] a", timeout=WAIT_MS)
    hostile = export_links_of(page, workspace, ["//evil.example/x", "/\\evil.example/x",
                                                "javascript:alert(1)", "http://evil.example/x",
                                                "https://files.example.com/export.csv"])
    export = page.locator(f"#export-{export_id}")
    return {
        **seen,
        "empty_after": page.evaluate(EMPTY),
        "export": [
            export.locator(".state").inner_text(),
            export.locator("progress").evaluate("bar => bar.value"),
            export.locator(".detail").inner_text(),
            export.locator("a").get_attribute("href"),
        ],
        "export_rows": page.locator("#exports li").count() - len(hostile),
        "export_id": export_id,
        "hostile_links": hostile,
    }


def export_links_of(page, workspace, download_urls: list[str]) -> dict[str, str | None]:
    """Each download_url, given to a completed export: the link the page drew, if any."""
    exports = {str(uuid.uuid4()): url for url in download_urls}
    emit_off_the_browser_loop(workspace, [
        ("data-export-status", {"export_id": export_id, "status": "completed", "progress": 100.0,
                                "row_count": 1, "download_url": url})
        for export_id, url in exports.items()
    ])
    for export_id in exports:
        page.wait_for_selector(f"#export-{export_id}[data-status=completed]", timeout=WAIT_MS)
    return {url: page.locator(f"#export-{export_id} a").evaluate_all("links => links[0]?.href ?? null")
            for export_id, url in exports.items()}


@pytest.mark.django_db(transaction=True)
def test_the_panels_start_empty_and_fill_from_their_events(tmp_path, owner, workspace):
    with running_server(tmp_path, env=INGEST_ENV) as server:
        seen = in_browser(watch_the_panels, server.url, owner.username, workspace)

    assert seen["empty"] == ["No exports yet."]
    assert seen["empty_after"] == []
    assert seen["export"] == ["completed", 100, "1000 rows", f"/api/v1/exports/{seen['export_id']}/download"]
    assert seen["export_rows"] == 1  # updated in place
    # a download link is a path of this site or an https address, nothing else
    assert seen["hostile_links"] == {
        "//evil.example/x": None,
        "/\\evil.example/x": None,
        "javascript:alert(1)": None,
        "http://evil.example/x": None,
        "https://files.example.com/export.csv": "https://files.example.com/export.csv",
    }
