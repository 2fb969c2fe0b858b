"""The workspace stream with Pushpin in front (REALTIME_FRONT=pushpin,
docs/architecture.md "Pushpin in front"): a real Pushpin holds the stream, a
real uvicorn answers its opening and next-link requests, and this process's
relay publishes each committed event to Pushpin, as a service's would."""

import secrets
import time
from contextlib import contextmanager

import httpx
import jwt
import pytest

from project.testing import PUSHPIN_TEST_SIG_KEY, running_server
from realtime import grip, held, relay
from realtime.connection import StreamFilters
from realtime.emit import emit
from realtime.models import PendingPublish
from realtime.tests.streaming import (
    CAMPAIGN,
    TRANSCRIPT,
    WAIT,
    CallStandIn,
    call_status,
    emit_exports,
    emit_marker,
    error_of,
    ids,
    open_stream,
    unreachable_redis_url,
    without_control,
)
from workspaces import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@contextmanager
def pushpin_in_front(tmp_path, settings, env: dict | None = None):
    """uvicorn behind a real Pushpin, and this process's relay publishing to it."""
    with running_server(tmp_path, server="pushpin", env=env) as server:
        settings.REALTIME_FRONT = "pushpin"
        settings.GRIP_PUBLISH_URL = server.publish_url
        settings.GRIP_SIG_KEY = PUSHPIN_TEST_SIG_KEY
        yield server


def grip_sig(key: str = PUSHPIN_TEST_SIG_KEY) -> str:
    return jwt.encode({"iss": "pushpin", "exp": int(time.time()) + 60}, key, algorithm="HS256")


def test_through_pushpin_a_stream_gets_connected_then_each_event_committed_after_it(tmp_path, settings,
                                                                                   workspace, read_key):
    # given a stream held by Pushpin
    with pushpin_in_front(tmp_path, settings) as server, open_stream(server, key=read_key.key) as stream:
        # when events commit after `connected`
        emitted = emit_exports(workspace, 3)
        received = without_control(stream.until_id(3))

    # then they arrive once each, in order, with their cursors
    assert stream.connected.data["data"]["resumed"] is False
    assert stream.response.headers["content-type"] == "text/event-stream"
    assert ids(received) == [1, 2, 3]
    assert [event.data for event in received] == emitted


def test_a_client_resuming_through_pushpin_gets_exactly_the_missed_events_then_live_ones(tmp_path, settings,
                                                                                        workspace, read_key):
    # Pages of 2 cursors: the 40 missed events take several answers (realtime/held.py).
    with pushpin_in_front(tmp_path, settings, env={"REALTIME_REPLAY_BATCH": "2"}) as server:
        # given a client that read three events and went away while 40 more committed
        with open_stream(server, key=read_key.key) as first:
            emit_exports(workspace, 3)
            last_seen = first.until_id(3)[-1].id
        missed = emit_exports(workspace, 40)

        # when it comes back with Last-Event-ID, and after the replay an event commits
        with open_stream(server, key=read_key.key, headers={"Last-Event-ID": last_seen}) as second:
            replayed = second.until_id(43)
            live = emit_exports(workspace, 1)
            after_replay = second.until_id(44)

    # then
    assert second.connected.data["data"]["resumed"] is True
    assert ids(replayed) == list(range(4, 44))
    assert [event.data for event in without_control(replayed)] == missed
    assert [event.event for event in replayed if event.id is None] == []
    assert [(event.id, event.data) for event in without_control(after_replay)] == [("44", live[0])]


def test_filtered_streams_get_only_their_events_and_the_empty_items_keep_the_chain(tmp_path, settings,
                                                                                  workspace, read_key):
    ava, bob = CallStandIn("call_a", "ava"), CallStandIn("call_b", "bob")
    by_type = {"event_types": "campaign-status-changed"}
    with pushpin_in_front(tmp_path, settings) as server, \
            open_stream(server, key=read_key.key, params=by_type) as campaigns, \
            open_stream(server, key=read_key.key, params={"agent": "ava"}) as agents:
        # when events of every kind commit, most of them unwanted by each stream, and
        # a call event that neither subscribed to (Pushpin's require-sub drops it)
        for _ in range(3):
            emit_exports(workspace, 2)
            emit(workspace, "campaign-status-changed", CAMPAIGN)
            emit(workspace, "call-status", call_status(ava.pk), call=ava)
            emit(workspace, "call-status", call_status(bob.pk), call=bob)
            emit(workspace, "call-transcript", TRANSCRIPT, call=ava)
        last_campaign = emit(workspace, "campaign-status-changed", CAMPAIGN)
        last_ava = emit(workspace, "call-status", call_status(ava.pk), call=ava)
        campaign_events = campaigns.until_event(last_campaign)
        agent_events = agents.until_event(last_ava)

    # then each got its own events only, and no gap was ever seen (no lag-warning:
    # the items a stream does not want still advanced its chain)
    assert [event.event for event in campaign_events] == ["campaign-status-changed"] * 4
    assert ids(campaign_events) == [3, 9, 15, 19]
    assert [event.event for event in agent_events] == ["call-status"] * 4
    assert ids(agent_events) == [4, 10, 16, 20]


