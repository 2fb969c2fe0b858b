"""The event catalogue: every type of the contract (docs/reference/events.md), and what its payload
accepts."""

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from realtime import catalogue
from realtime.catalogue import Audience, EventData, UnknownEventType, register

# Written out from the contract (docs/reference/events.md#workspace-events, #call-events, #control-events),
# not from the code.
WORKSPACE_TYPES = [
    "call-created", "call-status", "call-ended", "call-recording-status", "call-escalated",
    "balance-updated", "payment-required", "notification", "campaign-status-changed",
    "campaign-progress", "schedule-status-changed", "schedule-executed", "data-export-status",
    "webhook-status-changed",
]
CALL_STREAM_TYPES = [
    "call-transcript", "call-interim", "call-tts", "call-tts-word", "call-speech", "call-turn",
    "call-node-transition", "call-dtmf", "call-tool", "call-recording", "call-metrics", "call-error",
]
CONTROL_TYPES = ["connected", "keep-alive", "lag-warning", "stream-reset", "shutdown", "stream-closed"]
EPHEMERAL_TYPES = ["call-interim", "call-tts-word"]

# The payload fields the contract names for each type (docs/reference/events.md; call-created is the call
# object, docs/reference/rest.md#calls).
SPEC_FIELDS = {
    "call-created": "id workspace_id direction source status from_number to_number agent current_node "
    "variables campaign_id schedule_id created_at started_at answered_at ended_at duration cost "
    "end_reason failure_code failure_reason recording_status recording_url",
    "call-status": "call_id status previous_status direction source from_number to_number active_calls",
    "call-ended": "call_id status end_reason failure_code failure_reason duration cost recording_url "
    "active_calls",
    "call-recording-status": "call_id recording_status recording_url",
    "call-escalated": "call_id escalation_id trigger reason",
    "balance-updated": "balance currency delta reason call_id",
    "payment-required": "balance threshold reason blocked",
    "campaign-status-changed": "campaign_id status previous_status",
    "campaign-progress": "campaign_id total pending in_progress completed failed percent",
    "schedule-status-changed": "schedule_id status previous_status",
    # The contract's five, and the run they are about (docs/schedules.md#events).
    "schedule-executed": "schedule_id executed_at call_id campaign_id next_run_at "
    "run_id scheduled_for outcome error",
    "data-export-status": "export_id status progress row_count download_url error",
    # Not in the contract's table: a webhook disabled by the sender, or by a user (docs/webhooks.md).
    "webhook-status-changed": "webhook_id enabled previous_enabled reason",
    "call-transcript": "role text confidence language duration_ms words",
    "call-interim": "role text",
    "call-tts": "text latency_ms",
    "call-tts-word": "word offset_ms",
    "call-speech": "role start_ms end_ms",
    "call-turn": "turn user_text agent_text latency_ms",
    "call-node-transition": "from_node to_node trigger",
    "call-dtmf": "digit duration_ms",
    "call-tool": "tool_name phase input output succeeded duration_ms error",
    "call-recording": "recording_status recording_url",
    "call-metrics": "turn_latency_ms stt_latency_ms llm_latency_ms tts_latency_ms",
    "call-error": "code message",
    "connected": "client_id stream resumed server_time keepalive_seconds",
    "lag-warning": "pending limit pending_bytes limit_bytes",
    "shutdown": "reconnect retry_ms",
    "stream-closed": "reason",
}

CALL_ID = "call_7f3a"
TRANSCRIPT = {
    "role": "user", "text": "I'd like to move my appointment", "confidence": 0.93, "language": "en-US",
    "duration_ms": 2140,
    "words": [{"text": "I'd", "start_ms": 0, "end_ms": 180, "confidence": 0.97}],
}


