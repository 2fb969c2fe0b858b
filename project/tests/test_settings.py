"""A deployment that forgets SECRET_KEY does not start; development does."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

START_DJANGO = "import django; django.setup(); print('started')"


def start_django(**overrides: str | None) -> subprocess.CompletedProcess:
    """Runs django.setup() in a fresh interpreter; a None override removes the variable."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings"}
    for name in ("DEBUG", "SECRET_KEY"):
        env.pop(name, None)
    for name, value in overrides.items():
        if value is not None:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-c", START_DJANGO],
        env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.e2e
@pytest.mark.parametrize("debug", [None, "false", "0", "off"])
def test_without_secret_key_and_debug_off_it_refuses_to_start(debug):
    # when
    result = start_django(DEBUG=debug)

    # then
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.e2e
def test_the_public_development_key_is_refused_with_debug_off():
    # when
    result = start_django(SECRET_KEY=settings.DEVELOPMENT_SECRET_KEY, DEBUG="false")

    # then
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("debug", ["true", "1", "on"])
def test_without_secret_key_it_starts_for_development(debug):
    # when
    result = start_django(DEBUG=debug)

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


@pytest.mark.e2e
def test_with_a_secret_key_it_starts_with_debug_off():
    # when
    result = start_django(SECRET_KEY="a-long-random-value-for-production", DEBUG="false")

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


PUBLISH_URL = {"GRIP_PUBLISH_URL": "http://127.0.0.1:5561/publish/"}
SIG_KEY = {"GRIP_SIG_KEY": "k" * 32}


@pytest.mark.e2e
@pytest.mark.parametrize(("env", "message"), [
    ({"REALTIME_FRONT": "nginx"}, "REALTIME_FRONT must be 'inprocess' or 'pushpin'"),
    ({"REALTIME_FRONT": "pushpin", **SIG_KEY}, "needs GRIP_PUBLISH_URL"),
    ({"REALTIME_FRONT": "pushpin", **SIG_KEY, "GRIP_PUBLISH_URL": "localhost:5561"}, "GRIP_PUBLISH_URL"),
    ({"REALTIME_FRONT": "pushpin", **PUBLISH_URL}, "needs GRIP_SIG_KEY"),
    ({"REALTIME_FRONT": "pushpin", **PUBLISH_URL, "GRIP_SIG_KEY": "k" * 31}, "32 characters"),
    ({"GRIP_REFRESH_SECONDS": "60"}, "GRIP_REFRESH_SECONDS must be 1 to 15"),
])
def test_a_stream_front_it_cannot_use_refuses_to_start(env, message):
    # when
    result = start_django(SECRET_KEY="a-test-secret-key", DEBUG="false", **env)

    # then
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


@pytest.mark.e2e
def test_pushpin_in_front_starts_with_its_publish_url_and_key():
    result = start_django(SECRET_KEY="a-test-secret-key", DEBUG="false", REALTIME_FRONT="pushpin",
                          **PUBLISH_URL, **SIG_KEY)

    assert result.returncode == 0, result.stderr
