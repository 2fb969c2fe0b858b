"""What a voice runtime reports, in batches (docs/reference/rest.md#runtime-ingest).

Each item stands alone: it is checked and planned on its own (calls/changes.py
`plan_*`: nothing is written yet), so one bad item costs only itself and the
answer lists it with its index. Then the batch's changes are written at once:
one transaction, the calls locked once, one cursor draw, one insert of events
and of timeline rows, one publish after the commit. Per item, those were eight
queries and a publish, and the limit of ingest (docs/PERFORMANCE.md). An
item's `event_id` is the runtime's; it is taken by inserting a
`RuntimeReceipt` under a unique constraint, so two identical batches racing
each other apply every item once, and an item that failed was never taken
(sending it again is how a runtime retries it).

The simulated runtime reports through `ingest_batch` too: one path for
runtime events. Each batch says which runtime sends it (`reporter`: the HTTP
API is `ingest`, the simulator in-process is `simulated`), and a call takes
reports only from the runtime that plays it (`Call.runtime`), so an ingest key
cannot end, answer or talk over the calls the simulator is playing.
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.db import connection, transaction
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from calls import selectors, services
from calls.changes import (
    CALL_REPORT_TYPES,
    Change,
    apply_changes,
    plan_report,
    plan_transition,
    validated_report,
)
from calls.inputs import first_problem
from calls.models import Call, RuntimeReceipt
from project.errors import ApiError
from project.inputs import UtcDatetime
from workspaces.models import Workspace
from workspaces.scoping import scoped

STATUS_TYPE = "call-status"


class RuntimeItem(BaseModel):
    """One reported event, as the runtime sent it."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=128)
    call_id: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=40)
    # UTC: PostgreSQL refuses offsets past ±15:59, which ISO 8601 and Python allow.
    timestamp: UtcDatetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class StatusReport(BaseModel):
    """`data` of a `call-status` item."""

    model_config = ConfigDict(extra="forbid")

    status: Literal[
        "queued", "ringing", "in-progress", "completed", "failed", "busy", "no-answer", "canceled"
    ]
    end_reason: str | None = None
    failure_code: str | None = Field(None, max_length=64)
    failure_reason: str | None = Field(None, max_length=500)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "errors": self.errors}


class ItemError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def ingest_batch(workspace: Workspace, items: list[Any], *, reporter: str) -> IngestResult:
    """Applies a batch that the runtime `reporter` sent, in one transaction: every
    item is checked and planned on its own against the calls as the earlier items
    left them (a failing item changes nothing), then the planned changes are
    written and published at once."""
    result = IngestResult()
    now = datetime.now(UTC)
    with transaction.atomic():
        parsed = _parse_all(workspace, items, result, reporter)
        taken = _take_receipts(workspace, parsed)
        fresh = [(index, item, call) for index, item, call in parsed if item.event_id in taken]
        calls = services.locked_calls(workspace, {call.pk for _, _, call in fresh})
        active = selectors.active_calls(workspace) if any(i.type == STATUS_TYPE for _, i, _ in fresh) else 0
        changes: list[tuple[Call, Change]] = []
        planned: set[str] = set()
        for index, item, call in parsed:
            if item.event_id not in taken or item.event_id in planned:
                result.duplicates += 1
                continue
            planned.add(item.event_id)
            locked = calls[call.pk]
            try:
                change = _plan(locked, item, active, _moment(locked, item.timestamp, now))
            except (ApiError, ItemError) as error:
                _release_receipt(workspace, item.event_id)
                result.errors.append(_error(index, item.event_id, error.code, error.message))
                continue
            active += change.active_delta
            changes.append((locked, change))
            result.accepted += 1
        apply_changes(workspace, changes)
    result.errors.sort(key=lambda error: error["index"])
    return result


def _error(index: int, event_id: Any, code: str, message: str) -> dict[str, Any]:
    return {
        "index": index,
        "event_id": event_id if isinstance(event_id, str) else None,
        "code": code,
        "message": message,
    }


Parsed = list[tuple[int, RuntimeItem, Call]]  # (index in the batch, the item, its call)


