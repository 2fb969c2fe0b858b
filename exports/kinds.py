"""What each kind of export holds: the rows its list endpoint's filters select,
and its columns (docs/exports.md "Columns").

The filters are parsed and checked by the list endpoints' own code: the query
schema (calls.schemas.CallListParams, billing.schemas.LedgerParams) and the
selector that applies them (calls.selectors.call_list, billing.services.ledger),
so a filter the list refuses with a 400, an export refuses with the same 400,
when it is requested.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from ninja import Schema
from pydantic import ValidationError

from billing import services as billing
from billing.schemas import LedgerParams
from calls import selectors as calls
from calls.models import CallEvent
from calls.schemas import CallListParams
from exports.models import ExportKind
from project.errors import BadRequest, NotFound
from project.timestamps import iso_utc
from workspaces.models import Workspace
from workspaces.scoping import scoped


class CallEventFilters(CallListParams):
    """The events of one call (`call_id`, as GET /calls/{id}/events lists them), or
    of the calls the calls list's filters select."""

    call_id: str | None = None


@dataclass(frozen=True)
class Kind:
    params: type[Schema]
    # The rows, oldest first, as tuples of `fields` (database values).
    rows: Callable[[Workspace, dict], QuerySet]
    columns: tuple[str, ...]
    fields: tuple[str, ...]
    # Which columns hold JSON (an object in JSONL, its compact text in CSV).
    json_columns: frozenset[str] = frozenset()


def _calls(workspace: Workspace, filters: dict) -> QuerySet:
    return calls.call_list(workspace, **filters)


def _call_events(workspace: Workspace, filters: dict) -> QuerySet:
    filters = dict(filters)
    call_id = filters.pop("call_id", None)
    events = scoped(CallEvent, workspace)
    if call_id:
        try:
            events = events.filter(call=calls.call_get(workspace, call_id))
        except NotFound:
            raise BadRequest("`call_id` names no call of this workspace.", code="unknown_call",
                             details={"field": "call_id"}) from None
    if any(value is not None for value in filters.values()):
        events = events.filter(call__in=calls.call_list(workspace, **filters).values("pk"))
    return events


def _ledger(workspace: Workspace, filters: dict) -> QuerySet:
    return billing.ledger(workspace, **filters)


CALL_COLUMNS = ("id", "direction", "source", "status", "from_number", "to_number", "agent", "current_node",
                "campaign_id", "schedule_id", "created_at", "started_at", "answered_at", "ended_at",
                "duration", "cost", "end_reason", "failure_code", "failure_reason", "recording_status",
                "recording_url", "variables")

KINDS: dict[str, Kind] = {
    ExportKind.CALLS: Kind(
        params=CallListParams, rows=_calls, columns=CALL_COLUMNS,
        fields=tuple("agent_name" if column == "agent" else column for column in CALL_COLUMNS),
        json_columns=frozenset({"variables"}),
    ),
    ExportKind.CALL_EVENTS: Kind(
        params=CallEventFilters, rows=_call_events,
        columns=("event_id", "call_id", "type", "timestamp", "data"),
        fields=("event_id", "call_id", "type", "timestamp", "data"),
        json_columns=frozenset({"data"}),
    ),
    ExportKind.LEDGER: Kind(
        params=LedgerParams, rows=_ledger,
        columns=("id", "kind", "reason", "amount", "balance_after", "call_id", "note", "created_at"),
        fields=("id", "kind", "reason", "amount", "balance_after", "call_id", "note", "created_at"),
    ),
}


def _stored(value: Any) -> Any:
    return iso_utc(value) if isinstance(value, datetime) else value


# The longest text a filter takes: every status in a comma list fits, as does any id;
# the filters are stored with the export and shown with it on every read.
FILTER_MAX_CHARS = 500


def parse_filters(workspace: Workspace, kind: str, filters: dict) -> dict:
    """The filters as the kind's list endpoint reads them, checked by its own code
    (the query schema, then the selector), in JSON form to be stored. Anything
    wrong is a 400 that names the filter."""
    spec = KINDS[kind]
    unknown = sorted(set(filters) - set(spec.params.model_fields))
    if unknown:
        raise BadRequest(
            f"Unknown filter(s) for a {kind} export: {', '.join(unknown)}.", code="invalid_filters",
            details={"unknown": unknown, "valid": sorted(spec.params.model_fields)},
        )
    for name, value in filters.items():
        if isinstance(value, str) and len(value) > FILTER_MAX_CHARS:
            raise BadRequest(f"Filter `{name}` is longer than {FILTER_MAX_CHARS} characters.",
                             code="invalid_filters", details={"field": name, "max_length": FILTER_MAX_CHARS})
    try:
        parsed = spec.params(**filters).dict()
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem.get("loc", ()))
        raise BadRequest(f"Filter `{field}`: {problem.get('msg', 'is not valid')}.", code="invalid_filters",
                         details={"field": field}) from None
    stored = {name: _stored(value) for name, value in parsed.items() if value is not None}
    rows(workspace, kind, stored)  # the selector's own checks (a bad status, kind, call)
    return stored


def rows(workspace: Workspace, kind: str, filters: dict) -> QuerySet:
    """The export's rows, oldest first: stored filters parsed again (they are the
    JSON form of values the schema took)."""
    spec = KINDS[kind]
    parsed = {name: value for name, value in spec.params(**filters).dict().items() if value is not None}
    return spec.rows(workspace, parsed).order_by("created_at", "pk")


def json_text(value: Any) -> str:
    """A JSON column's value as compact text; the database hands JSON back as text
    (PostgreSQL) or already parsed (SQLite)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
