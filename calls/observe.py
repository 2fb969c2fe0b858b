"""`WS /api/v1/calls/{id}/observe`: one call's events as WebSocket JSON messages,
the same as its SSE stream (`calls.streams`), ending with `stream-closed`;
`?include_history=true` and `?last_event_id=` as there."""

from calls.streams import include_history_in, open_call_stream
from realtime.streams import Stream
from realtime.wire import JSON


async def open_observed_call(principal, query: dict[str, str], *, call_id: str) -> Stream:
    return await open_call_stream(principal, call_id, last_event_id=query.get("last_event_id"), wire=JSON,
                                  include_history=include_history_in(query))
