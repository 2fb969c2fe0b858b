"""Exports on S3-compatible storage (EXPORTS_STORAGE=s3), against a real S3 API:
moto's server, started by the test on 127.0.0.1 (pure Python, no Docker)."""

import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta

import boto3
import httpx
import pytest
from django.utils import timezone

from exports import runner, services
from exports.models import DataExport
from exports.tasks import expire_exports
from exports.tests.helpers import jsonl_rows, make_calls
from project.local_redis import free_loopback_port
from project.testing import stop_process, wait_for

pytestmark = pytest.mark.django_db
BUCKET = "callboard-exports"
CREDENTIALS = {"access_key": "testing", "secret_key": "testing", "region_name": "us-east-1"}  # moto's


@contextmanager
def moto_server(tmp_path):
    port = free_loopback_port()
    log_path = tmp_path / "moto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        def up():
            try:
                return httpx.get(f"{url}/moto-api/", timeout=1).status_code < 500
            except httpx.TransportError:
                return False

        wait_for(up, timeout=30, message=lambda: f"moto did not start: {log_path.read_text()}")
        yield url
    finally:
        stop_process(process)


@pytest.fixture
def s3(tmp_path, settings):
    """The `exports` storage on a bucket of a moto server of the test's own; yields
    a boto3 client of that server."""
    with moto_server(tmp_path) as url:
        client = boto3.client("s3", endpoint_url=url, aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        settings.STORAGES = {**settings.STORAGES, "exports": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": BUCKET, "endpoint_url": url, "location": "exports",
                        "default_acl": None, "file_overwrite": True, "querystring_auth": False,
                        **CREDENTIALS},
        }}
        yield client


def test_an_export_is_written_to_s3_downloaded_from_it_and_deleted_at_expiry(s3, workspace, read_key):
    # given calls, and an export of them written by the worker's code
    calls = make_calls(workspace, 7)
    export = services.export_create(workspace=workspace, kind="calls", format="jsonl", filters={})
    assert runner.export_run(str(export.pk)) == "completed"
    export.refresh_from_db()

    # then the object is in the bucket, as big as the export says
    key = f"exports/{export.file_name}"
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == export.size_bytes

    # and the signed link streams it back
    url = read_key.get(f"/api/v1/exports/{export.pk}").json()["download_url"]
    response = read_key.get(url)
    assert response.status_code == 200
    rows = jsonl_rows(b"".join(response.streaming_content))
    assert [row["id"] for row in rows] == [str(call.pk) for call in calls]

    # when its retention is over, the beat deletes the object
    DataExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert expire_exports() == 1
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    assert read_key.get(url).status_code == 410
