"""REST writes (unsafe methods under /api/v1/) take a token from their
principal's bucket: past the burst, 429 `rate_limited` with Retry-After in the
error shape. Another principal's writes and every read are unaffected; the
runtime ingest has a bucket of its own."""

import time

import pytest
from django.test import Client

from realtime.tests.streaming import unreachable_redis_url
from workspaces.keys import generate_key

BURST = 3
WAIT = 10
WRITE = "/api/v1/auth/sse-ticket"  # a POST any reader may make, cheap and harmless


@pytest.fixture(autouse=True)
def small_buckets(settings):
    settings.API_WRITE_BURST = BURST
    settings.API_WRITE_RATE_PER_SECOND = 0.01  # no token comes back during a test


def writes(client, times: int) -> list[int]:
    return [client.post(WRITE).status_code for _ in range(times)]


def assert_rate_limited(response):
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    retry_after = int(response["Retry-After"])
    assert retry_after >= 1
    assert error["details"] == {"retry_after": retry_after}


def test_writes_past_the_burst_get_429_rate_limited_with_retry_after(workspace, read_key):
    # when a key writes BURST times, then once more
    statuses = writes(read_key, BURST)
    over = read_key.post(WRITE)

    # then the burst is served and the next write waits
    assert statuses == [200] * BURST
    assert_rate_limited(over)


def test_another_principals_writes_are_unaffected(workspace, read_key, write_key, outsider_key,
                                                  teammate, signed_in):
    # given a key that used its burst
    writes(read_key, BURST + 1)

    # when another key of the same workspace, another workspace's key and a user write
    same_workspace = writes(write_key, BURST)
    other_tenant = writes(outsider_key, BURST)
    user = writes(signed_in(teammate, enforce_csrf=False), BURST)

    # then each has its own bucket
    assert same_workspace == other_tenant == user == [200] * BURST


def test_reads_are_not_limited(workspace, read_key):
    # given a key that used its burst
    writes(read_key, BURST + 1)

    # when it reads, more often than the burst
    statuses = [read_key.get("/api/v1/workspace").status_code for _ in range(BURST + 2)]

    # then every read is served
    assert statuses == [200] * (BURST + 2)


def test_a_session_users_writes_are_limited_too(workspace, owner, signed_in):
    client = signed_in(owner, enforce_csrf=False)

    statuses = writes(client, BURST)
    over = client.post(WRITE)

    assert statuses == [200] * BURST
    assert_rate_limited(over)


def test_the_runtime_ingest_has_a_bucket_of_its_own(workspace, runtime_key, settings):
    # given a runtime bucket larger than the writes' one
    settings.RUNTIME_INGEST_BURST = BURST + 2
    settings.RUNTIME_INGEST_RATE_PER_SECOND = 0.01

    # when the runtime reports more batches than the write burst, then past its own
    statuses = [runtime_key.post("/api/v1/runtime/events", {"events": []}).status_code
                for _ in range(BURST + 2)]
    over = runtime_key.post("/api/v1/runtime/events", {"events": []})

    # then
    assert statuses == [200] * (BURST + 2)
    assert_rate_limited(over)


def test_tokens_come_back_at_the_configured_rate(workspace, read_key, settings):
    # given a bucket of one refilled twenty times a second, just emptied
    settings.API_WRITE_BURST = 1
    settings.API_WRITE_RATE_PER_SECOND = 20
    assert read_key.post(WRITE).status_code == 200

    # when the key keeps writing (polled)
    deadline = time.monotonic() + WAIT
    while (status := read_key.post(WRITE).status_code) == 429:
        assert time.monotonic() < deadline, "no token came back"
        time.sleep(0.02)

    # then a token came back
    assert status == 200


def test_every_operation_that_takes_a_key_documents_the_429(openapi):
    # when the published document is read
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") and "429" not in operation["responses"]
    ]

    # then every operation a key can call may answer 429 (throttled key, rate limit), in the error shape
    assert undocumented == []


def test_the_limits_let_requests_through_while_redis_is_down(workspace, admin_key, settings):
    # given a key past its burst, then Redis unreachable
    writes(admin_key, BURST + 1)
    settings.REDIS_URL = unreachable_redis_url()

    # when the key writes, and a wrong key is tried past the failure limit
    created = admin_key.post("/api/v1/api-keys", {"name": "ci", "scopes": ["read"]})
    settings.API_KEY_FAILURE_LIMIT = 1
    wrong = [Client().get("/api/v1/workspace", HTTP_AUTHORIZATION=f"Bearer {generate_key().plaintext}")
             .status_code for _ in range(3)]

    # then the limits fail open: fairness waits for Redis, the API does not
    assert created.status_code == 201
    assert wrong == [401, 401, 401]
