"""The dashboard across a server restart, and between workspaces, in a real browser.

Restart: the page's daphne stops (graceful: `shutdown`, then close) while a
call is open in the drawer; the call moves on and another call starts through
a second server; daphne starts again on the same port. The page must come
back by itself, resume from its cursor (no second read of the calls list),
and show every change exactly once.

Isolation: a user of another workspace watches their own dashboard while
calls run in ours; none of ours shows, and asking for our workspace is a 404.
"""

import pytest

from dashboard.tests.browser import (
    ACTIVITY,
    ENDED,
    INGEST_ENV,
    SIMULATED_ENV,
    TRANSCRIPT,
    WAIT_MS,
    in_browser,
    needs_chromium,
    place_call,
    sign_in,
    wait_until,
)
from dashboard.tests.runtime_player import AGENT_LINE, USER_LINE, RuntimePlayer
from project.local_redis import free_loopback_port
from project.testing import running_server, running_worker

ROWS = "[...document.querySelectorAll('#calls tr[data-call-id]')].map(row => row.dataset.callId)"
RECONNECT_MS = 20_000  # the page's own back-off (at most 5 s a try) plus daphne's start

pytestmark = [pytest.mark.e2e, needs_chromium]


def survive_a_restart(page, tmp_path, api_url: str, username: str, write_key: str, runtime_key: str) -> dict:
    port = free_loopback_port()
    page_url = f"http://127.0.0.1:{port}"
    list_reads = []
    seen = {}
    with running_server(tmp_path, env=INGEST_ENV, server="daphne", port=port):
        sign_in(page, page_url, username)
        first = place_call(api_url, write_key)
        first_player = RuntimePlayer(api_url, runtime_key, first["id"])
        first_player.answer()
        page.wait_for_selector(f"#call-{first['id']}[data-status=in-progress]", timeout=WAIT_MS)
        page.click(f"#call-{first['id']} .open-call")
        page.wait_for_selector("#drawer[data-ready=true]", timeout=WAIT_MS)
        page.on("request", lambda request: "/api/v1/calls?" in request.url and list_reads.append(request.url))

    page.wait_for_selector("#connection:not([data-state=live])", timeout=WAIT_MS)
    seen["while_down"] = page.get_attribute("#connection", "data-state")
    # while the page's server is away, through the other one
    first_player.converse()
    second = place_call(api_url, write_key)
    RuntimePlayer(api_url, runtime_key, second["id"]).answer()

    with running_server(tmp_path, env=INGEST_ENV, server="daphne", port=port):
        page.wait_for_selector("#connection[data-state=live]", timeout=RECONNECT_MS)
        page.wait_for_selector(f"#call-{second['id']}[data-status=in-progress]", timeout=WAIT_MS)
        page.wait_for_selector(
            "#drawer[data-ready=true] #transcript li.final[data-role=agent]", timeout=WAIT_MS
        )
        first_player.hang_up()
        third = place_call(api_url, write_key)
        page.wait_for_selector(f"#call-{third['id']}", timeout=WAIT_MS)
        wait_until(page,
            f"{ACTIVITY}.some(text => text.startsWith('Ended'))"
            f" && {ENDED}.includes(document.getElementById('call-{first['id']}').dataset.status)",
            timeout=WAIT_MS,
        )
        seen.update(
            rows=page.evaluate(ROWS),
            statuses=page.evaluate(
                "[...document.querySelectorAll('#calls tr[data-call-id]')].map(row => row.dataset.status)"
            ),
            transcript=page.evaluate(TRANSCRIPT),
            activity=page.evaluate(ACTIVITY),
            active=page.inner_text("#active-calls"),
            list_reads=list_reads,
            calls=[third["id"], second["id"], first["id"]],
        )
    return seen


@pytest.mark.django_db(transaction=True)
def test_the_page_resumes_after_a_daphne_restart_with_nothing_missing_or_doubled(
    tmp_path, owner, workspace, write_key, runtime_key
):
    with running_server(tmp_path, env=INGEST_ENV) as api_server:
        seen = in_browser(
            survive_a_restart, tmp_path, api_server.url, owner.username, write_key.key, runtime_key.key
        )

    assert seen["while_down"] in {"reconnecting", "offline"}
    assert seen["rows"] == seen["calls"]  # each call once, newest first
    assert seen["statuses"] == ["queued", "in-progress", "completed"]
    assert seen["active"] == "2"
    assert seen["list_reads"] == []  # resumed from its cursor, not re-read
    # said while the server was down, shown once after it came back
    assert seen["transcript"] == [["user", "final", USER_LINE], ["agent", "final", AGENT_LINE]]
    assert seen["activity"].count("Status in-progress") == 1
    assert sum(text.startswith("Ended") for text in seen["activity"]) == 1


def look_from_another_workspace(
    page, base_url: str, outsider: str, ours: str, our_key: str, their_key: str
) -> dict:
    sign_in(page, base_url, outsider)
    foreign = place_call(base_url, our_key)
    own = place_call(base_url, their_key)
    wait_until(page,
        f"{ENDED}.includes(document.getElementById('call-{own['id']}')?.dataset.status)", timeout=60_000
    )
    subscribe = page.evaluate(
        """async (id) => {
            const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const response = await fetch(`/api/v1/calls/${id}/subscribe`, {
                method: "POST", headers: {"X-CSRFToken": csrf, "Content-Type": "application/json"},
                body: JSON.stringify({client_id: "anything"}),
            });
            return response.status;
        }""",
        foreign["id"],
    )
    seen = {
        "rows": page.evaluate(ROWS),
        "own": own["id"],
        "foreign_status": page.evaluate(
            "async id => (await fetch(`/api/v1/calls/${id}`)).status", foreign["id"]
        ),
        "subscribe_status": subscribe,
    }
    seen["switch_status"] = page.goto(f"{base_url}/dashboard/?workspace={ours}").status
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_user_of_another_workspace_sees_none_of_ours(
    tmp_path, workspace, outsider, write_key, outsider_key
):
    with running_server(tmp_path, env=SIMULATED_ENV) as server, running_worker(tmp_path, env=SIMULATED_ENV):
        seen = in_browser(
            look_from_another_workspace,
            server.url,
            outsider.username,
            workspace.slug,
            write_key.key,
            outsider_key.key,
        )

    assert seen["rows"] == [seen["own"]]
    assert seen["foreign_status"] == 404
    assert seen["subscribe_status"] == 404
    assert seen["switch_status"] == 404
