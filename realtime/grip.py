"""GRIP, for REALTIME_FRONT=pushpin: the pieces that hold no connection.

Pushpin holds the SSE connections. Django answers the opening request (and
Pushpin's later "next link" requests) with GRIP headers naming the channel to
hold, and the relay publishes every committed event to Pushpin. Here: which
requests come from Pushpin (`signed_by_pushpin`), the view a stream's
filters make and its channel, the signed token of a stream's next link, the
headers of a hold, and the items one relay batch publishes
(docs/architecture.md "Pushpin in front").

One channel per view (filter set) of a workspace, not per event type or per
agent: every persisted event of the workspace goes on every active view's
channel, as its SSE frame when the view wants it and as empty content when
not, so each channel's ids are the workspace's cursors with no holes and each
item's `prev-id` is its cursor minus one. Pushpin then notices any item a
stream did not get (a drop, a publish that overtook another) and asks the
next link to fill the gap from the database.
"""

import hashlib
import json
import threading
import time
from dataclasses import dataclass

import httpx
import jwt
from django.conf import settings
from django.core import signing

from project.redis_client import get_redis
from realtime.catalogue import Audience
from realtime.channels import grip_call_marker, grip_published_key, grip_view_channel, grip_views_key
from realtime.connection import StreamFilters
from realtime.wire import Delivery, decode

# A held stream's next link is NEXT_PATH + its token: in the path, not the query,
# because Pushpin shares one next-link request among sessions whose link has the
# same path and the same Grip-Last (its "auto-share"); with the token in the
# query, one client's token, principal and access check would answer for every
# stream of the same view at the same cursor. A path per stream also gives each
# its own refresh timer, so streams opened together do not refresh together.
NEXT_PATH = "/api/v1/grip/next/"
_LINK_SALT = "callboard.realtime.grip.next"
# One publish request's body at most: Pushpin refuses bodies over its
# push_in_http_max_body_size (1,000,000 bytes by default).
PUBLISH_MAX_BYTES = 512 * 1024
PUBLISH_TIMEOUT_SECONDS = 2.0
# A token is about 250 characters (signing's URL-safe base64 of compressed JSON).
MAX_TOKEN_LENGTH = 2048


def pushpin_front() -> bool:
    return settings.REALTIME_FRONT == "pushpin"


def signed_by_pushpin(grip_sig: str | None) -> bool:
    """Whether a request's Grip-Sig is Pushpin's: a JWT signed with GRIP_SIG_KEY
    (HS256 only: a key shared with Pushpin, no other algorithm accepted), issued
    by `pushpin`, not expired. Only such a request may be answered with GRIP
    headers: anyone else would receive them as plain headers, or forge a hold."""
    if not grip_sig or not pushpin_front():
        return False
    try:
        jwt.decode(grip_sig, settings.GRIP_SIG_KEY, algorithms=["HS256"], issuer="pushpin",
                   options={"require": ["exp", "iss"]})
    except jwt.PyJWTError:
        return False
    return True


