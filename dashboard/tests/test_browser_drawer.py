"""The call drawer in a real browser: opened from the keyboard on a live call, it
subscribes the page's stream connection to the call and shows the caller's
words as they come (the interim replaced by the final), the agent's answer,
the node transition and the tool call; reopened after the call ended, it shows
the recorded timeline."""

import pytest

from dashboard.tests.browser import (
    ACTIVITY,
    INGEST_ENV,
    TRANSCRIPT,
    WAIT_MS,
    in_browser,
    needs_chromium,
    place_call,
    sign_in,
    wait_until,
)
from dashboard.tests.runtime_player import AGENT_LINE, USER_LINE, RuntimePlayer
from project.testing import running_server

pytestmark = [pytest.mark.e2e, needs_chromium]


def follow_a_call(page, base_url: str, username: str, write_key: str, runtime_key: str) -> dict:
    sign_in(page, base_url, username)
    call = place_call(base_url, write_key)
    player = RuntimePlayer(base_url, runtime_key, call["id"])
    player.answer()
    page.wait_for_selector(f"#call-{call['id']}[data-status=in-progress]", timeout=WAIT_MS)

    opener = page.locator(f"#call-{call['id']} .open-call")
    opener.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#drawer[data-ready=true]", timeout=WAIT_MS)
    seen = {
        "focus_in_drawer": page.evaluate("document.activeElement.id"),
        "facts_status": page.inner_text("#drawer-facts [data-fact=status]"),
        "recorded_before_opening": page.evaluate(ACTIVITY),
    }

    player.hear_part_of_the_question()
    page.wait_for_selector("#transcript li.interim[data-role=user]", timeout=WAIT_MS)
    seen["interim"] = page.evaluate(TRANSCRIPT)
    player.converse()
    page.wait_for_selector("#transcript li.final[data-role=agent]", timeout=WAIT_MS)
    wait_until(page, f"{ACTIVITY}.some(text => text.includes('done in 180 ms'))", timeout=WAIT_MS)
    seen["live_transcript"] = page.evaluate(TRANSCRIPT)
    seen["live_activity"] = page.evaluate(ACTIVITY)
    seen["node"] = page.inner_text("#drawer-facts [data-fact=node]")

    page.keyboard.press("Escape")
    seen["closed"] = page.locator("#drawer").is_hidden()
    seen["focus_back"] = page.evaluate("document.activeElement.getAttribute('aria-label')")

    player.hang_up()
    page.wait_for_selector(f"#call-{call['id']}[data-status=completed]", timeout=WAIT_MS)
    opener.click()
    page.wait_for_selector("#drawer[data-ready=true]", timeout=WAIT_MS)
    seen["recorded_transcript"] = page.evaluate(TRANSCRIPT)
    seen["recorded_activity"] = page.evaluate(ACTIVITY)
    seen["ended_facts"] = page.inner_text("#drawer-facts [data-fact=ended-because]")
    seen["ended_node"] = page.inner_text("#drawer-facts [data-fact=node]")
    seen["short_id"] = call["id"][:8]
    return seen


@pytest.mark.django_db(transaction=True)
def test_the_drawer_follows_a_live_call_and_shows_the_record_after_it_ends(
    tmp_path, owner, workspace, write_key, runtime_key
):
    with running_server(tmp_path, env=INGEST_ENV) as server:
        seen = in_browser(follow_a_call, server.url, owner.username, write_key.key, runtime_key.key)

    assert seen["focus_in_drawer"] == "drawer-close"
    assert seen["facts_status"] == "in-progress"
    # what happened before the drawer opened comes from the recorded timeline
    assert seen["recorded_before_opening"][-2:] == ["Status ringing", "Status in-progress"]
    assert seen["interim"] == [["user", "interim", "I was charged twice"]]
    final_turn = [["user", "final", USER_LINE], ["agent", "final", AGENT_LINE]]
    assert seen["live_transcript"] == final_turn  # the interims gave way to the finals
    assert seen["live_activity"][-3:] == [
        "Node greeting → billing (intent)",
        "Tool lookup_payments started",
        "Tool lookup_payments done in 180 ms",
    ]
    assert seen["node"] == "billing"
    assert seen["closed"] and seen["focus_back"] == f"Open call {seen['short_id']}"

    assert seen["recorded_transcript"] == final_turn
    assert seen["recorded_activity"][0].startswith("Created")
    assert seen["recorded_activity"][-1].startswith("Ended: customer-hangup")
    assert seen["ended_facts"] == "customer-hangup" and seen["ended_node"] == "billing"


RECORDING_LINKS = (
    "[...document.querySelectorAll('#activity li[data-type=call-recording]')]"
    ".map(li => li.querySelector('a')?.getAttribute('href') ?? null)"
)


def recording_links(page, base_url: str, username: str, write_key: str, runtime_key: str,
                    urls: list[str]) -> list[str | None]:
    sign_in(page, base_url, username)
    call = place_call(base_url, write_key)
    player = RuntimePlayer(base_url, runtime_key, call["id"])
    player.answer()
    for url in urls:
        player.send("call-recording", {"recording_status": "available", "recording_url": url})
    page.wait_for_selector(f"#call-{call['id']}[data-status=in-progress]", timeout=WAIT_MS)
    page.locator(f"#call-{call['id']} .open-call").click()
    page.wait_for_selector("#drawer[data-ready=true]", timeout=WAIT_MS)
    return page.evaluate(RECORDING_LINKS)


@pytest.mark.django_db(transaction=True)
def test_a_recording_url_is_a_link_only_when_it_is_a_path_of_ours_or_https(
    tmp_path, owner, workspace, write_key, runtime_key
):
    # given a runtime reporting recordings at these addresses
    urls = ["//evil.example/x", "/\\evil.example/x", "javascript:alert(1)", "http://evil.example/x",
            "https://recordings.example.com/1.mp3", "/api/v1/calls/recording.mp3"]

    # when the call's drawer shows them
    with running_server(tmp_path, env=INGEST_ENV) as server:
        links = in_browser(recording_links, server.url, owner.username, write_key.key,
                           runtime_key.key, urls)

    # then only the https address and the path of this site are links
    assert links == [None, None, None, None, "https://recordings.example.com/1.mp3",
                     "/api/v1/calls/recording.mp3"]
