"""Who may report on a call (docs/runtime.md): the runtime that plays it. A call
records at creation which runtime was asked to play it; an ingest key cannot
answer, end or talk over the calls the simulated runtime is playing."""

import pytest

from calls.ingest import ingest_batch
from calls.models import Call, RuntimeReceipt
from calls.tests.test_ingest import TRANSCRIPT, URL, item

pytestmark = pytest.mark.django_db


def placed_over_the_api(write_key) -> Call:
    response = write_key.post("/api/v1/calls", {"to_number": "+14155550123"})
    assert response.status_code == 201
    return Call.objects.get(pk=response.json()["id"])


def test_an_ingest_key_cannot_report_on_a_call_the_simulator_plays(runtime_key, write_key, settings):
    # given a call placed while the simulated runtime plays the calls
    settings.VOICE_RUNTIME = "simulated"
    call = placed_over_the_api(write_key)

    # when an ingest key reports on it
    response = runtime_key.post(URL, {"events": [
        item(call, "ring", "call-status", {"status": "ringing"}),
        item(call, "free", "call-status", {"status": "completed"}),
        item(call, "say", "call-transcript", TRANSCRIPT),
    ]})

    # then every item is refused with its own code, and nothing changed
    assert call.runtime == "simulated"
    assert response.status_code == 200 and response.json()["accepted"] == 0
    assert {error["code"] for error in response.json()["errors"]} == {"call_played_by_another_runtime"}
    assert Call.objects.get(pk=call.pk).status == "queued"
    assert not RuntimeReceipt.objects.exists()


def test_the_simulator_reports_on_its_own_calls_in_process(workspace, write_key, settings):
    # given a call the simulated runtime plays
    settings.VOICE_RUNTIME = "simulated"
    call = placed_over_the_api(write_key)

    # when the simulator reports its ring (in process, as its Celery step does)
    result = ingest_batch(workspace, [item(call, "sim-ring", "call-status", {"status": "ringing"})],
                          reporter="simulated")

    # then it is applied
    assert (result.accepted, result.errors) == (1, [])
    assert Call.objects.get(pk=call.pk).status == "ringing"


def test_a_call_for_the_external_runtime_takes_its_reports_and_not_the_simulators(
    workspace, runtime_key, write_key, settings
):
    # given a call placed while an external runtime plays the calls
    settings.VOICE_RUNTIME = "ingest"
    call = placed_over_the_api(write_key)

    # when the external runtime reports its ring, and the simulator tries to end it
    over_http = runtime_key.post(URL, {"events": [item(call, "ring", "call-status", {"status": "ringing"})]})
    simulated = ingest_batch(workspace, [item(call, "sim-end", "call-status", {"status": "busy"})],
                             reporter="simulated")

    # then the first is applied and the second refused
    assert call.runtime == "ingest"
    assert over_http.json() == {"accepted": 1, "duplicates": 0, "errors": []}
    assert [error["code"] for error in simulated.errors] == ["call_played_by_another_runtime"]
    assert Call.objects.get(pk=call.pk).status == "ringing"
