"""Static files come from the app itself (WhiteNoise): straight from the app
directories on a fresh clone, and hashed, compressed and cached for a year in a
release that ran `collectstatic` with STATIC_MANIFEST."""

import os
import re
import subprocess
import sys

import httpx
import pytest
from django.conf import settings

from project.testing import running_server


def test_a_fresh_clone_serves_the_dashboard_script_without_collecting(client):
    response = client.get("/static/dashboard/dashboard.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "max-age=60" in response["Cache-Control"]
    assert b"EventSource" in b"".join(response.streaming_content)


def test_an_unknown_static_file_is_a_404(client):
    assert client.get("/static/dashboard/nothing-here.js").status_code == 404


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_release_serves_hashed_compressed_files_cached_for_a_year(tmp_path):
    release = {"STATIC_MANIFEST": "true", "STATIC_ROOT": str(tmp_path / "static")}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=settings.BASE_DIR,
        check=True,
        timeout=120,
        env={**os.environ, "SECRET_KEY": "test-secret", **release},
    )

    with running_server(tmp_path, env=release) as server:
        page = httpx.get(f"{server.url}/admin/login/", timeout=10).text
        stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
        assert stylesheet, page
        css = httpx.get(f"{server.url}{stylesheet.group(1)}", headers={"Accept-Encoding": "gzip"}, timeout=10)

    assert css.status_code == 200
    assert "immutable" in css.headers["Cache-Control"]
    assert css.headers["Content-Encoding"] == "gzip"
    assert "body" in css.text