def test_every_event_type_of_the_contract_is_registered():
    # when
    emitted = catalogue.names()
    everything = catalogue.names(include_control=True)

    # then
    assert sorted(emitted) == sorted(WORKSPACE_TYPES + CALL_STREAM_TYPES)
    assert sorted(everything) == sorted(WORKSPACE_TYPES + CALL_STREAM_TYPES + CONTROL_TYPES)


@pytest.mark.parametrize(
    ("names", "audience"),
    [(WORKSPACE_TYPES, Audience.WORKSPACE), (CALL_STREAM_TYPES, Audience.CALL),
     (CONTROL_TYPES, Audience.CONTROL)],
    ids=["workspace-events", "call-stream-events", "control-events"],
)
def test_each_type_travels_to_the_audience_its_spec_section_names(names, audience):
    # then
    assert {name: catalogue.get(name).audience for name in names} == dict.fromkeys(names, audience)


@pytest.mark.parametrize(("name", "fields"), SPEC_FIELDS.items(), ids=list(SPEC_FIELDS))
def test_a_payload_has_exactly_the_fields_the_spec_names(name, fields):
    # given
    model = catalogue.get(name).data_model

    # then
    assert set(model.model_fields) == set(fields.split())


@pytest.mark.parametrize("name", WORKSPACE_TYPES + CALL_STREAM_TYPES + CONTROL_TYPES)
def test_a_payload_with_a_field_nobody_declared_is_refused(name):
    # when
    with pytest.raises(ValidationError) as raised:
        catalogue.validate_data(name, {"surprise": "field"})

    # then
    assert {"type": "extra_forbidden", "loc": ("surprise",)} in [
        {"type": error["type"], "loc": error["loc"]} for error in raised.value.errors()
    ]


def test_an_undeclared_field_inside_a_nested_object_is_refused_too():
    # given
    words = [{**TRANSCRIPT["words"][0], "speaker": "bob"}]

    # when
    with pytest.raises(ValidationError) as raised:
        catalogue.validate_data("call-transcript", {**TRANSCRIPT, "words": words})

    # then
    assert [(error["type"], error["loc"]) for error in raised.value.errors()] == [
        ("extra_forbidden", ("words", 0, "speaker"))
    ]


@pytest.mark.parametrize(
    ("name", "payload", "expected"),
    [
        (
            "balance-updated",
            {"balance": Decimal("12.50"), "currency": "USD", "delta": Decimal("-0.75"),
             "reason": "call-charge", "call_id": CALL_ID},
            {"balance": "12.50", "delta": "-0.75"},
        ),
        (
            "payment-required",
            {"balance": Decimal("0"), "threshold": Decimal("5.00"), "reason": "insufficient-balance",
             "blocked": True},
            {"balance": "0", "threshold": "5.00"},
        ),
        (
            "call-ended",
            {"call_id": CALL_ID, "status": "completed", "end_reason": "customer-hangup",
             "failure_code": None, "failure_reason": None, "duration": 61.5, "cost": Decimal("0.1025"),
             "recording_url": None, "active_calls": 0},
            {"cost": "0.1025"},
        ),
        (
            "schedule-executed",
            {"schedule_id": "sch_1", "run_id": "run_1",
             "scheduled_for": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
             "executed_at": datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC), "outcome": "executed", "error": None,
             "call_id": CALL_ID},
            {"scheduled_for": "2026-01-01T12:00:00Z", "executed_at": "2026-01-01T12:00:01Z"},
        ),
    ],
    ids=["balance-updated", "payment-required", "call-ended", "schedule-executed"],
)
def test_money_and_moments_come_out_as_strings_ready_for_json(name, payload, expected):
    # when
    data = catalogue.validate_data(name, payload)

    # then
    assert {field: data[field] for field in expected} == expected
    assert json.loads(json.dumps(data)) == data