# --- views --------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """A stream's filters as the relay needs them: `spec` (canonical JSON, the
    member of the workspace's view registry) rebuilds them, `name` (a short hash
    of the spec, `all` when unfiltered) names the channel."""

    filters: StreamFilters

    @classmethod
    def from_spec(cls, spec: str) -> "View":
        fields = json.loads(spec)
        types = fields.get("event_types")
        return cls(StreamFilters(event_types=frozenset(types) if types is not None else None,
                                 call_id=fields.get("call_id"), agent=fields.get("agent")))

    @property
    def spec(self) -> str:
        filters = self.filters
        types = sorted(filters.event_types) if filters.event_types is not None else None
        return json.dumps({"event_types": types, "call_id": filters.call_id, "agent": filters.agent},
                          sort_keys=True, separators=(",", ":"))

    @property
    def name(self) -> str:
        if self.filters == StreamFilters():
            return "all"
        return hashlib.sha256(self.spec.encode()).hexdigest()[:16]

    def channel(self, workspace_id: str) -> str:
        return grip_view_channel(workspace_id, self.name)


# --- the next link ------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """What a held stream's next link stands for. It travels in the link's URL
    (Pushpin's next-link requests carry no credentials), signed, so nobody can
    make one for another workspace or principal; the principal's access is
    checked again in the database at every use."""

    client_id: str
    workspace_id: str
    subject_id: str
    view: View
    ends_at: float  # epoch seconds: past it the stream ends with `shutdown`
    after: int | None = None  # a paged replay goes on after this cursor

    def token(self) -> str:
        fields = {"c": self.client_id, "w": self.workspace_id, "s": self.subject_id, "v": self.view.spec,
                  "e": round(self.ends_at, 3)}
        if self.after is not None:
            fields["a"] = self.after
        return signing.dumps(fields, salt=_LINK_SALT, compress=True)

    def url(self) -> str:
        return NEXT_PATH + self.token()


def read_link(token: str | None) -> Link | None:
    """The link a token stands for, or None when it is not one we signed."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        fields = signing.loads(token, salt=_LINK_SALT)
        return Link(client_id=fields["c"], workspace_id=fields["w"], subject_id=fields["s"],
                    view=View.from_spec(fields["v"]), ends_at=float(fields["e"]), after=fields.get("a"))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def last_id(grip_last: str | None, channel: str) -> int | None:
    """The last id Pushpin delivered on `channel`, from its Grip-Last header(s)
    (`<channel>; last-id=<id>`, several joined by commas)."""
    if not grip_last:
        return None
    for entry in grip_last.split(","):
        name, _, params = entry.strip().partition(";")
        if name.strip() != channel:
            continue
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "last-id" and value.isascii() and value.isdigit() and len(value) <= 18:
                return int(value)
    return None


# --- headers of an answer -------------------------------------------------------------


def cstring(data: bytes) -> str:
    """Bytes as Pushpin's `format=cstring` header value reads them back (C escapes)."""
    return (data.decode().replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
            .replace("\t", "\\t"))


def hold_headers(link: Link, *, prev_id: int, keepalive_frame: bytes) -> list[tuple[str, str]]:
    """Hold the stream on the view's channel from `prev_id`, with Pushpin's own
    keep-alive (its bytes fixed here, until the next refresh rebuilds them) and
    the next link, asked again every GRIP_REFRESH_SECONDS and at any gap."""
    channel = link.view.channel(link.workspace_id)
    return [
        ("Grip-Hold", "stream"),
        ("Grip-Channel", f"{channel}; prev-id={prev_id}; filter=require-sub"),
        ("Grip-Keep-Alive", f"{cstring(keepalive_frame)}; format=cstring; "
                            f"timeout={int(settings.REALTIME_KEEPALIVE_SECONDS)}"),
        ("Grip-Link", f"<{link.url()}>; rel=next; timeout={settings.GRIP_REFRESH_SECONDS}"),
    ]


def paging_headers(link: Link) -> list[tuple[str, str]]:
    """No hold: Pushpin sends the body, then fetches the link (when the client has
    room: flow control comes free) for the rest of a long replay."""
    return [("Grip-Link", f"<{link.url()}>; rel=next")]


# --- publishing -----------------------------------------------------------------------


def items_for(workspace_id: str, deliveries: list[Delivery], views: list[View]) -> list[dict]:
    """The items of one workspace's persisted events: for each event, one per view,
    in cursor order. A call's events carry `require_sub`: only a stream holding
    the call's marker channel gets them (the stream's subscriptions)."""
    items = []
    channels = [(view.filters, view.channel(workspace_id)) for view in views]
    for delivery in deliveries:
        if delivery.seq is None:
            # Ephemeral events are all call events: they reach only streams subscribed
            # to the call, which a held stream cannot be yet (docs/architecture.md).
            continue
        frame = delivery.sse_frame().decode()
        call_event = delivery.audience == Audience.CALL
        meta = {"require_sub": grip_call_marker(delivery.call_id)} if call_event else None
        seq, prev = str(delivery.seq), str(delivery.seq - 1)
        for filters, channel in channels:
            item = {"channel": channel, "id": seq, "prev-id": prev,
                    "formats": {"http-stream": {"content": frame if filters.passes(delivery) else ""}}}
            if meta is not None:
                item["meta"] = meta
            items.append(item)
    return items


def queue_reads(pipeline, messages: list[tuple[str, bytes]]) -> list[str]:
    """Queues, in the relay's Redis round trip, what publishing to Pushpin needs to
    know of each workspace of the batch: its held views and its published
    position. The workspaces, in the order of the reads (two results each)."""
    workspaces = list(dict.fromkeys(workspace_id for workspace_id, _ in messages))
    now = time.time()
    for workspace_id in workspaces:
        pipeline.zrangebyscore(grip_views_key(workspace_id), now, "+inf")
        pipeline.get(grip_published_key(workspace_id))
    return workspaces


def publish(messages: list[tuple[str, bytes]], workspaces: list[str], results: list, *,
            sweeping: bool = False) -> None:
    """POSTs the batch's items to Pushpin, then records how far each workspace got
    there; raises if Pushpin does not take them.

    The sweeper (`sweeping`) leaves out events older than what Pushpin has already
    taken of their workspace. A later event went there first, so every held stream
    has met, or will meet, the gap and fill it from the database; sent now, the old
    item would move Pushpin's sequencer back (its last id per channel becomes the
    old one), hold the next event up to 5 s, and make every stream recover once."""
    items, reached = [], {}
    for index, workspace_id in enumerate(workspaces):
        views, published = results[2 * index], int(results[2 * index + 1] or 0)
        deliveries = []
        for message_workspace, message in messages:
            if message_workspace != workspace_id:
                continue
            delivery = decode(message)
            persisted = isinstance(delivery, Delivery) and delivery.seq is not None
            if persisted and not (sweeping and delivery.seq <= published):
                deliveries.append(delivery)
        if deliveries:
            # Recorded even when no view is held: a stream held later starts from it.
            reached[workspace_id] = deliveries[-1].seq
            if views:
                items += items_for(workspace_id, deliveries, [View.from_spec(spec) for spec in views])
    if items:
        post_items(items)
    if reached:
        pipeline = get_redis().pipeline(transaction=False)
        for workspace_id, seq in reached.items():
            pipeline.eval(_RAISE_TO, 1, grip_published_key(workspace_id), seq, PUBLISHED_TTL_SECONDS)
        pipeline.execute()


# Sets the key to ARGV[1] unless it holds more already (publishers race after commit).
_RAISE_TO = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
"""
PUBLISHED_TTL_SECONDS = 24 * 3600


_local = threading.local()


def _client() -> httpx.Client:
    # One client per thread (the relay runs in whichever thread committed), so
    # its connection to Pushpin is reused from one batch to the next.
    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = httpx.Client(timeout=PUBLISH_TIMEOUT_SECONDS)
    return client


def post_items(items: list[dict]) -> None:
    """POSTs the items to Pushpin in order, in bodies of at most PUBLISH_MAX_BYTES;
    raises when Pushpin does not take one (the relay then leaves the outbox row
    to the sweeper, and Pushpin drops the ids it already has)."""
    for body in _bodies(items):
        response = _client().post(settings.GRIP_PUBLISH_URL, content=body,
                                  headers={"Content-Type": "application/json"})
        response.raise_for_status()


def _bodies(items: list[dict]):
    encoded = [json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode() for item in items]
    start, size = 0, 0
    for index, item in enumerate(encoded):
        if index > start and size + len(item) > PUBLISH_MAX_BYTES:
            yield b'{"items":[' + b",".join(encoded[start:index]) + b"]}"
            start, size = index, 0
        size += len(item) + 1
    if start < len(encoded):
        yield b'{"items":[' + b",".join(encoded[start:]) + b"]}"
