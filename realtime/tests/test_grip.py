"""The pure parts of the Pushpin front (realtime/grip.py): which requests are
Pushpin's, views and their channels, the next link's token, what a relay batch
publishes; and the relay's publish when Pushpin cannot be reached."""

import json
import time

import jwt
import pytest
from django.core import signing
from gripcontrol import HttpStreamFormat
from pubcontrol import Item

from project.redis_client import get_redis
from realtime import grip, relay
from realtime.channels import grip_published_key, grip_views_key
from realtime.connection import StreamFilters
from realtime.emit import emit
from realtime.models import PendingPublish
from realtime.tests.streaming import CAMPAIGN, call_status, export_status, unreachable_redis_url
from realtime.wire import Delivery, encode_event

KEY = "a-grip-signing-key-long-enough-for-hs512-too-0123456789abcdefghij"


@pytest.fixture
def pushpin_settings(settings):
    settings.REALTIME_FRONT = "pushpin"
    settings.GRIP_SIG_KEY = KEY
    settings.GRIP_PUBLISH_URL = "http://127.0.0.1:9/publish/"
    return settings


def grip_sig(*, key: str = KEY, iss: str = "pushpin", expires_in: float = 60, algorithm="HS256") -> str:
    return jwt.encode({"iss": iss, "exp": int(time.time() + expires_in)}, key, algorithm=algorithm)


def delivery(seq, type="data-export-status", *, audience="workspace", call_id=None, agent=None) -> Delivery:
    return Delivery(seq=seq, ts=0.0, type=type, audience=audience, call_id=call_id, agent=agent,
                    envelope_json=b'{"type":"%s"}' % type.encode())


def test_only_a_current_signature_of_pushpin_with_our_key_is_pushpins(pushpin_settings):
    assert grip.signed_by_pushpin(grip_sig())
    assert not grip.signed_by_pushpin(None)
    assert not grip.signed_by_pushpin("not-a-jwt")
    assert not grip.signed_by_pushpin(grip_sig(key="another-key-of-at-least-32-characters!"))
    assert not grip.signed_by_pushpin(grip_sig(iss="someone"))
    assert not grip.signed_by_pushpin(grip_sig(expires_in=-5))
    assert not grip.signed_by_pushpin(jwt.encode({"iss": "pushpin"}, KEY, algorithm="HS256"))  # no exp
    assert not grip.signed_by_pushpin(jwt.encode({"iss": "pushpin", "exp": int(time.time()) + 60}, KEY,
                                                 algorithm="HS512"))


def test_a_signature_means_nothing_when_pushpin_is_not_in_front(settings):
    settings.REALTIME_FRONT = "inprocess"
    settings.GRIP_SIG_KEY = KEY
    assert not grip.signed_by_pushpin(grip_sig())


def test_a_view_is_named_by_its_filters_whatever_their_order_and_all_when_there_are_none():
    # given
    unfiltered = grip.View(StreamFilters())
    one = grip.View(StreamFilters(event_types=frozenset({"call-status", "balance-updated"}), agent="ava"))
    same = grip.View(StreamFilters(event_types=frozenset({"balance-updated", "call-status"}), agent="ava"))
    other = grip.View(StreamFilters(event_types=frozenset({"call-status"}), agent="ava"))

    # then
    assert unfiltered.name == "all"
    assert one.name == same.name != other.name
    assert len(one.name) == 16
    assert grip.View.from_spec(one.spec) == one
    assert grip.View.from_spec(unfiltered.spec) == unfiltered
    assert one.channel("ws-1") == f"cb.v.ws-1.{one.name}"


def test_each_event_is_one_item_per_view_chained_on_its_cursor_with_content_only_where_wanted():
    # given an unfiltered view and one for campaign events only
    everything = grip.View(StreamFilters())
    campaigns = grip.View(StreamFilters(event_types=frozenset({"campaign-status-changed"})))
    events = [delivery(7), delivery(8, "campaign-status-changed")]

    # when
    items = grip.items_for("ws", events, [everything, campaigns])

    # then
    assert [(item["channel"], item["id"], item["prev-id"]) for item in items] == [
        ("cb.v.ws.all", "7", "6"), (campaigns.channel("ws"), "7", "6"),
        ("cb.v.ws.all", "8", "7"), (campaigns.channel("ws"), "8", "7"),
    ]
    contents = [item["formats"]["http-stream"]["content"] for item in items]
    assert contents == [events[0].sse_frame().decode(), "", events[1].sse_frame().decode(),
                        events[1].sse_frame().decode()]
    # the same item gripcontrol's builders make
    assert items[0] == {"channel": "cb.v.ws.all", **Item(HttpStreamFormat(contents[0]), id="7",
                                                          prev_id="6").export(formats_field=True)}


