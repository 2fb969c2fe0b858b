"""Exports on the dashboard, in a real browser, end to end: a real server and a real
Celery worker on this test run's PostgreSQL and Redis.

A member filters the calls table to the failed calls, exports what it shows as
CSV, watches the export go from queued to completed in the exports panel (its
`data-export-status` events), and downloads the file: the failed calls, each once.
An export made before the page opened is read over REST."""

import csv
import io
from pathlib import Path

import httpx
import pytest

from dashboard.tests.browser import INGEST_ENV, in_browser, needs_chromium, sign_in, wait_until
from exports.tests.helpers import make_calls
from project.testing import running_server, running_worker

pytestmark = [pytest.mark.e2e, needs_chromium]

EXPORT_MS = 30_000  # requested to completed, with the worker's start behind it


def request_and_download(page, base_url: str, username: str, earlier_id: str, downloads: Path) -> dict:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, base_url, username)
    page.locator(f"#export-{earlier_id}").wait_for()
    seen = {"earlier": page.locator(f"#export-{earlier_id} .state").inner_text()}
    # every status the new export's line shows, as the page draws them
    page.evaluate("""() => {
      window.exportStates = [];
      new MutationObserver(() => {
        const line = document.querySelector('#exports li[data-status]:first-child');
        const last = window.exportStates[window.exportStates.length - 1];
        if (line && line.dataset.status !== last) window.exportStates.push(line.dataset.status);
      }).observe(document.getElementById('exports'), {subtree: true, childList: true, attributes: true});
    }""")

    # when the table shows the failed calls, and those are exported as CSV
    page.select_option("#calls-filter", "failed")
    seen["rows_shown"] = page.evaluate("[...document.querySelectorAll('#calls tr')].filter(r => !r.hidden)"
                                       ".map(r => r.dataset.status)")
    page.select_option("#export-format", "csv")
    page.click("#export-calls")
    export_id = wait_until(page, "document.getElementById('export-form-status').dataset.exportId")
    line = page.locator(f"#export-{export_id}")
    line.locator("a").wait_for(timeout=EXPORT_MS)
    seen["state"] = line.locator(".state").inner_text()
    seen["detail"] = line.locator(".detail").inner_text()
    seen["states"] = page.evaluate("window.exportStates")

    # then its link downloads the file
    with page.expect_download() as download:
        line.locator("a").click()
    path = downloads / "export.csv"
    download.value.save_as(path)
    seen["file_name"] = download.value.suggested_filename
    seen["rows"] = list(csv.DictReader(io.StringIO(path.read_text())))
    seen["problems"] = problems
    return seen


@pytest.mark.django_db(transaction=True)
def test_the_failed_calls_are_exported_from_the_table_and_downloaded(tmp_path, teammate, workspace,
                                                                      write_key):
    # given completed and failed calls, and an export requested before the page opened
    make_calls(workspace, 4, status="completed")
    failed = make_calls(workspace, 3, status="failed")
    env = {**INGEST_ENV, "EXPORTS_DIR": str(tmp_path / "exports")}
    with running_server(tmp_path, env=env) as server, running_worker(tmp_path, env=env):
        earlier = httpx.post(f"{server.url}/api/v1/exports", json={"kind": "ledger"}, timeout=10,
                             headers={"Authorization": f"Bearer {write_key.key}"})
        assert earlier.status_code == 202, earlier.text
        seen = in_browser(request_and_download, server.url, teammate.username, earlier.json()["id"], tmp_path,
                          timeout=120)

    assert seen["earlier"] in ("queued", "running", "completed")
    assert seen["rows_shown"] == ["failed"] * 3
    assert seen["state"] == "completed" and seen["detail"] == "3 rows"
    assert seen["states"][-1] == "completed" and seen["states"][0] in ("queued", "running")
    assert seen["file_name"].startswith("calls-") and seen["file_name"].endswith(".csv")
    assert sorted(row["id"] for row in seen["rows"]) == sorted(str(call.pk) for call in failed)
    assert {row["status"] for row in seen["rows"]} == {"failed"}
    assert seen["problems"] == []
