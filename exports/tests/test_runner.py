"""The worker's side (exports/runner.py), run in this process: the file per kind and
format, batch boundaries, filters honoured, progress events throttled, and what
a cancellation or a failure leaves behind."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.test import override_settings
from django.utils import timezone

from billing import services as billing
from exports import runner, services
from exports.kinds import CALL_COLUMNS
from exports.models import DataExport
from exports.tests.helpers import csv_rows, file_bytes, jsonl_rows, make_calls, make_events
from project.testing import emitted

pytestmark = pytest.mark.django_db


def _export(workspace, kind="calls", format="csv", **filters) -> DataExport:
    return services.export_create(workspace=workspace, kind=kind, format=format, filters=filters)


def _run(export: DataExport) -> DataExport:
    assert runner.export_run(str(export.pk)) == "completed"
    export.refresh_from_db()
    return export


def test_calls_csv_has_a_header_and_one_row_per_call_oldest_first(workspace, export_dir):
    # given
    calls = make_calls(workspace, 3)

    # when
    export = _run(_export(workspace))

    # then
    data = file_bytes(export)
    assert data.decode().splitlines()[0] == ",".join(CALL_COLUMNS)
    rows = csv_rows(data)
    assert [row["id"] for row in rows] == [str(call.pk) for call in calls]
    assert rows[0]["status"] == "completed" and rows[0]["agent"] == "helpdesk"
    assert rows[0]["cost"] == "0.0510" and rows[0]["created_at"] == "2026-01-05T09:00:00Z"
    assert rows[0]["variables"] == '{"n":0,"name":"Ada, \\"the\\" 0"}'
    assert rows[0]["campaign_id"] == "" and rows[0]["answered_at"] == ""
    assert export.status == "completed" and export.progress == 100 and export.row_count == 3
    assert export.size_bytes == len(data)
    assert export.expires_at is not None and export.completed_at is not None


def test_calls_jsonl_holds_one_object_per_call(workspace, export_dir):
    calls = make_calls(workspace, 2)

    rows = jsonl_rows(file_bytes(_run(_export(workspace, format="jsonl"))))

    assert [row["id"] for row in rows] == [str(call.pk) for call in calls]
    assert list(rows[0]) == list(CALL_COLUMNS)
    assert rows[1]["variables"] == {"n": 1, "name": 'Ada, "the" 1'}
    assert rows[1]["cost"] == "0.0510" and rows[1]["duration"] == 30.5 and rows[1]["answered_at"] is None


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_call_events_of_one_call(workspace, export_dir, format):
    # given two calls with events
    first, second = make_calls(workspace, 2)
    events = make_events(first, 3)
    make_events(second, 2)

    # when the first call's events are exported
    data = file_bytes(_run(_export(workspace, kind="call-events", format=format, call_id=str(first.pk))))

    # then
    rows = csv_rows(data) if format == "csv" else jsonl_rows(data)
    assert [row["event_id"] for row in rows] == [event.event_id for event in events]
    assert set(rows[0]) == {"event_id", "call_id", "type", "timestamp", "data"}
    assert rows[0]["call_id"] == str(first.pk) and rows[0]["type"] == "call-transcript"
    data_0 = rows[0]["data"] if format == "jsonl" else json.loads(rows[0]["data"])
    assert data_0 == {"role": "user", "text": "line 0"}


def test_ledger_rows_carry_money_as_decimal_strings(workspace, export_dir):
    # given a top-up beside the opening credit
    billing.top_up(workspace=workspace, amount=Decimal("12.5"), idempotency_key="k1", actor="test",
                   note="more", digest="")

    rows = csv_rows(file_bytes(_run(_export(workspace, kind="ledger"))))

    assert list(rows[0]) == ["id", "kind", "reason", "amount", "balance_after", "call_id", "note",
                             "created_at"]
    assert [row["kind"] for row in rows] == ["top-up", "top-up"]
    assert rows[-1]["amount"] == "12.5000" and rows[-1]["note"] == "more"


def test_filters_are_honoured(workspace, other_workspace, export_dir):
    # given calls of several statuses and agents, and another workspace's
    make_calls(workspace, 2, status="completed", agent="helpdesk")
    failed = make_calls(workspace, 3, status="failed", agent="sales")
    make_calls(other_workspace, 4, status="failed", agent="sales")

    rows = csv_rows(file_bytes(_run(_export(workspace, status="failed,busy", agent="sales"))))

    assert {row["id"] for row in rows} == {str(call.pk) for call in failed}


def test_an_empty_export_is_a_header_only_file(workspace, export_dir):
    export = _run(_export(workspace))

    assert file_bytes(export).decode() == ",".join(CALL_COLUMNS) + "\r\n"
    assert export.row_count == 0 and export.progress == 100


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 6, 7])
@override_settings(EXPORTS_BATCH_ROWS=3)
def test_batch_boundaries_lose_and_repeat_no_row(workspace, export_dir, count):
    calls = make_calls(workspace, count)

    export = _run(_export(workspace, format="jsonl"))

    assert [row["id"] for row in jsonl_rows(file_bytes(export))] == [str(call.pk) for call in calls]
    assert export.row_count == count


@override_settings(EXPORTS_BATCH_ROWS=2, EXPORTS_PROGRESS_INTERVAL_SECONDS=3600)
def test_progress_events_are_throttled_but_every_status_change_is_emitted(workspace, export_dir):
    # given ten batches, far quicker than the interval
    make_calls(workspace, 20)
    export = _export(workspace)

    # when
    _run(export)

    # then only the status changes were announced; the row still counted every batch
    events = emitted(workspace, "data-export-status")
    assert [(event["status"], event["row_count"]) for event in events] == [
        ("queued", 0), ("running", 0), ("completed", 20)]
    assert events[-1]["progress"] == 100
    assert events[-1]["download_url"].startswith(f"/api/v1/exports/{export.pk}/download?token=")


@override_settings(EXPORTS_BATCH_ROWS=2, EXPORTS_PROGRESS_INTERVAL_SECONDS=0)
def test_with_no_interval_every_batch_is_announced(workspace, export_dir):
    make_calls(workspace, 5)

    _run(_export(workspace))

    events = emitted(workspace, "data-export-status")
    assert [(event["status"], event["row_count"]) for event in events] == [
        ("queued", 0), ("running", 0), ("running", 2), ("running", 4), ("running", 5), ("completed", 5)]
    assert [event["progress"] for event in events[2:5]] == [40, 80, 99]


def test_a_canceled_export_is_not_run(workspace, export_dir):
    make_calls(workspace, 2)
    export = _export(workspace)
    services.export_cancel(workspace=workspace, export_id=export.pk)

    assert runner.export_run(str(export.pk)) == "skipped"

    assert not export_dir.exists() or not any(export_dir.rglob("*.csv"))
    assert [event["status"] for event in emitted(workspace, "data-export-status")] == ["queued", "canceled"]


def test_a_finished_export_is_not_run_twice(workspace, export_dir):
    export = _run(_export(workspace))

    assert runner.export_run(str(export.pk)) == "skipped"


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3",
                                   "@SUM(A1:A9)", "\t=1", "\r=1"])
def test_a_text_cell_that_would_open_as_a_formula_is_neutralised_in_csv(workspace, export_dir, value):
    # given a call whose agent and end reason a caller controls, starting like a formula
    call = make_calls(workspace, 1, agent=value)[0]
    call.end_reason = value
    call.save(update_fields=["end_reason"])

    # when it is exported as CSV and as JSON Lines
    csv_row = csv_rows(file_bytes(_run(_export(workspace))))[0]
    jsonl_row = jsonl_rows(file_bytes(_run(_export(workspace, format="jsonl"))))[0]

    # then the CSV cell is quoted text for a spreadsheet; JSON Lines keeps the value as it is
    assert csv_row["agent"] == "'" + value and csv_row["end_reason"] == "'" + value
    assert jsonl_row["agent"] == value


def test_numbers_and_phone_numbers_are_not_neutralised(workspace, export_dir):
    # given a call with E.164 numbers (leading +) and a negative ledger amount
    make_calls(workspace, 1)
    billing.top_up(workspace=workspace, amount=Decimal("5"), idempotency_key="k1", actor="test",
                   note="-5 refund", digest="")

    row = csv_rows(file_bytes(_run(_export(workspace))))[0]
    ledger = csv_rows(file_bytes(_run(_export(workspace, kind="ledger"))))

    assert row["from_number"] == "+14155550100" and row["to_number"] == "+14155550000"
    assert ledger[-1]["note"] == "'-5 refund"


def test_a_worker_whose_export_was_taken_over_stops_and_cannot_complete_it(workspace, export_dir):
    # given an export claimed by a first worker whose heartbeat then went stale
    make_calls(workspace, 3)
    export = _export(workspace)
    first = services.export_claim(str(export.pk))
    DataExport.objects.filter(pk=export.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.EXPORTS_STALE_SECONDS))

    # when the redelivered task takes it over
    second = services.export_claim(str(export.pk))
    assert second is not None

    # then the first worker stops at its next batch, and can neither complete nor fail it
    assert services.export_progress(first, rows=1, announce=False) is False
    assert services.export_progress(first, rows=1, announce=True) is False
    assert services.export_complete(first, rows=3, size_bytes=10, file_name="first.csv") is False
    services.export_fail(first, error="the first worker's failure")
    export.refresh_from_db()
    assert export.status == "running" and export.error is None
    # and the second writes it once
    assert services.export_progress(second, rows=3, announce=False) is True
    assert services.export_complete(second, rows=3, size_bytes=10, file_name="second.csv") is True
    export.refresh_from_db()
    assert export.status == "completed" and export.file_name == "second.csv"


class CancelingStorage(FileSystemStorage):
    """A storage during whose save the export is canceled (the user presses Cancel
    while the finished file is being uploaded)."""

    def _save(self, name, content):
        saved = super()._save(name, content)
        export_id = name.rsplit("/", 1)[-1].split(".")[0]
        export = DataExport.objects.select_related("workspace").get(pk=export_id)
        services.export_cancel(workspace=export.workspace, export_id=export_id)
        return saved


def test_an_export_canceled_while_its_file_is_saved_ends_canceled_and_keeps_no_file(
        workspace, tmp_path, settings):
    # given a storage in which the cancel lands while the file is being saved
    location = tmp_path / "exports"
    settings.STORAGES = {**settings.STORAGES, "exports": {
        "BACKEND": f"{__name__}.CancelingStorage", "OPTIONS": {"location": str(location)}}}
    make_calls(workspace, 3)
    export = _export(workspace)

    # when the runner writes it
    assert runner.export_run(str(export.pk)) == "canceled"

    # then it is canceled, with no file, and never said completed
    export.refresh_from_db()
    assert export.status == "canceled" and export.file_name == ""
    assert [path for path in location.rglob("*") if path.is_file()] == []
    assert [event["status"] for event in emitted(workspace, "data-export-status")] == [
        "queued", "running", "canceled"]


def test_a_workspace_runs_one_export_at_a_time_and_another_workspace_passes_its_queued_ones(
        workspace, other_workspace, export_dir):
    # given an export of this workspace running on one worker
    running = services.export_claim(str(_export(workspace).pk))
    assert running.status == "running"

    # when a worker takes this workspace's second export, then another workspace's
    second = _export(workspace, kind="ledger")
    theirs = _export(other_workspace)
    waited = services.export_claim(str(second.pk))
    claimed = services.export_claim(str(theirs.pk))

    # then the second waits, still queued and announced as nothing new, and theirs runs
    assert waited is services.WAITING
    assert DataExport.objects.get(pk=second.pk).status == "queued"
    assert claimed.status == "running"
    assert [event["status"] for event in emitted(workspace, "data-export-status")
            if event["export_id"] == str(second.pk)] == ["queued"]

    # and once the first has finished, the second is claimed
    services.export_complete(running, rows=0, size_bytes=0, file_name="")
    assert services.export_claim(str(second.pk)).status == "running"


def test_an_export_whose_worker_stopped_beating_holds_its_workspace_no_longer(workspace, export_dir):
    # given a running export whose heartbeat is half the stale limit old (its worker died)
    first = _export(workspace)
    services.export_claim(str(first.pk))
    DataExport.objects.filter(pk=first.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.EXPORTS_STALE_SECONDS))

    # when the workspace's next export is claimed, then it runs
    assert services.export_claim(str(_export(workspace, kind="ledger").pk)).status == "running"


@override_settings(EXPORTS_MAX_RUNNING_PER_WORKSPACE=2)
def test_the_share_of_workers_a_workspace_holds_is_a_setting(workspace, export_dir):
    services.export_claim(str(_export(workspace).pk))
    assert services.export_claim(str(_export(workspace, kind="ledger").pk)).status == "running"
    assert services.export_claim(str(_export(workspace, kind="ledger").pk)) is services.WAITING
