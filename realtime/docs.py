"""The event schemas as published documents: components of the OpenAPI document
(a discriminated union on `type`) and an AsyncAPI 3 document of the streams.
Both come from the catalogue's models, so they cannot disagree with what
`emit` accepts."""

from typing import Annotated, Union

from pydantic import Field, TypeAdapter

from realtime import catalogue
from realtime.catalogue import Audience

REF_TEMPLATE = "#/components/schemas/{model}"


def _union_schema(event_types: list[catalogue.EventType]) -> tuple[dict, dict]:
    """(the oneOf + discriminator schema, the component schemas it refers to)."""
    envelopes = tuple(event_type.envelope_model for event_type in event_types)
    adapter = TypeAdapter(Annotated[Union[envelopes], Field(discriminator="type")])  # noqa: UP007
    schema = adapter.json_schema(ref_template=REF_TEMPLATE, mode="serialization")
    return {key: value for key, value in schema.items() if key != "$defs"}, schema.get("$defs", {})


def add_event_components(openapi: dict) -> None:
    """Adds `Event` (every emitted type) and `ControlEvent` (docs/reference/events.md#control-events) to an
    OpenAPI document."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    emitted = [t for t in catalogue.all_types() if t.audience is not Audience.CONTROL]
    control = [t for t in catalogue.all_types() if t.audience is Audience.CONTROL]
    for name, event_types in (("Event", emitted), ("ControlEvent", control)):
        union, definitions = _union_schema(event_types)
        schemas.update(definitions)
        schemas[name] = {"description": f"Any {name} envelope, by its `type`.", **union}


# How a client proves who it is; each stream lists the ones it takes (any one will do).
_SECURITY_SCHEMES = {
    "bearerKey": {"type": "http", "scheme": "bearer",
                  "description": "An API key: `Authorization: Bearer cbk_...`."},
    "session": {"type": "httpApiKey", "in": "cookie", "name": "sessionid",
                "description": "The dashboard's session cookie (a WebSocket must then come from an "
                "allowed Origin)."},
    "ticket": {"type": "httpApiKey", "in": "query", "name": "ticket",
               "description": "A single-use ticket from POST /api/v1/auth/sse-ticket (30 s)."},
}

_STREAMS = {
    "workspaceStream": {
        "address": "/api/v1/events/stream",
        "description": "Server-Sent Events of one workspace (session or bearer key). Filters: "
        "event_types, call_id, agent, include_history, last_event_id.",
        "audiences": {Audience.WORKSPACE, Audience.CALL, Audience.CONTROL},
        "security": ("bearerKey", "session"),
    },
    "ticketStream": {
        "address": "/api/v1/sse/connect",
        "description": "The same stream for EventSource clients, authenticated by a single-use "
        "ticket from POST /api/v1/auth/sse-ticket.",
        "audiences": {Audience.WORKSPACE, Audience.CALL, Audience.CONTROL},
        "security": ("ticket",),
    },
    "callStream": {
        "address": "/api/v1/calls/{call_id}/stream",
        "description": "Server-Sent Events of one call; ends with stream-closed. "
        "include_history=true: the call's persisted events so far first, then live ones.",
        "audiences": {Audience.CALL, Audience.CONTROL},
        "call_lifecycle": True,
        "security": ("bearerKey", "session", "ticket"),
    },
    "callObserver": {
        "address": "/api/v1/calls/{call_id}/observe",
        "description": "The call's events as WebSocket JSON messages (session with a same-site "
        "Origin, bearer key or ?ticket=; resume with ?last_event_id=; ?include_history=true for the "
        "call's persisted events so far first). Ends with stream-closed and "
        "close 1000. A refusal is one error-shape message, then close 4000 + the HTTP status "
        "(4400, 4401, 4403, 4404, 4429, 4503). After shutdown (a deploy, or the maximum lifetime): "
        "4503. Fell behind its buffer: 4013. Access taken away: one error-shape message, then "
        "4401 (key revoked or deleted, user deactivated) or 4403 (no longer a member).",
        "audiences": {Audience.CALL, Audience.CONTROL},
        "call_lifecycle": True,
        "security": ("bearerKey", "session", "ticket"),
    },
}
# The call's own lifecycle events travel on its stream too (docs/reference/events.md#call-events).
_CALL_LIFECYCLE = {"call-status", "call-ended", "call-escalated"}


def _carries(stream: dict, event_type: catalogue.EventType) -> bool:
    if event_type.audience in stream["audiences"]:
        return True
    return bool(stream.get("call_lifecycle")) and event_type.name in _CALL_LIFECYCLE


def asyncapi_document() -> dict:
    event_types = catalogue.all_types()
    messages, schemas = {}, {}
    for event_type in event_types:
        envelope_schema = event_type.envelope_model.model_json_schema(
            ref_template=REF_TEMPLATE, mode="serialization"
        )
        schemas.update(envelope_schema.pop("$defs", {}))
        schemas[event_type.envelope_model.__name__] = envelope_schema
        messages[event_type.name] = {
            "name": event_type.name,
            "title": event_type.name,
            "summary": event_type.description,
            "contentType": "application/json",
            "payload": {"$ref": REF_TEMPLATE.format(model=event_type.envelope_model.__name__)},
            "x-persisted": event_type.persisted,
            "x-audience": event_type.audience.value,
        }
    channels, operations = {}, {}
    for channel_name, stream in _STREAMS.items():
        carried = [t.name for t in event_types if _carries(stream, t)]
        channels[channel_name] = {
            "address": stream["address"],
            "description": stream["description"],
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in carried},
        }
        operations[f"receive_{channel_name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_name}"},
            "messages": [{"$ref": f"#/channels/{channel_name}/messages/{name}"} for name in carried],
            "security": [{"$ref": f"#/components/securitySchemes/{scheme}"} for scheme in stream["security"]],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Callboard event streams",
            "version": "1",
            "description": "Every event is an envelope {event_id, type, workspace_id, call_id?, "
            "timestamp, data}. On SSE it travels as `id: <cursor>` (persisted events only), "
            "`event: <type>`, `data: <envelope>`; resume with Last-Event-ID.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas, "securitySchemes": _SECURITY_SCHEMES},
    }
