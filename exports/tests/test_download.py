"""Downloads, signed links and retention (docs/exports.md "Links and expiry")."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import signing
from django.utils import timezone

from exports import links, runner, services
from exports.models import DataExport
from exports.tasks import expire_exports
from exports.tests.helpers import csv_rows, make_calls
from project.testing import emitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed(workspace, export_dir) -> DataExport:
    make_calls(workspace, 3)
    export = services.export_create(workspace=workspace, kind="calls", format="csv", filters={})
    assert runner.export_run(str(export.pk)) == "completed"
    export.refresh_from_db()
    return export


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_signed_link_streams_the_file_as_an_attachment(read_key, completed):
    # given the export as REST shows it
    url = read_key.get(f"/api/v1/exports/{completed.pk}").json()["download_url"]

    # when
    response = read_key.get(url)

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{completed.download_name}"'
    assert int(response["Content-Length"]) == completed.size_bytes
    assert len(csv_rows(_body(response))) == 3


def test_a_signed_in_member_downloads_without_the_token(signed_in, owner, completed):
    response = signed_in(owner).get(f"/api/v1/exports/{completed.pk}/download")

    assert response.status_code == 200
    assert len(csv_rows(_body(response))) == 3


def test_the_link_does_not_work_for_another_workspace(outsider_key, read_key, completed):
    url = read_key.get(f"/api/v1/exports/{completed.pk}").json()["download_url"]

    response = outsider_key.get(url)

    assert response.status_code == 404


class _SignedLongAgo(signing.TimestampSigner):
    """Signs as the server did EXPORT_LINK_TTL_SECONDS and a second ago."""

    def timestamp(self):
        return signing.b62_encode(int(time.time()) - settings.EXPORT_LINK_TTL_SECONDS - 1)


def test_an_old_link_is_410(read_key, completed):
    # given a link handed out longer ago than its time to live
    claims = {"export": str(completed.pk), "workspace": str(completed.workspace_id)}
    token = _SignedLongAgo(salt=links.SALT).sign_object(claims, compress=True)

    # when
    response = read_key.get(f"/api/v1/exports/{completed.pk}/download?token={token}")

    # then
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "download_link_expired"


@pytest.mark.parametrize("tamper", ["flip", "other-export", "garbage"])
def test_a_tampered_link_is_403(read_key, workspace, completed, tamper):
    url = read_key.get(f"/api/v1/exports/{completed.pk}").json()["download_url"]
    token = url.split("token=")[1]
    if tamper == "flip":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif tamper == "other-export":
        other = services.export_create(workspace=workspace, kind="calls", format="csv", filters={})
        token = read_key.get(f"/api/v1/exports/{completed.pk}").json()["download_url"].split("token=")[1]
        completed = other
    else:
        token = "not-a-token"

    response = read_key.get(f"/api/v1/exports/{completed.pk}/download?token={token}")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_download_link"


def test_retention_deletes_the_file_and_the_export_expires(read_key, workspace, completed, export_dir):
    # given the export's retention is over
    path = export_dir / completed.file_name
    assert path.exists()
    url = read_key.get(f"/api/v1/exports/{completed.pk}").json()["download_url"]
    DataExport.objects.filter(pk=completed.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    # when the beat's task runs
    assert expire_exports() == 1

    # then the file is gone, the export is expired, and said so; a download is 410
    assert not path.exists()
    completed.refresh_from_db()
    assert completed.status == "expired" and completed.file_name == ""
    assert emitted(workspace, "data-export-status")[-1]["status"] == "expired"
    response = read_key.get(url)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "export_expired"
    assert read_key.get(f"/api/v1/exports/{completed.pk}").json()["download_url"] is None
    assert expire_exports() == 0


def test_an_export_within_its_retention_is_kept(completed):
    assert expire_exports() == 0
    completed.refresh_from_db()
    assert completed.status == "completed"


def test_a_running_export_whose_worker_stopped_is_failed_by_the_beat(workspace, export_dir):
    export = services.export_create(workspace=workspace, kind="calls", format="csv", filters={})
    services.export_claim(str(export.pk))
    DataExport.objects.filter(pk=export.pk).update(heartbeat_at=timezone.now() - timedelta(hours=2))

    expire_exports()

    export.refresh_from_db()
    assert export.status == "failed" and "stopped" in export.error
    assert emitted(workspace, "data-export-status")[-1]["status"] == "failed"


def test_a_file_the_storage_cannot_delete_does_not_stop_other_workspaces_expiring(
        workspace, other_workspace, export_dir):
    # given two exports past their retention, the older one's "file" a path the storage
    # refuses to delete (a directory that is not empty)
    make_calls(workspace, 1)
    make_calls(other_workspace, 1)
    stuck = services.export_create(workspace=workspace, kind="calls", format="csv", filters={})
    other = services.export_create(workspace=other_workspace, kind="calls", format="csv", filters={})
    assert runner.export_run(str(stuck.pk)) == "completed"
    assert runner.export_run(str(other.pk)) == "completed"
    (export_dir / "stuck" / "inside").mkdir(parents=True)
    now = timezone.now()
    DataExport.objects.filter(pk=stuck.pk).update(file_name="stuck", expires_at=now - timedelta(hours=2))
    DataExport.objects.filter(pk=other.pk).update(expires_at=now - timedelta(hours=1))

    # when the beat's task runs
    expire_exports()

    # then the other workspace's export expired; the stuck one is left for the next run
    other.refresh_from_db()
    stuck.refresh_from_db()
    assert other.status == "expired"
    assert stuck.status == "completed"