def test_an_event_pushpin_never_got_is_recovered_from_the_database_with_lag_warning_first(tmp_path, settings,
                                                                                        workspace, read_key):
    with pushpin_in_front(tmp_path, settings) as server, open_stream(server, key=read_key.key) as stream:
        emit_exports(workspace, 1)
        stream.until_id(1)
        # given an event whose publish to Pushpin failed (it stays in the outbox)
        publish_url = settings.GRIP_PUBLISH_URL
        settings.GRIP_PUBLISH_URL = unreachable_redis_url().replace("redis://", "http://") + "publish/"
        lost = emit_exports(workspace, 1)
        assert PendingPublish.objects.filter(workspace=workspace).count() == 1
        settings.GRIP_PUBLISH_URL = publish_url

        # when the next event reaches Pushpin, which sees the gap in the ids
        following = emit_marker(workspace)
        recovered = stream.until_event(following)

        # and when the sweeper publishes the missed event again, then another commits
        assert relay.sweep_unpublished(grace_seconds=0) == 1
        last = emit_marker(workspace)
        after = stream.until_event(last)

    # then the stream says it fell behind, then gets the missed event and the next,
    # and nothing a second time. (Pushpin's sequencer held the next event up to 5 s
    # waiting for the missing one, and releases it late, so the stream may recover
    # once more: what it gets then is control events only and the new event.)
    assert [event.event for event in recovered] == [
        "lag-warning", "data-export-status", "campaign-status-changed"]
    assert recovered[0].data["data"]["pending"] == 2
    assert [event.data for event in recovered[1:]] == [lost[0], following]
    assert ids(recovered) == [2, 3]
    assert [(event.event, event.id) for event in without_control(after)] == [("campaign-status-changed", "4")]


def test_without_grip_sig_the_stream_is_served_in_process(tmp_path, settings, workspace, read_key):
    with pushpin_in_front(tmp_path, settings) as server:
        direct = type(server)(url=server.origin_url, process=server.process, log_path=server.log_path)
        # given a client that reaches the web process itself, not through Pushpin
        with open_stream(direct, key=read_key.key) as stream:
            # when an event commits
            emitted = emit_exports(workspace, 1)
            received = stream.until_id(1)

    # then it is streamed as without Pushpin, with no GRIP instruction in sight
    assert not any(name.lower().startswith("grip-") for name in stream.response.headers)
    assert [event.data for event in without_control(received)] == emitted


def test_the_next_link_answers_only_pushpin_and_only_links_we_signed(tmp_path, settings, workspace, read_key):
    with pushpin_in_front(tmp_path, settings) as server:
        link = grip.Link(client_id="cd" * 16, workspace_id=str(workspace.pk),
                         subject_id=f"key:{read_key.api_key.pk}", view=grip.View(StreamFilters()),
                         ends_at=time.time() + 60)
        next_url = server.origin_url + link.url()
        grip_last = {"Grip-Last": f"cb.v.{workspace.pk}.all; last-id=0"}
        # when someone other than Pushpin follows a valid link
        unsigned = httpx.get(next_url, headers=grip_last, timeout=WAIT)
        forged_sig = httpx.get(next_url, headers={"Grip-Sig": grip_sig("not-the-key-but-as-long-as-one-0123"),
                                                  **grip_last}, timeout=WAIT)
        # and when Pushpin brings a token we did not sign
        forged = httpx.get(server.origin_url + grip.NEXT_PATH + "e30:1xajDK:forged", timeout=WAIT,
                           headers={"Grip-Sig": grip_sig(), **grip_last})
        # and when the link is real but the key behind it was revoked
        services.api_key_revoke(workspace=workspace, key_id=read_key.api_key.pk)
        revoked = httpx.get(next_url, timeout=WAIT, headers={"Grip-Sig": grip_sig(), **grip_last})

    # then
    assert unsigned.status_code == forged_sig.status_code == 403
    assert error_of(unsigned)["code"] == "grip_signature_required"
    assert forged.status_code == 200 and "grip-hold" not in forged.headers
    assert forged.text.startswith("event: shutdown\n")
    assert revoked.status_code == 200 and "grip-hold" not in revoked.headers
    assert revoked.text.startswith("event: stream-closed\n") and '"reason":"access-revoked"' in revoked.text


def test_the_next_link_ends_a_stream_past_its_life_or_recovering_without_end(tmp_path, settings, workspace,
                                                                          read_key):
    with pushpin_in_front(tmp_path, settings) as server:
        emit_exports(workspace, 1)  # published: Pushpin has cursor 1

        def follow(ends_at: float, client_id: str) -> httpx.Response:
            link = grip.Link(client_id=client_id, workspace_id=str(workspace.pk),
                             subject_id=f"key:{read_key.api_key.pk}", view=grip.View(StreamFilters()),
                             ends_at=ends_at)
            return httpx.get(server.origin_url + link.url(), timeout=WAIT, headers={
                "Grip-Sig": grip_sig(), "Grip-Last": f"cb.v.{workspace.pk}.all; last-id=0"})

        # when a stream's link is followed past the stream's end
        expired = follow(time.time() - 1, secrets.token_hex(16))
        # and when one stream asks to recover the same gap again and again
        attempts, client_id = held.MAX_RECOVERIES_PER_MINUTE + 1, secrets.token_hex(16)
        recoveries = [follow(time.time() + 60, client_id) for _ in range(attempts)]

    # then the first ends with shutdown (the client resumes from its cursor), no hold
    assert expired.status_code == 200 and "grip-hold" not in expired.headers
    assert expired.text.startswith("event: shutdown\n")
    # and each recovery replays the gap behind lag-warning, until the stream is ended
    assert all(response.headers.get("grip-hold") == "stream" for response in recoveries[:-1])
    assert recoveries[0].text.startswith("event: lag-warning\n") and "\nid: 1\n" in "\n" + recoveries[0].text
    assert recoveries[-1].status_code == 200 and recoveries[-1].text == ""
    assert "grip-hold" not in recoveries[-1].headers and "grip-link" not in recoveries[-1].headers
