"""Which events an endpoint receives: every persisted workspace event type of the
catalogue (docs/reference/events.md#workspace-events), or the ones it lists."""

from project.errors import BadRequest
from realtime import catalogue
from realtime.catalogue import Audience

ALL = "all"
# Not in the catalogue: the type of the event POST /webhooks/{id}/test sends, to one endpoint only.
TEST_EVENT_TYPE = "webhook-test"


def deliverable_types() -> list[str]:
    """Every type a webhook may receive: persisted and about the workspace (call
    speech and the streams' control events are not sent)."""
    return [event_type.name for event_type in catalogue.all_types()
            if event_type.audience is Audience.WORKSPACE and event_type.persisted]


def clean_event_types(value: list[str] | str) -> list[str] | None:
    """The filter as stored (None: all types), or 400 `unknown_event_type`."""
    if value == ALL:
        return None
    if isinstance(value, str) or not value:
        raise BadRequest('`event_types` is "all" or a non-empty list of event types.',
                         code="invalid_event_types", details={"field": "event_types"})
    known = deliverable_types()
    unknown = sorted({name for name in value if name not in known})
    if unknown:
        raise BadRequest(f"{unknown[0]!r} is not a workspace event type.", code="unknown_event_type",
                         details={"unknown": unknown, "valid": known})
    return sorted(set(value))


def wants(event_types: list[str] | None, type_name: str) -> bool:
    return event_types is None or type_name in event_types
