"""A campaign run from the dashboard, in a real browser, end to end: a real server,
a real Celery worker with its beat (the dialer, its reactions, the progress flush)
and the simulated voice runtime, on this test run's PostgreSQL and Redis.

The page creates a draft, uploads a CSV whose bad row it shows, starts it, sees its
progress move from the stream, pauses, resumes and cancels it; the contacts show
their status and last call, which opens in the call drawer and is a row of the
calls table. A campaign created before the page opened is read over REST; one
created over the API while the page is open appears from its first event."""

import httpx
import pytest

from dashboard.tests.browser import SIMULATED_ENV, WAIT_MS, in_browser, needs_chromium, sign_in, wait_until
from project.testing import running_server, running_worker

pytestmark = [pytest.mark.e2e, needs_chromium]

GOOD_NUMBERS = [f"+1415555{n:04d}" for n in range(110, 118)]
CSV = "\n".join([
    "phone_number,first_name",
    *[f"{number},Friend{n}" for n, number in enumerate(GOOD_NUMBERS[:2])],
    "555-not-a-number,Broken",  # row 3
    f"{GOOD_NUMBERS[0]},Again",  # row 4: a duplicate
    *[f"{number},Friend{n}" for n, number in enumerate(GOOD_NUMBERS[2:], start=2)],
]).encode()

CONTACTS = ("[...document.querySelectorAll('#contacts tr[data-contact-id]')]"
            ".map(tr => [tr.querySelector('[data-field=number]').textContent, tr.dataset.status])")
COUNTERS = ("Object.fromEntries([...document.querySelectorAll('#campaign-counters dd')]"
            ".map(dd => [dd.dataset.stat, dd.textContent]))")
ACTIONS = ("[...document.querySelectorAll('#campaign [data-action]')]"
           ".filter(b => !b.hidden).map(b => b.textContent)")
STATUS_IS = "status => document.getElementById('campaign').dataset.status === status"
DONE = ("() => { const s = Object.fromEntries([...document.querySelectorAll('#campaign-counters dd')]"
        ".map(dd => [dd.dataset.stat, Number.parseInt(dd.textContent)]));"
        " return s.completed + s.failed >= 1 && document.getElementById('campaign-progress').value > 0; }")
DIAL_MS = 60_000  # a simulated call, placed by the dialer, rings, talks and ends


def create_over_the_api(base_url: str, write_key: str, name: str) -> dict:
    response = httpx.post(f"{base_url}/api/v1/campaigns", json={"name": name}, timeout=10,
                          headers={"Authorization": f"Bearer {write_key}"})
    assert response.status_code == 201, response.text
    return response.json()


