"""Webhooks on the dashboard, in a real browser, end to end: a real server and the
webhook sender (manage.py run_webhook_sender) as processes of their own, and a
receiver in this test on 127.0.0.1 that verifies every signature
(webhooks/tests/receiver.py), on this test run's PostgreSQL and Redis.

An admin goes from the dashboard to the webhooks page, sees an endpoint made
before the page opened (read over REST), is refused a URL the API refuses (its
reason shown, the field marked), creates an endpoint for a chosen set of event
types and sees its secret once (copied; gone after a reload); sends a test event
and sees it delivered in the log; makes the receiver fail, sees the delivery
fail, fixes the receiver, retries it and sees it delivered; rotates the secret
(the new one shown once, the old one valid 24 h); disables the endpoint (focus
moves to Enable). An endpoint disabled over the API meanwhile shows disabled
from its `webhook-status-changed` event; deleting asks, and takes it off. A member
gets no link and a page that says who manages webhooks."""

import os
import re
import subprocess
import sys
from contextlib import contextmanager

import httpx
import pytest
from django.conf import settings

from dashboard.tests.browser import INGEST_ENV, WAIT_MS, in_browser, needs_chromium, sign_in, wait_until
from project import testing
from project.testing import running_server, stop_process
from webhooks.tests.helpers import wait_until as wait_for
from webhooks.tests.receiver import Answer, running_receiver

pytestmark = [pytest.mark.e2e, needs_chromium]

ENV = {**INGEST_ENV, "WEBHOOKS_ALLOW_PRIVATE_URLS": "true"}
# The sender's: a failed attempt is retried once, a second later, then the delivery fails.
SENDER_ENV = {"WEBHOOKS_ALLOW_PRIVATE_URLS": "true", "WEBHOOKS_RETRY_SCHEDULE": "1",
              "WEBHOOKS_RETRY_JITTER": "0", "WEBHOOKS_TIMEOUT_SECONDS": "2", "WEBHOOKS_LEASE_SECONDS": "4",
              "WEBHOOKS_POLL_SECONDS": "0.1"}
DELIVERED_MS = 10_000  # a due delivery is sent, and the page's next read of its log shows it
ACTIONS = ("[...document.querySelectorAll('#webhook [data-webhook-action]')]"
           ".filter(b => !b.hidden).map(b => b.textContent)")
DELIVERIES = ("[...document.querySelectorAll('#deliveries tr[data-delivery-id]')].map(tr => "
              "Object.fromEntries([...tr.cells].map(td => [td.dataset.field, td.textContent])))")


@contextmanager
def running_sender_process(tmp_path):
    """manage.py run_webhook_sender on this test run's database, as
    webhooks/tests/test_sender_process.py starts it; stopped at the end."""
    log = tmp_path / "sender.log"
    env = {**os.environ, "DEBUG": "false", "DATABASE_URL": testing.test_database_url(),
           "LOG_LEVEL": "WARNING", "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret"), **SENDER_ENV}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "manage.py", "run_webhook_sender"], cwd=settings.BASE_DIR,
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: b"webhook sender started" in log.read_bytes() or process.poll() is not None,
                 timeout=30, message="the sender started")
        assert process.poll() is None, log.read_text()
        yield process
    finally:
        stop_process(process)


def api(base_url: str, key: str, method: str, path: str, json=None) -> httpx.Response:
    return httpx.request(method, f"{base_url}/api/v1{path}", json=json, timeout=10,
                         headers={"Authorization": f"Bearer {key}"})


def row(page, webhook_id: str) -> dict:
    return page.evaluate(
        "id => Object.fromEntries([...document.getElementById(`webhook-${id}`).cells]"
        ".map(td => [td.dataset.field, td.textContent]))",
        webhook_id,
    )


def open_webhooks_page(page, base_url: str, username: str) -> None:
    sign_in(page, base_url, username)
    page.click("#nav-webhooks")
    page.wait_for_url(re.compile(r".*/dashboard/webhooks/\?workspace=acme$"))
    page.wait_for_selector("#connection[data-state=live]")
    page.wait_for_selector("#webhooks tr[data-webhook-id], #webhooks .empty-row:not(:empty)")


def newest_delivery(page) -> dict:
    return page.evaluate(f"{DELIVERIES}[0]")


def wait_for_newest(page, status: str, *, timeout: float = DELIVERED_MS) -> dict:
    wait_until(page, "status => document.querySelector('#deliveries tr[data-delivery-id]')?.dataset.status"
                     " === status", status, timeout=timeout)
    return newest_delivery(page)


