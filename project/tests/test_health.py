"""Liveness (/healthz) and readiness (/readyz) probes, against a real Redis."""

import pytest
from django.test import Client, override_settings

from project.local_redis import PrivateRedis, free_loopback_port


def test_healthz_says_the_process_is_up(db):
    # when
    response = Client().get("/healthz")

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_does_not_touch_the_database():
    # given a test without database access: any query would fail it

    # when
    response = Client().get("/healthz")

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_database_and_redis_answer(db):
    # when
    response = Client().get("/readyz")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok"},
        "failed": [],
    }


@pytest.fixture
def private_redis():
    redis_server = PrivateRedis().start()
    try:
        yield redis_server
    finally:
        redis_server.stop()


def test_readyz_is_503_naming_redis_when_redis_goes_down(db, private_redis):
    # given a Redis of our own that answers
    with override_settings(REDIS_URL=private_redis.url):
        before = Client().get("/readyz")

        # when it goes down
        private_redis.stop()
        after = Client().get("/readyz")

    # then
    assert before.status_code == 200
    assert before.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert after.status_code == 503
    body = after.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["redis"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable")


def test_readyz_is_503_when_redis_was_never_there(db):
    # given a Redis URL where nothing listens (a port just taken from the OS and let go)
    nothing_there = f"redis://127.0.0.1:{free_loopback_port()}/0"

    # when
    with override_settings(REDIS_URL=nothing_there):
        response = Client().get("/readyz")

    # then
    assert response.status_code == 503
    assert response.json()["failed"] == ["redis"]
