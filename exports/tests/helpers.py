"""What the exports tests share: calls, events and ledger entries made in bulk, and
reading an export's file back."""

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from calls.models import Agent, Call, CallEvent
from exports import services
from exports.models import DataExport

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def make_calls(workspace, count: int, *, status: str = "completed", agent: str = "helpdesk",
               start: datetime = START) -> list[Call]:
    """`count` ended calls, a second apart from `start`, in one insert."""
    default = Agent.objects.get(workspace=workspace, is_default=True)
    calls = [Call(workspace=workspace, status=status, from_number="+14155550100",
                  started_at=start + timedelta(seconds=n),
                  to_number=f"+1415555{n % 10_000:04d}", agent=default, agent_name=agent,
                  duration=30.5, cost=Decimal("0.0510"), end_reason="customer-hangup",
                  variables={"n": n, "name": f"Ada, \"the\" {n}"}) for n in range(count)]
    Call.objects.bulk_create(calls, batch_size=2000)
    # auto_now_add set them all to now: a second apart instead, in creation order.
    for call in calls:
        call.created_at = call.started_at
    Call.objects.bulk_update(calls, ["created_at"], batch_size=1000)
    return calls


def make_events(call: Call, count: int) -> list[CallEvent]:
    events = [CallEvent(workspace_id=call.workspace_id, call=call, event_id=str(uuid.uuid4()),
                        type="call-transcript", timestamp=START + timedelta(seconds=n),
                        data={"role": "user", "text": f"line {n}"}) for n in range(count)]
    return CallEvent.objects.bulk_create(events)


def file_bytes(export: DataExport) -> bytes:
    export.refresh_from_db()
    with services.storage().open(export.file_name, "rb") as file:
        return file.read()


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def jsonl_rows(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines()]
