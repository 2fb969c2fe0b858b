"""`WS /api/v1/calls/{id}/observe`: one call's events as WebSocket JSON messages,
the same as its SSE stream (`calls.streams`), ending with `stream-closed`."""

from calls.streams import open_call_stream
from realtime.streams import Stream
from realtime.wire import JSON


async def open_observed_call(principal, query: dict[str, str], *, call_id: str) -> Stream:
    return await open_call_stream(principal, call_id, last_event_id=query.get("last_event_id"), wire=JSON)