def work_with_webhooks(page, base_url: str, username: str, key: str, receiver) -> dict:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    seen: dict = {}
    # an endpoint made before the page opened is read over REST
    earlier = api(base_url, key, "POST", "/webhooks",
                  {"url": "http://127.0.0.1:9/earlier", "description": "Made over the API"}).json()
    open_webhooks_page(page, base_url, username)
    page.locator(f"#webhook-{earlier['id']}[data-status=enabled]").wait_for(timeout=WAIT_MS)
    seen["earlier_row"] = row(page, earlier["id"])

    # when a URL the API refuses is sent, its reason shows, the field is marked and nothing is made
    page.click("#new-webhook summary")
    page.fill("#webhook-url", "ftp://example.com/hook")
    page.press("#webhook-url", "Enter")
    page.wait_for_selector("#webhook-form-status[data-kind=error]", timeout=WAIT_MS)
    seen["invalid"] = {
        "message": page.inner_text("#webhook-form-status"),
        "marked": page.get_attribute("#webhook-url", "aria-invalid"),
        "focus": page.evaluate("document.activeElement.id"),
        "rows": page.evaluate("document.querySelectorAll('#webhooks tr[data-webhook-id]').length"),
    }

    # then a good one, for a chosen set of event types, is created and its secret shown once
    page.fill("#webhook-url", receiver.url)
    page.fill("#webhook-description", "The test receiver")
    page.check("#webhook-form input[name=which][value=chosen]")
    page.check("#webhook-types input[value=call-ended]")
    page.check("#webhook-types input[value=webhook-status-changed]")
    page.click("#webhook-form button[type=submit]")
    page.wait_for_selector("#webhook-secret:not([hidden])", timeout=WAIT_MS)
    webhook_id = page.get_attribute("#webhook-secret", "data-webhook-id")
    secret = page.input_value("#webhook-secret-value")
    receiver.secrets.append(secret)  # the receiver verifies what comes with it
    seen["created"] = {
        "id": webhook_id, "secret": secret, "focus": page.evaluate("document.activeElement.id"),
        "box": page.inner_text("#webhook-secret"), "row": row(page, webhook_id),
        "opened": page.get_attribute("#webhook", "data-webhook-id"),
        "title": page.inner_text("#webhook-title"),
        "actions": page.evaluate(ACTIONS), "facts": page.inner_text("#webhook-facts"),
        "marked": page.get_attribute("#webhook-url", "aria-invalid"),
        "form_closed": not page.evaluate("document.getElementById('new-webhook').open"),
    }
    page.click("#webhook-secret-copy")
    page.wait_for_selector("#webhook-secret-status[data-kind=ok]", timeout=WAIT_MS)
    seen["copied"] = page.evaluate("navigator.clipboard.readText()")
    page.click("#webhook-secret-done")
    seen["done"] = {"hidden": page.locator("#webhook-secret").is_hidden(),
                    "value": page.input_value("#webhook-secret-value"),
                    "focus": page.evaluate("document.activeElement.id")}

    # after a reload the endpoint is listed, and its secret is nowhere
    page.reload()
    page.wait_for_selector("#connection[data-state=live]")
    page.locator(f"#webhook-{webhook_id}").wait_for(timeout=WAIT_MS)
    seen["reloaded"] = {"secret_shown": secret in page.content(),
                        "box_hidden": page.locator("#webhook-secret").is_hidden(),
                        "row": row(page, webhook_id)}

    # a test event, sent from the opened endpoint, is delivered, signed, and the log says so
    page.click(f"#webhook-{webhook_id} .open-campaign")
    page.wait_for_selector(f"#webhook[data-webhook-id='{webhook_id}']", timeout=WAIT_MS)
    page.wait_for_selector("#deliveries .empty-row", timeout=WAIT_MS)
    page.click("#webhook [data-webhook-action=test]")
    page.wait_for_selector("#deliveries tr[data-delivery-id]", timeout=WAIT_MS)
    seen["test_sent"] = newest_delivery(page)
    seen["test_delivered"] = wait_for_newest(page, "succeeded")
    seen["test_retry_hidden"] = page.locator("#deliveries tr[data-delivery-id] button").is_hidden()

    # when the receiver fails, the next test event is tried twice and fails, with Retry offered
    receiver.answer = lambda request, index: Answer(500, body=b"down for maintenance")
    page.click("#webhook [data-webhook-action=test]")
    seen["retrying"] = wait_for_newest(page, "retrying")
    seen["failed"] = wait_for_newest(page, "failed")
    failed_id = page.get_attribute("#deliveries tr[data-delivery-id]", "data-delivery-id")

    # then, the receiver fixed, Retry (from the keyboard) delivers it
    receiver.answer = None
    page.focus(f"#delivery-{failed_id} [data-field=retry] button")
    page.keyboard.press("Enter")
    seen["retried"] = wait_for_newest(page, "succeeded")
    seen["after_retry"] = {"rows": len(page.evaluate(DELIVERIES)),
                           "focus": page.evaluate("document.activeElement.id")}

    # rotating shows the new secret once and says the old one stays valid for 24 hours
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#webhook [data-webhook-action=rotate]")
    wait_until(page, "old => { const v = document.getElementById('webhook-secret-value').value;"
                     " return v && v !== old; }", secret, timeout=WAIT_MS)
    seen["rotated"] = {"secret": page.input_value("#webhook-secret-value"),
                       "note": page.inner_text("#webhook-secret-rotated"),
                       "facts": page.inner_text("#webhook-facts")}
    page.click("#webhook-secret-done")

    # disabling moves focus to Enable; the row and the opened endpoint say disabled
    page.focus("#webhook [data-webhook-action=disable]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#webhook[data-status=disabled]", timeout=WAIT_MS)
    page.wait_for_selector("#webhook-action-status[data-kind=ok]", timeout=WAIT_MS)
    seen["disabled"] = {"actions": page.evaluate(ACTIONS),
                        "focus": page.evaluate("document.activeElement.textContent"),
                        "row": row(page, webhook_id), "facts": page.inner_text("#webhook-facts")}

    # an endpoint disabled over the API shows disabled from its event; deleting it asks, and takes it off
    assert api(base_url, key, "PATCH", f"/webhooks/{earlier['id']}", {"enabled": False}).status_code == 200
    page.locator(f"#webhook-{earlier['id']}[data-status=disabled]").wait_for(timeout=WAIT_MS)
    seen["disabled_elsewhere"] = row(page, earlier["id"])
    page.click(f"#webhook-{earlier['id']} .open-campaign")
    page.wait_for_selector(f"#webhook[data-webhook-id='{earlier['id']}']", timeout=WAIT_MS)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#webhook [data-webhook-action=delete]")
    page.locator(f"#webhook-{earlier['id']}").wait_for(state="detached", timeout=WAIT_MS)
    seen["deleted"] = {"status": page.inner_text("#webhooks-status"),
                       "detail_hidden": page.locator("#webhook").is_hidden(),
                       "focus": page.evaluate("document.activeElement.id"),
                       "read": api(base_url, key, "GET", f"/webhooks/{earlier['id']}").status_code}
    seen["api"] = api(base_url, key, "GET", f"/webhooks/{webhook_id}").json()
    seen["ids"] = {"failed": failed_id}
    seen["problems"] = problems
    return seen


