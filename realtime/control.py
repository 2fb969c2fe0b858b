"""Control events (docs/reference/events.md#control-events): a stream sends them to its own client, nobody
emits them."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from realtime.catalogue import Audience, EventData, register


class Connected(EventData):
    """First event of every stream."""

    client_id: str = Field(description="This connection's id, for subscribe/unsubscribe.")
    stream: Literal["workspace", "call"]
    resumed: bool = Field(description="True when the client resumed from a cursor.")
    server_time: datetime
    keepalive_seconds: int


class KeepAlive(EventData):
    """Sent after REALTIME_KEEPALIVE_SECONDS of silence."""

    server_time: datetime


class LagWarning(EventData):
    """The client is falling behind: `pending` events (`pending_bytes` bytes) wait in
    its buffer. At either limit the server closes the stream; resume from your cursor."""

    pending: int
    limit: int = Field(description="At this many pending events the server closes the stream.")
    pending_bytes: int = Field(description="Bytes of the events waiting for this client.")
    limit_bytes: int = Field(description="Past this many pending bytes the server closes the stream.")


class StreamReset(EventData):
    """The cursor is older than retained history: re-fetch state over REST, then go on."""

    reason: Literal["cursor-expired", "cursor-ahead"]
    oldest_available: str | None = Field(description="The oldest cursor still retained.")


class Shutdown(EventData):
    """The server is stopping; reconnect with the last cursor after `retry_ms`."""

    reconnect: Literal[True] = True
    retry_ms: int


class StreamClosed(EventData):
    """The server closes the stream next. `call-ended`: a call's own stream, its call
    ended. `access-revoked`: any stream, its key was revoked or deleted, its user
    deactivated or removed from the workspace; a reconnect is refused (401/403)."""

    reason: Literal["call-ended", "access-revoked"]


CONTROL_TYPES = {
    "connected": Connected,
    "keep-alive": KeepAlive,
    "lag-warning": LagWarning,
    "stream-reset": StreamReset,
    "shutdown": Shutdown,
    "stream-closed": StreamClosed,
}


def register_control_types() -> None:
    for name, model in CONTROL_TYPES.items():
        register(name, model, audience=Audience.CONTROL, persisted=False)