def _parse_all(workspace: Workspace, items: list[Any], result: IngestResult, reporter: str) -> Parsed:
    """The items that are well formed and name a call of this workspace that
    `reporter` may report on (one query for all their calls); the rest become
    per-item errors."""
    valid: list[tuple[int, RuntimeItem]] = []
    for index, raw in enumerate(items):
        try:
            valid.append((index, _parse(raw)))
        except ItemError as error:
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            result.errors.append(_error(index, event_id, error.code, error.message))
    wanted = {pk for _, item in valid if (pk := _uuid_or_none(item.call_id)) is not None}
    calls = {call.pk: call for call in scoped(Call, workspace).filter(pk__in=wanted)} if wanted else {}
    parsed = []
    for index, item in valid:
        call = calls.get(_uuid_or_none(item.call_id))
        if call is None:  # unknown, malformed or another workspace's: all the same to the runtime
            result.errors.append(
                _error(index, item.event_id, "not_found", f"No call {item.call_id!r} in this workspace.")
            )
            continue
        if call.runtime and call.runtime != reporter:
            result.errors.append(_error(
                index, item.event_id, "call_played_by_another_runtime",
                f"Call {item.call_id} is played by the {call.runtime} runtime; only it reports on the call.",
            ))
            continue
        parsed.append((index, item, call))
    return parsed


def _take_receipts(workspace: Workspace, parsed: Parsed) -> set[str]:
    """Inserts the batch's receipts in one statement and returns the event ids it
    took; the others were taken before (or by a batch committing meanwhile: the
    insert waits for it on the unique index). Sorted, so two batches that share
    event ids lock them in the same order and cannot deadlock; and before any
    other lock of the batch, so a batch waiting here holds nothing else."""
    first_call: dict[str, Call] = {}
    for _, item, call in parsed:
        first_call.setdefault(item.event_id, call)
    if not first_call:
        return set()
    fields = RuntimeReceipt._meta
    workspace_id = fields.get_field("workspace").get_db_prep_value(workspace.pk, connection)
    now = datetime.now(UTC)
    params: list[Any] = []
    call_field = fields.get_field("call")
    for event_id, call in sorted(first_call.items()):
        params += [workspace_id, event_id, call_field.get_db_prep_value(call.pk, connection), now]
    values = ", ".join(["(%s, %s, %s, %s)"] * len(first_call))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {fields.db_table} (workspace_id, runtime_event_id, call_id, created_at) "  # noqa: S608
            f"VALUES {values} ON CONFLICT (workspace_id, runtime_event_id) DO NOTHING "
            "RETURNING runtime_event_id",
            params,
        )
        return {row[0] for row in cursor.fetchall()}


def _release_receipt(workspace: Workspace, event_id: str) -> None:
    """An item that failed was never taken: sending it again is how a runtime retries it."""
    scoped(RuntimeReceipt, workspace).filter(runtime_event_id=event_id).delete()


def _parse(raw: Any) -> RuntimeItem:
    if not isinstance(raw, dict):
        raise ItemError("invalid_item", "Each item must be an object.")
    try:
        item = RuntimeItem.model_validate(raw)
    except ValidationError as error:
        raise ItemError("invalid_item", first_problem(error)) from None
    if item.timestamp is not None and item.timestamp.tzinfo is None:
        raise ItemError("invalid_item", "timestamp: must carry a time zone (e.g. end with Z).")
    if item.type != STATUS_TYPE and item.type not in CALL_REPORT_TYPES:
        valid = ", ".join(sorted({STATUS_TYPE, *CALL_REPORT_TYPES}))
        raise ItemError("unknown_event_type", f"{item.type!r} is not a runtime event type. Valid: {valid}.")
    return item


def _moment(call: Call, timestamp: datetime | None, now: datetime) -> datetime | None:
    """The item's time, if it is one the call can have had: from its creation (less
    the allowed skew; a time before the creation counts as the creation) to now
    (plus the skew). Outside, the runtime's clock or data is wrong: a charge run
    would price 2,000 years of talk, or an answer in the future make a call free."""
    if timestamp is None:
        return None
    skew = timedelta(seconds=settings.RUNTIME_TIMESTAMP_SKEW_SECONDS)
    earliest, latest = call.created_at - skew, now + skew
    if not earliest <= timestamp <= latest:
        raise ItemError(
            "timestamp_out_of_range",
            f"timestamp must lie between the call's creation and now, give or take "
            f"{settings.RUNTIME_TIMESTAMP_SKEW_SECONDS} s ({_iso(earliest)} to {_iso(latest)}).",
        )
    return max(timestamp, call.created_at)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _plan(call: Call, item: RuntimeItem, active: int, moment: datetime | None) -> Change:
    if item.type == STATUS_TYPE:
        try:
            report = StatusReport.model_validate(item.data)
        except ValidationError as error:
            raise ItemError("invalid_data", first_problem(error)) from None
        return plan_transition(
            call,
            status=report.status,
            end_reason=report.end_reason,
            failure_code=report.failure_code,
            failure_reason=report.failure_reason,
            occurred_at=moment,
            active_before=active,
        )
    payload = validated_report(item.type, item.data)
    return plan_report(call, type=item.type, payload=payload, occurred_at=moment)


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