@pytest.mark.django_db(transaction=True)
def test_an_admin_creates_a_webhook_sees_its_secret_once_tests_retries_rotates_and_disables_it(
    tmp_path, workspace_admin, admin_key
):
    with (running_receiver([]) as receiver, running_server(tmp_path, env=ENV) as server,
          running_sender_process(tmp_path)):
        seen = in_browser(work_with_webhooks, server.url, workspace_admin.username, admin_key.key, receiver,
                          timeout=120)

    assert seen["earlier_row"] == {"url": "http://127.0.0.1:9/earlier", "description": "Made over the API",
                                   "events": "All", "status": "Enabled",
                                   "created": seen["earlier_row"]["created"]}
    assert "must start with https:// or http://" in seen["invalid"]["message"]
    assert seen["invalid"]["marked"] == "true" and seen["invalid"]["focus"] == "webhook-url"
    assert seen["invalid"]["rows"] == 1
    created = seen["created"]
    assert created["secret"].startswith("whsec_") and created["secret"] == seen["copied"]
    assert "will not be shown again" in created["box"] and created["focus"] == "webhook-secret-title"
    assert created["row"]["events"] == "call-ended, webhook-status-changed"
    assert created["row"]["status"] == "Enabled" and created["row"]["description"] == "The test receiver"
    assert created["opened"] == created["id"] and created["title"] == receiver.url
    assert created["actions"] == ["Send test event", "Disable", "Rotate secret", "Delete webhook"]
    assert created["marked"] is None and created["form_closed"]
    assert seen["done"] == {"hidden": True, "value": "", "focus": "webhook-title"}
    assert seen["reloaded"]["secret_shown"] is False and seen["reloaded"]["box_hidden"]
    # the test event: shown at once, then delivered
    assert seen["test_sent"]["event"] == "webhook-test"
    delivered = seen["test_delivered"]
    assert delivered["attempts"] == "1" and delivered["response"] == "200" and delivered["error"] == ""
    assert delivered["next"].startswith("Delivered") and seen["test_retry_hidden"]
    # the failing receiver: retried once, then failed, with its answer
    assert seen["retrying"]["attempts"] == "1" and seen["retrying"]["response"] == "500"
    assert seen["retrying"]["next"].startswith("Next")
    assert seen["failed"]["attempts"] == "2" and seen["failed"]["response"] == "500"
    assert seen["failed"]["error"] != "" and seen["failed"]["next"] == "\N{EN DASH}"
    # retried: the same delivery, a third attempt, delivered; focus left the Retry that went
    assert seen["retried"]["attempts"] == "3" and seen["retried"]["response"] == "200"
    assert seen["after_retry"] == {"rows": 2, "focus": "deliveries-title"}
    # every request was signed with the secret shown; the failed event came three times, one id
    assert receiver.unverified == []
    ids = receiver.event_ids()
    assert len(ids) == 4 and ids[1] == ids[2] == ids[3] != ids[0]
    assert seen["rotated"]["secret"].startswith("whsec_") and seen["rotated"]["secret"] != created["secret"]
    assert "stays valid until" in seen["rotated"]["note"] and "24 hours" in seen["rotated"]["note"]
    assert "Previous secret signs until" in seen["rotated"]["facts"]
    assert seen["disabled"]["actions"] == ["Enable", "Rotate secret", "Delete webhook"]
    assert seen["disabled"]["focus"] == "Enable" and seen["disabled"]["row"]["status"] == "Disabled (manual)"
    assert "disabled by a user" in seen["disabled"]["facts"]
    assert seen["disabled_elsewhere"]["status"] == "Disabled (manual)"
    assert seen["deleted"]["detail_hidden"] and seen["deleted"]["read"] == 404
    assert seen["deleted"]["focus"] == "webhooks-title" and "Deleted" in seen["deleted"]["status"]
    assert seen["api"]["enabled"] is False and seen["api"]["disabled_reason"] == "manual"
    assert seen["problems"] == []


