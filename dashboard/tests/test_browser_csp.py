"""The Content-Security-Policy breaks nothing: the dashboard and the webhooks page
go live (their modules, fetches and EventSource), the API docs (Swagger UI) draw, and the admin's
pages and scripts work, with no violation reported by the browser."""

import re

import pytest

from conftest import PASSWORD
from dashboard.tests.browser import INGEST_ENV, in_browser, needs_chromium, sign_in
from project.testing import running_server

pytestmark = [pytest.mark.e2e, needs_chromium]


def visit_every_kind_of_page(page, base_url: str, username: str, staff: str, workspace_id: str) -> dict:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    seen = {}

    sign_in(page, base_url, username)  # waits until the stream is live and the state drawn
    seen["dashboard_policy"] = bool(page.evaluate(
        "fetch('/dashboard/').then(r => r.headers.get('content-security-policy'))"))
    page.goto(f"{base_url}/dashboard/webhooks/")  # its modules, and the one it imports on demand
    page.wait_for_selector("#connection[data-state=live]")
    page.wait_for_selector("#webhooks .empty-row:not(:empty)")
    seen["webhooks_policy"] = bool(page.evaluate(
        "fetch('/dashboard/webhooks/').then(r => r.headers.get('content-security-policy'))"))

    page.goto(f"{base_url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    page.wait_for_selector(".opblock")  # the operations, drawn from the OpenAPI document
    seen["docs_title"] = page.inner_text(".swagger-ui .info .title")

    context = page.context
    context.clear_cookies()
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", staff)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/$"))
    page.goto(f"{base_url}/admin/workspaces/workspace/{workspace_id}/change/")
    page.wait_for_selector("#membership_set-group, .inline-group")
    page.goto(f"{base_url}/admin/workspaces/workspace/")
    page.check("#action-toggle")  # the admin's own script selects every row
    seen["rows_selected"] = page.inner_text(".action-counter")
    seen["problems"] = problems
    return seen


@pytest.mark.django_db(transaction=True)
def test_the_policy_breaks_neither_the_dashboard_nor_the_docs_nor_the_admin(
    tmp_path, owner, workspace, django_user_model
):
    staff = django_user_model.objects.create_superuser("sam-staff", "sam@example.com", PASSWORD)

    with running_server(tmp_path, env=INGEST_ENV) as server:
        seen = in_browser(visit_every_kind_of_page, server.url, owner.username, staff.username,
                          str(workspace.pk))

    assert seen["problems"] == []
    assert seen["dashboard_policy"] and seen["webhooks_policy"]
    assert seen["docs_title"].startswith("Callboard")
    assert seen["rows_selected"].startswith("1 of 1") or "selected" in seen["rows_selected"]
