"""What a voice runtime reports, in batches (SPEC §6 Runtime ingest).

Each item stands alone: it is checked and applied in its own savepoint, so one
bad item costs only itself and the answer lists it with its index. The batch
is one transaction and its events are published together after the commit: a
commit, a Redis round trip and an update per event were most of the cost of
ingest (docs/PERFORMANCE.md). An item's `event_id` is the runtime's; it is
taken by inserting a `RuntimeReceipt` under a unique constraint, so two
identical batches racing each other apply every item once, and an item that
failed was never taken (sending it again is how a runtime retries it).

The simulated runtime reports through `ingest_batch` too: one path for
runtime events.
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from django.db import connection, transaction
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from calls import services
from calls.models import Call, RuntimeReceipt
from project.errors import ApiError
from realtime.emit import publishing_together
from workspaces.models import Workspace
from workspaces.scoping import scoped

STATUS_TYPE = "call-status"


class RuntimeItem(BaseModel):
    """One reported event, as the runtime sent it."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=128)
    call_id: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=40)
    timestamp: datetime | None = None
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


def ingest_batch(workspace: Workspace, items: list[Any]) -> IngestResult:
    """Applies a batch in one transaction, each item in its own savepoint, and
    publishes its events together after the commit."""
    result = IngestResult()
    with publishing_together(), transaction.atomic():
        parsed = _parse_all(workspace, items, result)
        taken = _take_receipts(workspace, parsed)
        applied: set[str] = set()
        for index, item, call in parsed:
            if item.event_id not in taken or item.event_id in applied:
                result.duplicates += 1
                continue
            applied.add(item.event_id)
            try:
                with transaction.atomic():
                    _apply(workspace, call, item)
            except (ApiError, ItemError) as error:
                _release_receipt(workspace, item.event_id)
                result.errors.append(_error(index, item.event_id, error.code, error.message))
            else:
                result.accepted += 1
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


def _parse_all(workspace: Workspace, items: list[Any], result: IngestResult) -> Parsed:
    """The items that are well formed and name a call of this workspace (one query
    for all their calls); the rest become per-item errors."""
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
        raise ItemError("invalid_item", services.first_problem(error)) from None
    if item.timestamp is not None and item.timestamp.tzinfo is None:
        raise ItemError("invalid_item", "timestamp: must carry a time zone (e.g. end with Z).")
    if item.type != STATUS_TYPE and item.type not in services.CALL_REPORT_TYPES:
        valid = ", ".join(sorted({STATUS_TYPE, *services.CALL_REPORT_TYPES}))
        raise ItemError("unknown_event_type", f"{item.type!r} is not a runtime event type. Valid: {valid}.")
    return item


def _apply(workspace: Workspace, call: Call, item: RuntimeItem) -> None:
    if item.type == STATUS_TYPE:
        try:
            report = StatusReport.model_validate(item.data)
        except ValidationError as error:
            raise ItemError("invalid_data", services.first_problem(error)) from None
        services.call_transition(
            workspace=workspace,
            call_id=call.pk,
            status=report.status,
            end_reason=report.end_reason,
            failure_code=report.failure_code,
            failure_reason=report.failure_reason,
            occurred_at=item.timestamp,
        )
        return
    services.call_record_event(
        workspace=workspace, call_id=call.pk, type=item.type, data=item.data, occurred_at=item.timestamp
    )


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