def test_a_decimal_keeps_every_digit_it_was_given():
    # when
    data = catalogue.validate_data(
        "balance-updated",
        {"balance": "1000000.0001", "currency": "USD", "delta": "-0.0001", "reason": "adjustment"},
    )

    # then
    assert data == {"balance": "1000000.0001", "currency": "USD", "delta": "-0.0001",
                    "reason": "adjustment", "call_id": None}


def test_a_payload_may_be_given_as_its_model_instance():
    # given
    model = catalogue.get("call-transcript").data_model
    instance = model.model_validate(TRANSCRIPT)

    # when
    data = catalogue.validate_data("call-transcript", instance)

    # then
    assert data == TRANSCRIPT


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("call-dtmf", {"digit": "A", "duration_ms": 120}),
        ("call-dtmf", {"digit": "12", "duration_ms": 120}),
        ("call-transcript", {**TRANSCRIPT, "role": "system"}),
        ("call-transcript", {**TRANSCRIPT, "confidence": 1.5}),
        ("call-tool", {"tool_name": "lookup", "phase": "paused", "input": {}}),
        ("payment-required", {"balance": "1", "threshold": "5", "reason": "broke", "blocked": False}),
        ("balance-updated", {"balance": "1", "currency": "EUR", "delta": "1", "reason": "top-up"}),
        ("call-status", {"call_id": CALL_ID, "status": "ringing"}),
    ],
    ids=["dtmf-letter", "dtmf-two-digits", "transcript-role", "transcript-confidence", "tool-phase",
         "payment-reason", "currency", "missing-fields"],
)
def test_a_payload_outside_the_contract_is_refused(name, payload):
    # then
    with pytest.raises(ValidationError):
        catalogue.validate_data(name, payload)


@pytest.mark.parametrize("name", WORKSPACE_TYPES + CALL_STREAM_TYPES + CONTROL_TYPES)
def test_only_final_speech_and_lifecycle_events_are_persisted(name):
    # given
    persisted = name not in EPHEMERAL_TYPES and name not in CONTROL_TYPES

    # then
    assert catalogue.get(name).persisted is persisted


class Impostor(EventData):
    """A payload that is not the notification object."""

    headline: str


def test_registering_another_model_under_a_taken_name_is_refused():
    # given
    original = catalogue.get("notification")

    # when
    with pytest.raises(ValueError, match="already registered"):
        register("notification", Impostor, audience=Audience.WORKSPACE)

    # then the catalogue still has the original
    assert catalogue.get("notification") is original


def test_registering_the_same_model_again_changes_nothing():
    # given
    original = catalogue.get("notification")

    # when
    again = register("notification", original.data_model, audience=Audience.WORKSPACE)

    # then
    assert again is original
    assert catalogue.get("notification") is original


@pytest.fixture
def fresh_name():
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    catalogue.unregister(name)


def test_a_new_type_is_validated_and_listed_until_it_is_unregistered(fresh_name):
    # when
    register(fresh_name, Impostor, audience=Audience.WORKSPACE)

    # then
    assert fresh_name in catalogue.names()
    assert catalogue.validate_data(fresh_name, {"headline": "hi"}) == {"headline": "hi"}
    assert catalogue.get(fresh_name).description == "A payload that is not the notification object."

    # when
    catalogue.unregister(fresh_name)

    # then
    assert fresh_name not in catalogue.names()


def test_a_payload_model_that_may_accept_unknown_fields_cannot_be_registered(fresh_name):
    # given
    class Lenient(BaseModel):
        headline: str

    # then
    with pytest.raises(TypeError, match="EventData"):
        register(fresh_name, Lenient, audience=Audience.WORKSPACE)
    assert fresh_name not in catalogue.names(include_control=True)


@pytest.mark.parametrize(
    "look_up",
    [lambda: catalogue.get("call-teleported"),
     lambda: catalogue.validate_data("call-teleported", {})],
    ids=["get", "validate_data"],
)
def test_an_unknown_type_is_reported_as_unknown(look_up):
    # then
    with pytest.raises(UnknownEventType):
        look_up()
