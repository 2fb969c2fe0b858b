"""What one workspace may ask of POST /api/v1/calls (docs/operations.md, limits):
`variables` of bounded size and depth, and at most CALLS_MAX_ACTIVE_PER_WORKSPACE
active calls, held under concurrency. Past either: a clean 4xx, nothing created."""

import pytest
from django.db import connection
from django.test import Client

from calls import services
from calls.models import Call
from calls.tests.helpers import place
from conftest import KeyedClient
from project.testing import at_once
from realtime.models import Event

URL = "/api/v1/calls"
NUMBER = "+14155550123"


def error_of(response) -> dict:
    assert set(response.json()) == {"error"}
    return response.json()["error"]


@pytest.mark.django_db
def test_variables_past_the_size_limit_are_refused_and_nothing_is_created(write_key, settings):
    # given a limit of 1 KiB of JSON
    settings.VOICE_RUNTIME = "ingest"  # nothing plays the calls
    settings.CALLS_MAX_VARIABLES_BYTES = 1024

    # when a call comes with variables of exactly 1 KiB, then with 1 byte more, then
    # with 600 characters that take 1,200 bytes
    exact = write_key.post(URL, {"to_number": NUMBER, "variables": {"n": "x" * 1016}})
    over = write_key.post(URL, {"to_number": NUMBER, "variables": {"n": "x" * 1017}})
    wide = write_key.post(URL, {"to_number": NUMBER, "variables": {"n": "é" * 600}})

    # then the first is placed; the others are 400 variables_too_large and create nothing
    assert exact.status_code == 201
    for refused, size in ((over, 1025), (wide, 1208)):
        assert refused.status_code == 400
        assert error_of(refused)["code"] == "variables_too_large"
        assert error_of(refused)["details"] == {"max_bytes": 1024, "bytes": size}
    assert Call.objects.count() == 1
    assert Event.objects.filter(type="call-created").count() == 1


@pytest.mark.django_db
def test_variables_nested_past_the_depth_limit_are_refused(write_key, settings):
    # given a depth limit of 8
    settings.VOICE_RUNTIME = "ingest"
    settings.CALLS_MAX_VARIABLES_DEPTH = 8

    def nested(levels: int) -> dict:
        """Objects and arrays in turn, `levels` deep, an object outermost."""
        value: object = 1
        for level in range(levels):
            value = {"n": value} if (levels - level) % 2 else [value]
        return value

    # when variables nest 8, then 9, then 400 levels deep
    answers = [
        write_key.post(URL, {"to_number": NUMBER, "variables": nested(levels)}) for levels in (8, 9, 400)
    ]

    # then only the first is placed
    assert [answer.status_code for answer in answers] == [201, 400, 400]
    assert {error_of(answer)["code"] for answer in answers[1:]} == {"variables_too_deep"}
    assert Call.objects.count() == 1


@pytest.mark.django_db
def test_a_workspace_at_its_active_cap_gets_429_with_retry_after_until_a_call_ends(
    write_key, workspace, settings
):
    # given a cap of 2 active calls, both taken
    settings.VOICE_RUNTIME = "ingest"
    settings.CALLS_MAX_ACTIVE_PER_WORKSPACE = 2
    first, _ = place(workspace), place(workspace)

    # when another call is placed
    refused = write_key.post(URL, {"to_number": NUMBER})

    # then it is 429 too_many_active_calls with Retry-After, in the error shape, and nothing is created
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "too_many_active_calls"
    assert error_of(refused)["details"] == {"active_calls": 2, "max_active_calls": 2}
    assert int(refused["Retry-After"]) > 0
    assert Call.objects.count() == 2

    # and once a call has ended, the next one is placed
    services.call_hangup(workspace=workspace, call_id=first.pk)
    assert write_key.post(URL, {"to_number": NUMBER}).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_creates_at_once_cannot_both_take_the_last_slot(write_key, workspace, settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent transactions and row locks")
    # given a cap of 3 with 2 calls active: one slot left
    settings.VOICE_RUNTIME = "ingest"
    settings.CALLS_MAX_ACTIVE_PER_WORKSPACE = 3
    place(workspace), place(workspace)

    def create():
        client = KeyedClient(key=write_key.key, api_key=write_key.api_key, client=Client())
        return client.post(URL, {"to_number": NUMBER}).status_code

    # when six clients place a call at the same moment
    statuses = at_once(create, 6)

    # then exactly one takes the slot, the others are refused, and the cap holds
    assert sorted(statuses) == [201] + [429] * 5
    assert Call.objects.filter(workspace=workspace).count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_variables_with_numbers_json_does_not_have_are_refused(write_key, settings, number):
    # given a body that Python's JSON parser reads but JSON (and PostgreSQL) has no such number
    settings.VOICE_RUNTIME = "ingest"
    body = f'{{"to_number": "{NUMBER}", "variables": {{"score": {number}}}}}'

    # when a call is placed with it
    response = write_key.post(URL, body)

    # then it is a clean 400, and nothing is created
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_variables"
    assert not Call.objects.exists()
