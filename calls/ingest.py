"""What a voice runtime reports, in batches (SPEC §6 Runtime ingest).

Each item stands alone: it is checked, applied and committed in its own
transaction, so one bad item costs only itself and the answer lists it with
its index. An item's `event_id` is the runtime's; it is taken by inserting a
`RuntimeReceipt` under a unique constraint in the item's transaction, so two
identical batches racing each other apply every item once, and an item that
failed was never taken (sending it again is how a runtime retries it).

The simulated runtime reports through `ingest_batch` too: one path for
runtime events.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db import IntegrityError, transaction
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from calls import services
from calls.models import Call, RuntimeReceipt
from project.errors import ApiError
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
    result = IngestResult()
    for index, raw in enumerate(items):
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        try:
            if _ingest_one(workspace, raw):
                result.accepted += 1
            else:
                result.duplicates += 1
        except ItemError as error:
            result.errors.append(
                {
                    "index": index,
                    "event_id": event_id if isinstance(event_id, str) else None,
                    "code": error.code,
                    "message": error.message,
                }
            )
    return result


def _ingest_one(workspace: Workspace, raw: Any) -> bool:
    """Applies one item; False when its event_id was taken before."""
    item = _parse(raw)
    call_pk = _uuid_or_none(item.call_id)
    call = scoped(Call, workspace).filter(pk=call_pk).first() if call_pk else None
    if call is None:  # unknown, malformed or another workspace's: all the same to the runtime
        raise ItemError("not_found", f"No call {item.call_id!r} in this workspace.")
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    RuntimeReceipt.objects.create(
                        workspace=workspace, call=call, runtime_event_id=item.event_id
                    )
            except IntegrityError:
                return False
            _apply(workspace, call, item)
    except ApiError as error:
        raise ItemError(error.code, error.message) from None
    return True


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
