"""Schedules on the dashboard, in a real browser, end to end: a real server, a real
Celery worker with its beat (the schedules' tick) and the simulated voice runtime,
on this test run's PostgreSQL and Redis.

A member types a recurring schedule's timing and sees what it means before saving
(the API's reason for an expression that is wrong, then the next five times), saves
it with a call to place, pauses and resumes it. A one-off schedule created over the
API while the page is open appears from its first event, and when it runs, its run
(executed, with the call it placed) appears in the opened schedule's runs. Deleting
takes a schedule off the page. A schedule created before the page opened is read
over REST."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dashboard.tests.browser import SIMULATED_ENV, WAIT_MS, in_browser, needs_chromium, sign_in, wait_until
from project.testing import running_server, running_worker

pytestmark = [pytest.mark.e2e, needs_chromium]

# The beat's tick, so a one-off schedule runs within about a second of its time.
ENV = {**SIMULATED_ENV, "SCHEDULES_TICK_SECONDS": "0.5"}
WORKSPACE_ZONE = "America/New_York"
NAMES = "[...document.querySelectorAll('#schedules .open-campaign')].map(b => b.textContent)"
ACTIONS = ("[...document.querySelectorAll('#schedule [data-schedule-action]')]"
           ".filter(b => !b.hidden).map(b => b.textContent)")
STATUS_IS = "status => document.getElementById('schedule').dataset.status === status"
PREVIEW = "[...document.querySelectorAll('#schedule-preview time')].map(t => t.dateTime)"
NEXT = "[...document.querySelectorAll('#schedule-next time')].map(t => t.dateTime)"
NO_TIME = "\N{EN DASH}"  # what the page shows for a schedule with no next run
RUN_MS = 15_000  # a one-off schedule due in a few seconds has run, and its run shows


def api(base_url: str, key: str, method: str, path: str, json=None) -> httpx.Response:
    return httpx.request(method, f"{base_url}/api/v1{path}", json=json, timeout=10,
                         headers={"Authorization": f"Bearer {key}"})


def create_over_the_api(base_url: str, key: str, **schedule) -> dict:
    response = api(base_url, key, "POST", "/schedules", schedule)
    assert response.status_code == 201, response.text
    return response.json()


def next_july_first() -> datetime:
    """A summer day within the year a one-off may be set ahead: Berlin is on UTC+2 then."""
    today = datetime.now(UTC)
    year = today.year if today.month < 7 else today.year + 1
    return datetime(year, 7, 1, tzinfo=UTC)


def row(page, schedule_id: str) -> dict:
    return page.evaluate(
        "id => Object.fromEntries([...document.getElementById(`schedule-${id}`).cells]"
        ".map(td => [td.dataset.field, td.textContent]))",
        schedule_id,
    )


def work_with_schedules(page, base_url: str, username: str, key: str) -> dict:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    # a schedule made before the page opened is read over REST
    earlier = create_over_the_api(base_url, key, name="Monthly check", cron="0 8 1 * *",
                                  action={"type": "call", "to_number": "+14155550140"})
    sign_in(page, base_url, username)
    page.locator(f"#schedule-{earlier['id']}[data-status=active]").wait_for(timeout=WAIT_MS)
    seen = {"on_load": page.evaluate(NAMES), "earlier_row": row(page, earlier["id"])}

    # given the form, whose zone is the workspace's
    page.click("#new-schedule summary")
    seen["zone_default"] = page.input_value("#schedule-timezone")
    page.fill("#schedule-name", "Weekday mornings")

    # when an expression with a field missing is typed, the API's reason shows and nothing is previewed
    page.fill("#schedule-cron", "0 9 * *")
    page.wait_for_selector("#schedule-preview-status[data-kind=error]", timeout=WAIT_MS)
    seen["invalid"] = {"message": page.inner_text("#schedule-preview-status"),
                       "marked": page.get_attribute("#schedule-cron", "aria-invalid"),
                       "times": page.evaluate(PREVIEW)}

    # and so does a zone that is not one
    page.fill("#schedule-cron", "0 9 * * 1-5")
    page.fill("#schedule-timezone", "Mars/Olympus_Mons")
    wait_until(page, "document.getElementById('schedule-timezone').getAttribute('aria-invalid') === 'true'",
               timeout=WAIT_MS)
    seen["invalid_zone"] = {"message": page.inner_text("#schedule-preview-status"),
                            "cron_marked": page.get_attribute("#schedule-cron", "aria-invalid")}

    # then a whole one, in another zone, shows its next five times before it is saved
    page.fill("#schedule-timezone", "Europe/Berlin")
    wait_until(page, f"{PREVIEW}.length === 5"
                     " && document.getElementById('schedule-preview-status').dataset.kind === 'ok'",
               timeout=WAIT_MS)
    seen["preview"] = {"times": page.evaluate(PREVIEW), "status": page.inner_text("#schedule-preview-status"),
                       "marked": page.get_attribute("#schedule-cron", "aria-invalid"),
                       "shown": page.inner_text("#schedule-preview")}

    # saved with a call to place, it is listed and opened
    page.fill("#schedule-to", "+14155550141")
    page.press("#schedule-to", "Enter")
    page.wait_for_selector("#schedule:not([hidden])[data-status=active]", timeout=WAIT_MS)
    schedule_id = page.get_attribute("#schedule", "data-schedule-id")
    wait_until(page, f"{NEXT}.length === 5", timeout=WAIT_MS)
    seen["created"] = {"title": page.inner_text("#schedule-title"),
                       "focus": page.evaluate("document.activeElement.id"),
                       "actions": page.evaluate(ACTIONS), "next": page.evaluate(NEXT),
                       "row": row(page, schedule_id),
                       "form_closed": not page.evaluate("document.getElementById('new-schedule').open")}

    # paused, it has no next run and offers Resume, where focus went
    page.click("#schedule [data-schedule-action=pause]")
    wait_until(page, STATUS_IS, "paused", timeout=WAIT_MS)
    page.wait_for_selector("#schedule-action-status[data-kind=ok]", timeout=WAIT_MS)
    seen["paused"] = {"actions": page.evaluate(ACTIONS), "next": page.evaluate(NEXT),
                      "row": row(page, schedule_id),
                      "focus": page.evaluate("document.activeElement.textContent")}
    page.keyboard.press("Enter")
    wait_until(page, STATUS_IS, "active", timeout=WAIT_MS)
    wait_until(page, f"{NEXT}.length === 5", timeout=WAIT_MS)
    seen["resumed"] = {"actions": page.evaluate(ACTIONS), "row": row(page, schedule_id)}

    # a one-off schedule made over the API, due in a few seconds, shows from its first event
    due = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
    one_off = create_over_the_api(base_url, key, name="In a moment", run_at=due,
                                  action={"type": "call", "to_number": "+14155550142"})
    page.locator(f"#schedule-{one_off['id']}").wait_for(timeout=WAIT_MS)
    seen["listed_now"] = page.evaluate(NAMES)
    page.click(f"#schedule-{one_off['id']} .open-campaign")
    page.wait_for_selector(f"#schedule[data-schedule-id='{one_off['id']}']", timeout=WAIT_MS)
    page.wait_for_selector("#runs .empty-row", timeout=WAIT_MS)
    seen["before_run"] = page.evaluate("document.querySelectorAll('#runs tr[data-run-id]').length")

    # when it runs, its run shows in the opened schedule, with the call it placed
    wait_until(page, "document.querySelector('#runs tr[data-outcome=executed] [data-field=did] button')",
               timeout=RUN_MS)
    wait_until(page, STATUS_IS, "completed", timeout=WAIT_MS)
    call_id = page.get_attribute("#runs tr[data-outcome=executed] [data-field=did]", "data-call-id")
    page.locator(f"#call-{call_id}").wait_for(timeout=WAIT_MS)  # and in the calls table
    seen["ran"] = {"runs": page.evaluate("document.querySelectorAll('#runs tr[data-run-id]').length"),
                   "actions": page.evaluate(ACTIONS), "row": row(page, one_off["id"]),
                   "call_to": page.inner_text(f"#call-{call_id} [data-field=to]")}
    page.click("#runs tr[data-outcome=executed] [data-field=did] button")
    page.wait_for_selector(f"#drawer[data-call-id='{call_id}']:not([hidden])", timeout=WAIT_MS)
    seen["ran"]["drawer"] = page.inner_text("#drawer-title")
    page.keyboard.press("Escape")

    # deleting takes the recurring schedule off the page
    page.click(f"#schedule-{schedule_id} .open-campaign")
    page.wait_for_selector(f"#schedule[data-schedule-id='{schedule_id}']", timeout=WAIT_MS)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#schedule [data-schedule-action=delete]")
    page.locator(f"#schedule-{schedule_id}").wait_for(state="detached", timeout=WAIT_MS)
    seen["deleted"] = {"names": page.evaluate(NAMES), "detail_hidden": page.locator("#schedule").is_hidden(),
                       "status": page.inner_text("#schedules-status"),
                       "read": api(base_url, key, "GET", f"/schedules/{schedule_id}").status_code}
    seen["api"] = {"one_off": api(base_url, key, "GET", f"/schedules/{one_off['id']}").json(),
                   "runs": api(base_url, key, "GET", f"/schedules/{one_off['id']}/runs").json()["results"]}
    seen["ids"] = {"call": call_id}

    # a one-off schedule from the form: a local time in a zone, and a draft campaign to start
    draft = api(base_url, key, "POST", "/campaigns", {"name": "Summer sale"}).json()
    page.click("#new-schedule summary")
    page.check("#schedule-form input[name=when][value=once]")
    page.fill("#schedule-run-at", f"{next_july_first().date()}T09:00")
    page.fill("#schedule-timezone", "Europe/Berlin")
    wait_until(page, f"{PREVIEW}.length === 1", timeout=WAIT_MS)
    seen["once_preview"] = page.evaluate(PREVIEW)
    page.check("#schedule-form input[name=does][value=campaign]")
    drafts = page.locator(f"#schedule-campaign option[value='{draft['id']}']")
    drafts.wait_for(state="attached", timeout=WAIT_MS)
    page.click("#schedule-form button[type=submit]")
    wait_until(page, "name => document.getElementById('schedule-title').textContent === name",
               f"Start campaign {draft['id']}", timeout=WAIT_MS)
    seen["once"] = {"facts": page.inner_text("#schedule-facts"), "next": page.evaluate(NEXT),
                    "names": page.evaluate(NAMES), "draft": draft["id"]}
    seen["problems"] = problems
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_schedule_previewed_created_paused_resumed_and_deleted_and_a_one_off_run_shown_live(
    tmp_path, teammate, workspace, write_key
):
    workspace.timezone = WORKSPACE_ZONE
    workspace.save(update_fields=["timezone"])

    with running_server(tmp_path, env=ENV) as server, running_worker(tmp_path, env=ENV, beat=True):
        seen = in_browser(work_with_schedules, server.url, teammate.username, write_key.key, timeout=120)

    assert seen["on_load"] == ["Monthly check"]
    assert seen["earlier_row"]["when"] == f"0 8 1 * * ({WORKSPACE_ZONE})"
    assert seen["earlier_row"]["status"] == "active" and seen["earlier_row"]["runs"] == "0"
    assert seen["zone_default"] == WORKSPACE_ZONE
    assert "`cron`" in seen["invalid"]["message"] and "5 fields" in seen["invalid"]["message"]
    assert seen["invalid"]["marked"] == "true" and seen["invalid"]["times"] == []
    assert "`timezone`" in seen["invalid_zone"]["message"] and seen["invalid_zone"]["cron_marked"] is None
    assert seen["preview"]["status"] == "In Europe/Berlin:" and seen["preview"]["marked"] is None
    previewed = [datetime.fromisoformat(moment) for moment in seen["preview"]["times"]]
    assert previewed == sorted(previewed) and len(set(previewed)) == 5
    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 in summer, on weekdays
    assert all(moment.hour in (7, 8) and moment.minute == 0 and moment.weekday() < 5 for moment in previewed)
    assert "09:00" in seen["preview"]["shown"]
    created = seen["created"]
    assert created["title"] == "Weekday mornings" and created["focus"] == "schedule-title"
    assert created["actions"] == ["Pause", "Delete schedule"] and created["form_closed"]
    assert created["next"] == seen["preview"]["times"]  # what was previewed is what was saved
    assert created["row"]["when"] == "0 9 * * 1-5 (Europe/Berlin)" and "09:00" in created["row"]["next"]
    assert seen["paused"] == {"actions": ["Resume", "Delete schedule"], "next": [],
                              "row": {**created["row"], "status": "paused", "next": NO_TIME},
                              "focus": "Resume"}
    assert seen["resumed"] == {"actions": ["Pause", "Delete schedule"], "row": created["row"]}
    # newest first, once each
    assert seen["listed_now"] == ["In a moment", "Weekday mornings", "Monthly check"]
    assert seen["before_run"] == 0
    ran = seen["ran"]
    assert ran["runs"] == 1 and ran["actions"] == ["Delete schedule"]
    assert ran["row"]["status"] == "completed" and ran["row"]["runs"] == "1" and ran["row"]["next"] == NO_TIME
    assert ran["call_to"] == "+14155550142" and ran["drawer"] == "Call to +14155550142"
    assert seen["deleted"] == {"names": ["In a moment", "Monthly check"], "detail_hidden": True,
                               "status": "Deleted “Weekday mornings”.", "read": 404}
    assert seen["api"]["one_off"]["status"] == "completed" and seen["api"]["one_off"]["run_count"] == 1
    # 09:00 in Berlin in July is 07:00 UTC: the zone's offset on that day, not today's
    assert seen["once_preview"] == [f"{next_july_first().date()}T07:00:00Z"]
    once = seen["once"]
    assert once["next"] == seen["once_preview"]
    assert f"Starts campaign {once['draft'][:8]}" in once["facts"] and "Once, " in once["facts"]
    assert once["names"] == [f"Start campaign {once['draft']}", "In a moment", "Monthly check"]
    assert seen["problems"] == []
    [run] = seen["api"]["runs"]
    assert run["outcome"] == "executed" and run["call_id"] == seen["ids"]["call"]
