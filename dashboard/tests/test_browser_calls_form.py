"""Placing a call from the dashboard, in a real browser against a real server: the
form lists the workspace's agents (the default one chosen), says why a bad number
was refused and places nothing, and a call placed from it, from the keyboard,
shows in the calls table through its own `call-created` event."""

import pytest

from calls.agents import agent_create
from calls.models import Call
from dashboard.tests.browser import INGEST_ENV, WAIT_MS, in_browser, needs_chromium, sign_in, wait_until
from project.testing import running_server

pytestmark = [pytest.mark.e2e, needs_chromium]

AGENTS = "[...document.querySelectorAll('#call-agent option')].map(o => [o.value, o.textContent, o.selected])"


def place_calls_from_the_form(page, base_url: str, username: str) -> dict:
    sign_in(page, base_url, username)
    wait_until(page, "document.querySelectorAll('#call-agent option').length === 2")
    seen = {"agents": page.evaluate(AGENTS)}

    # given a number that is not E.164, typed and sent with Enter
    page.focus("#call-to")
    page.keyboard.type("555-0123")
    page.keyboard.press("Enter")
    page.wait_for_selector("#call-form-status[data-kind=error]", timeout=WAIT_MS)
    seen["refused"] = page.inner_text("#call-form-status")
    seen["invalid"] = page.get_attribute("#call-to", "aria-invalid")
    seen["rows_after_refusal"] = page.locator("#calls tr[data-call-id]").count()

    # when a good number and the other agent are chosen from the keyboard
    page.fill("#call-to", "+14155550142")
    page.select_option("#call-agent", "sales")
    page.focus("#call-agent")
    page.keyboard.press("Tab")  # to the button
    seen["focused"] = page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")
    page.wait_for_selector("#call-form-status[data-kind=ok]", timeout=WAIT_MS)
    call_id = page.get_attribute("#call-form-status", "data-call-id")
    row = page.locator(f"#call-{call_id}")
    row.wait_for(timeout=WAIT_MS)
    seen.update(
        call_id=call_id,
        placed=page.inner_text("#call-form-status"),
        row=[row.locator(f"[data-field={name}]").inner_text() for name in ("to", "agent", "status")],
        number_left=page.input_value("#call-to"),
        focus_back=page.evaluate("document.activeElement.id"),
    )
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_call_placed_from_the_form_shows_in_the_calls_table(tmp_path, owner, workspace):
    # given a second agent beside the default one
    agent_create(workspace=workspace, name="sales")

    with running_server(tmp_path, env=INGEST_ENV) as server:
        seen = in_browser(place_calls_from_the_form, server.url, owner.username)

    assert seen["agents"] == [["helpdesk", "helpdesk (default)", True], ["sales", "sales", False]]
    assert seen["refused"].startswith("to_number must be a valid phone number in E.164 form")
    assert seen["invalid"] == "true" and seen["rows_after_refusal"] == 0
    assert seen["focused"] == "Place call"
    assert seen["placed"] == f"Call {seen['call_id'][:8]} to +14155550142 placed."
    assert seen["row"][:2] == ["+14155550142", "sales"]
    assert seen["number_left"] == "" and seen["focus_back"] == "call-to"
    call = Call.objects.get()
    assert str(call.pk) == seen["call_id"] and call.agent.name == "sales" and call.to_number == "+14155550142"