def run_a_campaign(page, base_url: str, username: str, write_key: str) -> dict:
    # a campaign made before the page opened is read over REST
    earlier = create_over_the_api(base_url, write_key, "Earlier one")
    sign_in(page, base_url, username)
    page.locator(f"#campaign-{earlier['id']}[data-status=draft]").wait_for(timeout=WAIT_MS)
    seen = {"on_load": page.evaluate("[...document.querySelectorAll('#campaigns .open-campaign')]"
                                     ".map(b => b.textContent)")}

    # given a new draft, made with the form
    page.click("#new-campaign summary")
    page.fill("#campaign-name", "Spring renewals")
    page.fill("#campaign-concurrency", "1")
    page.press("#campaign-concurrency", "Enter")
    page.wait_for_selector("#campaign:not([hidden])[data-status=draft]", timeout=WAIT_MS)
    campaign_id = page.get_attribute("#campaign", "data-campaign-id")
    seen["created"] = {
        "title": page.inner_text("#campaign-title"),
        "focus": page.evaluate("document.activeElement.id"),
        "actions": page.evaluate(ACTIONS),
        "listed": page.inner_text(f"#campaign-{campaign_id} .open-campaign"),
    }

    # when its contacts are uploaded, one row broken and one a duplicate
    csv_file = {"name": "contacts.csv", "mimeType": "text/csv", "buffer": CSV}
    page.set_input_files("#upload-file", files=[csv_file])
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-summary[data-kind=error]", timeout=WAIT_MS)
    wait_until(page, "n => document.querySelectorAll('#contacts tr[data-contact-id]').length === n",
               len(GOOD_NUMBERS))
    seen["uploaded"] = {
        "summary": page.inner_text("#upload-summary"),
        "errors": page.evaluate("[...document.querySelectorAll('#upload-errors tbody tr')]"
                                ".map(tr => [...tr.cells].map(td => td.textContent))"),
        "contacts": page.evaluate(CONTACTS),
    }
    wait_until(page, "document.querySelector('[data-stat=total]').textContent === '8'")

    # then it starts, and its progress moves on the page as the dialer works
    page.click("#campaign [data-action=start]")
    wait_until(page, STATUS_IS, "running", timeout=WAIT_MS)
    wait_until(page, DONE, timeout=DIAL_MS)
    seen["running"] = {"counters": page.evaluate(COUNTERS), "actions": page.evaluate(ACTIONS),
                       "listed": page.evaluate("document.querySelector('#campaigns li progress').value")}

    page.click("#campaign [data-action=pause]")
    wait_until(page, STATUS_IS, "paused", timeout=WAIT_MS)
    # the answer, whose pause reason the event does not carry, and focus moved on
    page.wait_for_selector("#campaign-action-status[data-kind=ok]", timeout=WAIT_MS)
    seen["paused"] = {"state": page.inner_text("#campaign-state"), "actions": page.evaluate(ACTIONS),
                      "focus": page.evaluate("document.activeElement.textContent")}
    page.keyboard.press("Enter")  # focus went to Resume
    wait_until(page, STATUS_IS, "running", timeout=WAIT_MS)

    # a contact that was called shows its status and last call, a row of the calls table
    called = wait_until(page, "document.querySelector('#contacts [data-field=call] button')"
                              "?.closest('tr').id", timeout=DIAL_MS)
    call_id = page.get_attribute(f"#{called} [data-field=call]", "data-call-id")
    page.locator(f"#call-{call_id}").wait_for(timeout=WAIT_MS)
    page.focus(f"#{called} [data-field=call] button")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#drawer[data-call-id='{call_id}']:not([hidden])", timeout=WAIT_MS)
    seen["called"] = {
        "number": page.inner_text(f"#{called} [data-field=number]"),
        "status": page.get_attribute(f"#{called}", "data-status"),
        "drawer": page.inner_text("#drawer-title"),
        "call_row": page.inner_text(f"#call-{call_id} [data-field=to]"),
    }
    page.keyboard.press("Escape")
    seen["called"]["focus_back"] = page.evaluate("document.activeElement.closest('tr')?.id")

    page.click("#campaign [data-action=cancel]")
    wait_until(page, STATUS_IS, "canceled", timeout=WAIT_MS)
    wait_until(page, "!document.querySelector('#contacts tr[data-status=pending]')", timeout=WAIT_MS)
    seen["canceled"] = {
        "actions": page.evaluate(ACTIONS),
        "upload_hidden": page.locator("#upload-form").is_hidden(),
        "listed": page.get_attribute(f"#campaign-{campaign_id}", "data-status"),
        "statuses": sorted({status for _, status in page.evaluate(CONTACTS)}),
    }

    page.select_option("#contact-status", "skipped")
    wait_until(page, "[...document.querySelectorAll('#contacts tr')]"
                     ".every(tr => tr.dataset.status === 'skipped')", timeout=WAIT_MS)
    seen["canceled"]["skipped_only"] = page.evaluate(CONTACTS)

    # a campaign made elsewhere shows from its first event
    other = create_over_the_api(base_url, write_key, "From the API")
    page.locator(f"#campaign-{other['id']}").wait_for(timeout=WAIT_MS)
    seen["listed_now"] = page.evaluate("[...document.querySelectorAll('#campaigns .open-campaign')]"
                                       ".map(b => b.textContent)")

    page.click("#campaign-close")
    seen["closed_focus"] = page.evaluate("document.activeElement.textContent")
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_campaign_created_uploaded_started_paused_resumed_and_canceled_from_the_page(
    tmp_path, owner, workspace, write_key
):
    with (running_server(tmp_path, env=SIMULATED_ENV) as server,
          running_worker(tmp_path, env=SIMULATED_ENV, beat=True)):
        seen = in_browser(run_a_campaign, server.url, owner.username, write_key.key, timeout=300)

    assert seen["on_load"] == ["Earlier one"]
    assert seen["created"] == {"title": "Spring renewals", "focus": "campaign-title", "actions": ["Start"],
                               "listed": "Spring renewals"}
    assert seen["uploaded"]["summary"] == "8 added, 1 duplicate, 0 suppressed, 1 row not added."
    [(row, number, message)] = seen["uploaded"]["errors"]
    assert (row, number) == ("3", "555-not-a-number") and message
    assert sorted(seen["uploaded"]["contacts"]) == [[number, "pending"] for number in GOOD_NUMBERS]
    assert seen["running"]["actions"] == ["Pause", "Cancel campaign"]
    assert seen["running"]["counters"]["total"] == "8" and seen["running"]["listed"] > 0
    assert seen["paused"] == {"state": "paused (manual)", "actions": ["Resume", "Cancel campaign"],
                              "focus": "Resume"}
    called = seen["called"]
    assert called["number"] in GOOD_NUMBERS and called["status"] != "pending"
    assert called["drawer"] == f"Call to {called['number']}" == f"Call to {called['call_row']}"
    assert called["focus_back"] and called["focus_back"].startswith("contact-")
    assert seen["canceled"]["actions"] == [] and seen["canceled"]["upload_hidden"]
    assert seen["canceled"]["listed"] == "canceled"
    assert "pending" not in seen["canceled"]["statuses"] and "skipped" in seen["canceled"]["statuses"]
    skipped = seen["canceled"]["skipped_only"]
    assert skipped and {status for _, status in skipped} == {"skipped"}  # the status filter
    assert seen["listed_now"] == ["From the API", "Spring renewals", "Earlier one"]  # newest first, once each
    assert seen["closed_focus"] == "Spring renewals"