def test_a_call_event_passes_only_streams_holding_its_call_and_an_ephemeral_one_is_not_published():
    everything = grip.View(StreamFilters())
    call_event = delivery(3, "call-status", audience="call", call_id="call_1")
    interim = delivery(None, "call-interim", audience="call", call_id="call_1")

    items = grip.items_for("ws", [call_event, interim], [everything])

    assert items == [{"channel": "cb.v.ws.all", "id": "3", "prev-id": "2",
                      "meta": {"require_sub": "cb.s.call_1"},
                      "formats": {"http-stream": {"content": call_event.sse_frame().decode()}}}]


def test_a_publish_is_cut_into_bodies_pushpin_accepts_keeping_the_order():
    items = [{"channel": "c", "id": str(n), "formats": {"http-stream": {"content": "x" * 100_000}}}
             for n in range(12)]

    bodies = list(grip._bodies(items))

    assert len(bodies) > 1
    assert all(len(body) <= grip.PUBLISH_MAX_BYTES + 1024 for body in bodies)
    sent = [item["id"] for body in bodies for item in json.loads(body)["items"]]
    assert sent == [str(n) for n in range(12)]


def test_a_link_token_holds_the_stream_and_cannot_be_forged():
    # given
    link = grip.Link(client_id="ab" * 16, workspace_id="ws-1", subject_id="key:1",
                     view=grip.View(StreamFilters(agent="ava")), ends_at=1234.5, after=40)

    # when
    token = link.token()
    read = grip.read_link(token)

    # then
    assert read == link
    assert link.url() == grip.NEXT_PATH + token
    assert grip.read_link(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    assert grip.read_link(signing.dumps({"c": "x", "w": "other", "s": "key:2", "v": "{}", "e": 1})) is None
    assert grip.read_link("x" * (grip.MAX_TOKEN_LENGTH + 1)) is None
    assert grip.read_link(None) is None


def test_grip_last_names_the_last_id_of_our_channel_only():
    header = "cb.v.ws.other; last-id=9, cb.v.ws.all; last-id=41"
    assert grip.last_id(header, "cb.v.ws.all") == 41
    assert grip.last_id(header, "cb.v.ws.missing") is None
    assert grip.last_id("cb.v.ws.all; last-id=4x", "cb.v.ws.all") is None
    assert grip.last_id(None, "cb.v.ws.all") is None


def test_keep_alive_bytes_survive_the_cstring_header_format():
    assert grip.cstring(b'event: keep-alive\ndata: {"a":"b\\\\c"}\n\n') == (
        'event: keep-alive\\ndata: {"a":"b\\\\\\\\c"}\\n\\n')


@pytest.mark.django_db(transaction=True)
def test_when_pushpin_cannot_be_reached_the_outbox_row_stays_for_the_sweeper(pushpin_settings, workspace):
    # given a view held through Pushpin in the workspace, and a publish URL nobody listens on
    pushpin_settings.GRIP_PUBLISH_URL = unreachable_redis_url().replace("redis://", "http://") + "publish/"
    get_redis().zadd(grip_views_key(str(workspace.pk)), {grip.View(StreamFilters()).spec: time.time() + 60})

    # when an event commits
    emit(workspace, "data-export-status", export_status(1))

    # then the relay reported the failure and left the batch to the sweeper
    assert PendingPublish.objects.filter(workspace=workspace).count() == 1


@pytest.mark.django_db(transaction=True)
def test_without_a_held_view_nothing_is_posted_and_the_outbox_row_goes(pushpin_settings, workspace):
    # given Pushpin is unreachable, but no stream of the workspace is held through it
    pushpin_settings.GRIP_PUBLISH_URL = unreachable_redis_url().replace("redis://", "http://") + "publish/"

    # when
    emit(workspace, "campaign-status-changed", CAMPAIGN)
    emit(workspace, "call-status", call_status("call_9"), call="call_9")

    # then
    assert not PendingPublish.objects.filter(workspace=workspace).exists()


def test_the_sweeper_leaves_to_the_streams_an_event_pushpin_has_passed_already(pushpin_settings, workspace):
    # given a held view, Pushpin unreachable, and a later event of the workspace already taken by it
    redis = get_redis()
    workspace_id = str(workspace.pk)
    redis.zadd(grip_views_key(workspace_id), {grip.View(StreamFilters()).spec: time.time() + 60})
    redis.set(grip_published_key(workspace_id), 5)
    pushpin_settings.GRIP_PUBLISH_URL = unreachable_redis_url().replace("redis://", "http://") + "publish/"

    def message(seq):
        return (workspace_id, encode_event(seq=seq, ts=0.0, type="data-export-status", audience="workspace",
                                           call_id=None, agent=None, envelope_body=export_status(seq)))

    # then an older event is not sent again (every held stream fills that gap from the
    # database), while a newer one is, and fails
    assert relay.publish([message(3)], sweeping=True)
    assert not relay.publish([message(6)], sweeping=True)
    # and the relay itself (not sweeping) always sends: its event may be the one
    # Pushpin's sequencer waits for
    assert not relay.publish([message(4)])
