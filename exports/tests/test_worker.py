"""End to end with real Celery workers: requested over REST, written by the worker
from the `exports` queue, downloaded over REST; canceled mid-run; one workspace's
exports one at a time while another's pass; a task the broker lost, sent again."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from conftest import _key_client
from exports import services
from exports.models import DataExport
from exports.tests.helpers import csv_rows, make_calls
from project.testing import emitted, wait_for, worker_process

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _status(export_id: str) -> DataExport:
    return DataExport.objects.get(pk=export_id)


def test_request_task_file_download(tmp_path, workspace, write_key, settings):
    # given calls, and a worker writing exports into a directory of the test's own
    calls = make_calls(workspace, 1234)
    make_calls(workspace, 5, status="failed")
    settings.STORAGES = {**settings.STORAGES, "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "x")}}}
    env = {"EXPORTS_DIR": str(tmp_path / "x"), "EXPORTS_BATCH_ROWS": "100"}
    with worker_process(tmp_path, env=env) as worker:
        # when an export of the completed calls is requested
        response = write_key.post("/api/v1/exports", {"kind": "calls", "format": "csv",
                                                      "filters": {"status": "completed"}})
        assert response.status_code == 202
        export_id = response.json()["id"]

        # then the worker completes it
        wait_for(lambda: _status(export_id).status == "completed", timeout=60,
                 message=lambda: f"not completed: {_status(export_id).status}\n{worker.log()[-3000:]}")

    # and the file downloads through the export's link, every row once
    body = write_key.get(f"/api/v1/exports/{export_id}").json()
    assert body["row_count"] == 1234 and body["progress"] == 100
    download = write_key.get(body["download_url"])
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    assert len(data) == body["size_bytes"]
    assert [row["id"] for row in csv_rows(data)] == [str(call.pk) for call in calls]
    statuses = [event["status"] for event in emitted(workspace, "data-export-status")]
    assert statuses[0] == "queued" and statuses[1] == "running" and statuses[-1] == "completed"


def test_cancel_mid_run_stops_the_worker_and_leaves_no_file(tmp_path, workspace, write_key):
    # given an export the worker writes in many small batches
    make_calls(workspace, 4000)
    files = tmp_path / "x"
    env = {"EXPORTS_DIR": str(files), "EXPORTS_BATCH_ROWS": "5", "EXPORTS_PROGRESS_INTERVAL_SECONDS": "0"}
    with worker_process(tmp_path, env=env) as worker:
        export_id = write_key.post("/api/v1/exports", {"kind": "calls"}).json()["id"]
        wait_for(lambda: _status(export_id).row_count > 0, timeout=60,
                 message=lambda: f"no progress: {worker.log()[-3000:]}")

        # when it is canceled while running
        response = write_key.post(f"/api/v1/exports/{export_id}/cancel")
        assert response.status_code == 200

        # then the worker stops: the next export (the worker takes one at a time) completes
        # after it, and the canceled one wrote no file and counted no more rows
        canceled_at = _status(export_id).row_count
        next_id = write_key.post("/api/v1/exports", {"kind": "ledger"}).json()["id"]
        wait_for(lambda: _status(next_id).status == "completed", timeout=60,
                 message=lambda: f"next export not completed: {worker.log()[-3000:]}")

    export = _status(export_id)
    assert export.status == "canceled" and export.file_name == ""
    assert canceled_at <= export.row_count < 4000
    assert export.row_count - canceled_at <= 5  # at most the batch in hand when it was canceled
    assert {path.name for path in files.rglob("*")} == {str(workspace.pk), f"{next_id}.csv"}
    events = [event for event in emitted(workspace, "data-export-status") if event["export_id"] == export_id]
    assert events[-1]["status"] == "canceled"


def test_two_workers_run_another_workspace_s_export_before_a_workspace_s_second(
        tmp_path, workspace, other_workspace, write_key):
    # given two exports workers, and three slow exports requested in this order:
    # two of this workspace, then one of another
    make_calls(workspace, 1500)
    make_calls(other_workspace, 1500)
    theirs_key = _key_client(other_workspace, "write")
    env = {"EXPORTS_DIR": str(tmp_path / "x"), "EXPORTS_BATCH_ROWS": "5",
           "EXPORTS_PROGRESS_INTERVAL_SECONDS": "0", "EXPORTS_WAIT_SECONDS": "0.2"}
    with worker_process(tmp_path, env=env, name="w1"), worker_process(tmp_path, env=env, name="w2") as worker:
        first = write_key.post("/api/v1/exports", {"kind": "calls"}).json()["id"]
        wait_for(lambda: _status(first).status == "running", timeout=60, message=lambda: worker.log()[-3000:])
        second = write_key.post("/api/v1/exports", {"kind": "calls", "format": "jsonl"}).json()["id"]
        theirs = theirs_key.post("/api/v1/exports", {"kind": "calls"}).json()["id"]

        # when the workers have written all three
        ids = (first, second, theirs)
        wait_for(lambda: all(_status(e).status == "completed" for e in ids), timeout=120,
                 message=lambda: f"{[_status(e).status for e in ids]}\n{worker.log()[-3000:]}")

    # then the other workspace's export ran beside this workspace's first, and this
    # workspace's second started only once its first had finished
    first, second, theirs = _status(first), _status(second), _status(theirs)
    assert theirs.started_at < first.completed_at
    assert second.started_at >= first.completed_at
    assert second.row_count == theirs.row_count == 1500


def test_a_queued_export_whose_task_the_broker_lost_is_sent_again_by_the_sweep(tmp_path, workspace):
    # given a queued export whose task never reached the broker (no message; its
    # heartbeat went stale), and a worker
    make_calls(workspace, 7)
    export = DataExport.objects.create(
        workspace=workspace, kind="calls", format="csv", filters={},
        heartbeat_at=timezone.now() - timedelta(seconds=settings.EXPORTS_STALE_SECONDS + 1))
    with worker_process(tmp_path, env={"EXPORTS_DIR": str(tmp_path / "x")}) as worker:
        # when the beat's sweep runs
        services.expire_due_exports()

        # then the export is written
        wait_for(lambda: _status(export.pk).status == "completed", timeout=60,
                 message=lambda: f"{_status(export.pk).status}\n{worker.log()[-3000:]}")
    assert _status(export.pk).row_count == 7