def visit_as_a_member(page, base_url: str, username: str) -> dict:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, base_url, username)
    seen = {"link": page.locator("#nav-webhooks").count()}
    response = page.goto(f"{base_url}/dashboard/webhooks/")
    page.wait_for_selector("#connection[data-state=live]")
    seen["status"] = response.status
    seen["text"] = page.inner_text("main")
    seen["controls"] = page.evaluate(
        "document.querySelectorAll('#webhook-form, [data-webhook-action], #deliveries, #webhooks').length")
    # the API answers the member's session as the page does
    seen["api"] = page.evaluate("fetch('/api/v1/webhooks', {headers: {'X-Workspace': 'acme'}})"
                                ".then(r => r.json().then(body => [r.status, body.error.code]))")
    seen["problems"] = problems
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_member_gets_no_link_and_no_admin_controls(tmp_path, teammate):
    with running_server(tmp_path, env=ENV) as server:
        seen = in_browser(visit_as_a_member, server.url, teammate.username)

    assert seen["link"] == 0
    assert seen["status"] == 403 and "for the workspace's owners and admins" in seen["text"]
    assert seen["controls"] == 0
    assert seen["api"][0] == 403
    assert seen["problems"] == []


def watch_a_delivery_being_sent(page, base_url: str, username: str, key: str, webhook_id: str) -> dict:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    open_webhooks_page(page, base_url, username)
    page.click(f"#webhook-{webhook_id} .open-campaign")
    page.wait_for_selector("#deliveries tr[data-delivery-id][data-in-flight=true]", timeout=WAIT_MS)
    seen = {"row": newest_delivery(page),
            "retry_hidden": page.locator("#deliveries tr[data-delivery-id] button").is_hidden()}
    seen["problems"] = problems
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_delivery_being_sent_shows_sending_and_offers_no_retry(tmp_path, workspace_admin, admin_key):
    # given a failed delivery whose retry a sender has just claimed (its attempt under way)
    from django.utils import timezone

    from webhooks import claims
    from webhooks.models import WebhookDelivery

    with running_server(tmp_path, env=ENV) as server:
        webhook = api(server.url, admin_key.key, "POST", "/webhooks", {"url": "http://127.0.0.1:9/hook"}).json()
        api(server.url, admin_key.key, "POST", f"/webhooks/{webhook['id']}/test")
        WebhookDelivery.objects.update(status="retrying", attempts=1)
        assert len(claims.claim(limit=1, in_flight={}, finished={}, now=timezone.now()).jobs) == 1

        # when an admin opens its log
        seen = in_browser(watch_a_delivery_being_sent, server.url, workspace_admin.username, admin_key.key,
                          webhook["id"])

    # then it shows as being sent, with no due time and no Retry (the API would refuse it)
    assert seen["row"]["status"] == "sending" and seen["row"]["attempts"] == "2"
    assert seen["row"]["next"] == "\N{EN DASH}" and seen["retry_hidden"]
    assert seen["problems"] == []
