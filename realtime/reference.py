"""docs/reference/events.md, written from the catalogue: the envelope, then every
event type with its audience, whether it is persisted, and its payload fields.

The page is generated (`manage.py export_api_docs` writes it beside docs/api/)
and a snapshot test compares the committed copy with what the code produces,
so the catalogue and its documentation cannot drift apart.
"""

from realtime import catalogue
from realtime.catalogue import Audience

INTRO = """\
# Events

<!-- Generated from the event catalogue by `python manage.py export_api_docs`;
     edit the models in each app's events.py (or realtime/control.py), not this file. -->

Everything that happens in a workspace reaches its watchers as an event: on
the Server-Sent Events streams, on the WebSocket, in `GET /calls/{id}/events`,
and in the machine-readable schemas (`/api/v1/openapi.json`, a union
discriminated on `type`, and `/api/v1/asyncapi.json`; committed in
[docs/api/](../api/)). How to open and resume a stream is in
[streams.md](streams.md); a client's walk-through is in
[docs/streams.md](../streams.md).

## Envelope

Every event, whatever its type, is one JSON object:

| field | type | meaning |
|---|---|---|
| `event_id` | string | Unique and stable: a replayed event carries the same id. Deduplicate on it. |
| `type` | string | One of the types below; it decides the shape of `data`. |
| `workspace_id` | string | Its workspace; a stream carries only its own workspace's events. |
| `call_id` | string or null | The call the event is about, when it is about one. |
| `timestamp` | string | When it happened, ISO 8601 in UTC with milliseconds (`2026-01-01T12:00:00.000Z`). |
| `data` | object | The type's payload (the tables below). Unknown fields are never sent. |

On an SSE stream an event is one frame: `id:` is the stream's resume cursor
(send it back as `Last-Event-ID`), `event:` is the type, `data:` is the
envelope above on one line. Control events (below) carry no `id:` line:
they are not part of the history, so resuming never skips or repeats because
of them. On the WebSocket each message is the envelope alone.

Ordering: within a workspace, the events about one call arrive in the order
they happened, and the cursor only grows. A persisted event is delivered at
most once per connection, and a client that resumes with its last cursor gets
every persisted event after it, once each.

## Audiences

- **workspace**: every stream of the workspace carries it (the dashboard
  stream, `GET /api/v1/events/stream`, `GET /api/v1/sse/connect`), subject
  to the stream's filters. When it names a call, that call's own stream
  carries it too.
- **call**: only connections that follow the call: its own stream
  (`GET /api/v1/calls/{id}/stream`), its WebSocket
  (`/api/v1/calls/{id}/observe`), and a workspace connection that
  subscribed to the call (`POST /api/v1/calls/{id}/subscribe`).
- **control**: made by a stream for its own client; never emitted, never
  stored, never replayed.

**Persisted** events are stored with the change they describe (same
transaction) and can be replayed; **ephemeral** ones (live speech details)
are delivered live only and are never written to the database.
"""

SECTIONS = [
    (Audience.WORKSPACE, "Workspace events", "workspace-events",
     "Carried by every stream of the workspace."),
    (Audience.CALL, "Call events", "call-events",
     "Carried by the call's own stream and WebSocket, and by a workspace "
     "connection that subscribed to the call."),
    (Audience.CONTROL, "Control events", "control-events",
     "Sent by a stream to its own client. `connected` is always the first event of a stream."),
]


def events_markdown() -> str:
    lines = [INTRO]
    for audience, title, _anchor, blurb in SECTIONS:
        types = [t for t in catalogue.all_types() if t.audience is audience]
        lines += [f"## {title}", "", blurb, "", "| type | persisted | when |", "|---|---|---|"]
        for event_type in types:
            persisted = "yes" if event_type.persisted else "no (live only)"
            lines.append(f"| [`{event_type.name}`](#{event_type.name}) | {persisted} | "
                         f"{_one_line(event_type.description)} |")
        lines.append("")
        for event_type in types:
            lines += _type_section(event_type)
    return "\n".join(lines).rstrip() + "\n"


def _type_section(event_type) -> list[str]:
    schema = event_type.data_model.model_json_schema(mode="serialization")
    lines = [f"### {event_type.name}", "",
             f"{_one_line(event_type.description)} Audience: {event_type.audience.value}; "
             f"{'persisted' if event_type.persisted else 'ephemeral'}.", ""]
    lines += _fields_table(schema, schema)
    for name, definition in sorted(schema.get("$defs", {}).items()):
        lines += [f"`{name}`:", "", *_fields_table(definition, schema)]
    return lines


def _fields_table(node: dict, root: dict) -> list[str]:
    properties = node.get("properties") or {}
    if not properties:
        return ["(no fields)", ""]
    required = set(node.get("required") or [])
    lines = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for name, prop in properties.items():
        lines.append(f"| `{name}` | {_type_of(prop)} | {'yes' if name in required else 'no'} | "
                     f"{_one_line(prop.get('description', ''))} |")
    return [*lines, ""]


def _type_of(prop: dict) -> str:
    if "anyOf" in prop:
        return " or ".join(_type_of(option) for option in prop["anyOf"])
    if "$ref" in prop:
        return f"`{prop['$ref'].rsplit('/', 1)[-1]}`"
    if "const" in prop:
        return f"`{_literal(prop['const'])}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{_literal(value)}`" for value in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(prop.get('items', {}))}"
    if kind == "string" and prop.get("format"):
        return f"string ({prop['format']})"
    if kind == "string" and prop.get("pattern"):
        return f"string matching `{prop['pattern']}`"
    return {"null": "null", "number": "number", "integer": "integer", "boolean": "boolean",
            "object": "object", "string": "string"}.get(kind, kind)


def _literal(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _one_line(text: str) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")
