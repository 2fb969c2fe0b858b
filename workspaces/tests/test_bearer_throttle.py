"""Failed bearer keys are throttled per client address: at the limit, every
bearer attempt from that address is 429 `too_many_failed_attempts` with
Retry-After until the window ends, before any key is looked up; other
addresses are unaffected."""

import time

import pytest
from django.test import Client

from workspaces.keys import generate_key

LIMIT = 3
WAIT = 10
ATTACKER = "203.0.113.7"
NEIGHBOUR = "203.0.113.8"


@pytest.fixture(autouse=True)
def short_limits(settings):
    settings.API_KEY_FAILURE_LIMIT = LIMIT
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 60
    # No key verified moments ago is reused: every attempt is a lookup.
    settings.API_KEY_CACHE_SECONDS = 0


def bearer_get(key: str, *, address: str, **headers):
    return Client(REMOTE_ADDR=address).get(
        "/api/v1/workspace", HTTP_AUTHORIZATION=f"Bearer {key}", **headers)


def wrong_key() -> str:
    return generate_key().plaintext


def fail(times: int, *, address: str = ATTACKER, **headers) -> list[int]:
    return [bearer_get(wrong_key(), address=address, **headers).status_code for _ in range(times)]


def assert_throttled(response):
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "too_many_failed_attempts"
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert error["details"] == {"retry_after": retry_after}


def test_failed_keys_from_one_address_are_throttled_with_retry_after(workspace):
    # when an address presents LIMIT wrong keys, then another
    statuses = fail(LIMIT)
    throttled = bearer_get(wrong_key(), address=ATTACKER)

    # then the failures were 401 and the next attempt is 429 in the error shape
    assert statuses == [401] * LIMIT
    assert_throttled(throttled)


def test_another_address_is_unaffected(workspace, read_key):
    # given a throttled address
    fail(LIMIT)

    # when another address presents a wrong key and a right one
    wrong = bearer_get(wrong_key(), address=NEIGHBOUR)
    right = bearer_get(read_key.key, address=NEIGHBOUR)

    # then it is answered as ever
    assert wrong.status_code == 401
    assert right.status_code == 200


def test_a_valid_key_from_a_throttled_address_waits_too(workspace, read_key):
    # given a throttled address
    fail(LIMIT)

    # when a valid key comes from it
    response = bearer_get(read_key.key, address=ATTACKER)

    # then it waits like any other: nothing is known of a key before its lookup
    assert_throttled(response)


def test_the_throttle_ends_with_its_window(workspace, read_key, settings):
    # given a short window and a throttled address
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 1
    fail(LIMIT)
    assert bearer_get(read_key.key, address=ATTACKER).status_code == 429

    # when the window ends (polled)
    deadline = time.monotonic() + WAIT
    while (status := bearer_get(read_key.key, address=ATTACKER).status_code) == 429:
        assert time.monotonic() < deadline, "the throttle did not end"
        time.sleep(0.1)

    # then the address is served again
    assert status == 200


def test_a_session_is_not_throttled_by_its_addresss_failed_keys(workspace, owner, signed_in):
    # given a throttled address
    fail(LIMIT)

    # when a signed-in user of that address reads
    client = signed_in(owner)
    response = client.get("/api/v1/workspace", REMOTE_ADDR=ATTACKER)

    # then the session is served: the throttle counts bearer keys only
    assert response.status_code == 200


def test_forwarded_addresses_are_ignored_unless_the_proxy_is_trusted(workspace, read_key, settings):
    # given no trusted proxy: a client varying X-Forwarded-For is still one address
    statuses = [bearer_get(wrong_key(), address=ATTACKER, HTTP_X_FORWARDED_FOR=f"10.9.9.{n}").status_code
                for n in range(LIMIT + 1)]
    assert statuses == [401] * LIMIT + [429]

    # when a trusted proxy forwards, the address it appended (the last) counts,
    # not one the client wrote before it
    settings.TRUST_PROXY_HEADERS = True
    fail(LIMIT, address="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 192.0.2.50")
    throttled = bearer_get(read_key.key, address="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 192.0.2.50")
    spoofed = bearer_get(read_key.key, address="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.50, 192.0.2.51")

    # then
    assert_throttled(throttled)
    assert spoofed.status_code == 200
