"""Calls over REST (docs/reference/rest.md#calls) and their lifecycle
(docs/reference/domain.md#call-lifecycle): creation with E.164
numbers and a known agent, lists with filters and stable pagination, hangup,
escalation, the timeline, illegal transitions, and other workspaces' calls."""

import pytest

from calls import services
from calls.models import Call, CallEvent
from project.errors import Conflict
from realtime.models import Event

pytestmark = pytest.mark.django_db

VALID = {"to_number": "+14155550123"}


def place(workspace, **fields):
    """A call recorded without asking a runtime to place it."""
    return services.call_create(workspace=workspace, place=False, **{**VALID, **fields})


def events_of(call) -> list[str]:
    return list(Event.objects.filter(call_id=str(call.pk)).order_by("seq").values_list("type", flat=True))


def test_creating_a_call_records_it_queued_with_the_default_agent_and_emits_call_created(
        write_key, workspace, settings):
    settings.VOICE_RUNTIME = "ingest"  # nothing plays it

    response = write_key.post("/api/v1/calls", {**VALID, "variables": {"name": "Ada"}})

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued" and body["agent"] == "helpdesk"
    assert body["to_number"] == "+14155550123" and body["from_number"] == settings.CALLS_DEFAULT_FROM_NUMBER
    assert body["variables"] == {"name": "Ada"} and body["workspace_id"] == str(workspace.pk)
    assert body["recording_status"] == "none" and body["ended_at"] is None
    call = Call.objects.get(pk=body["id"])
    assert events_of(call) == ["call-created"]
    created = Event.objects.get(call_id=body["id"])
    assert created.data["id"] == body["id"]


@pytest.mark.parametrize(("body", "code"), [
    ({"to_number": "4155550123"}, "invalid_phone_number"),
    ({"to_number": "+1555"}, "invalid_phone_number"),
    ({"to_number": "+14155550123", "from_number": "call me"}, "invalid_phone_number"),
    ({"to_number": "+14155550123", "agent": "nobody"}, "unknown_agent"),
])
def test_a_bad_number_or_an_unknown_agent_is_a_400_and_records_nothing(write_key, body, code):
    events_before = Event.objects.count()  # the opening credit's balance-updated

    response = write_key.post("/api/v1/calls", body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert Call.objects.count() == 0 and Event.objects.count() == events_before


def test_readers_cannot_place_calls(read_key):
    assert read_key.post("/api/v1/calls", VALID).status_code == 403
    assert Call.objects.count() == 0


def test_a_call_moves_through_its_lifecycle_with_an_event_for_each_step(workspace):
    call = place(workspace)

    for status in ("ringing", "in-progress"):
        services.call_transition(workspace=workspace, call_id=call.pk, status=status)
    ended = services.call_transition(workspace=workspace, call_id=call.pk, status="completed",
                                     end_reason="customer-hangup")

    assert ended.status == "completed" and ended.end_reason == "customer-hangup"
    assert ended.started_at and ended.answered_at and ended.ended_at and ended.duration is not None
    assert events_of(call) == ["call-created", "call-status", "call-status", "call-status", "call-ended"]
    ended_event = Event.objects.get(call_id=str(call.pk), type="call-ended").data
    assert ended_event["active_calls"] == 0 and ended_event["status"] == "completed"
    statuses = [event.data["status"] for event in
                Event.objects.filter(call_id=str(call.pk), type="call-status").order_by("seq")]
    assert statuses == ["ringing", "in-progress", "completed"]
    assert CallEvent.objects.filter(call=call).count() == 5


@pytest.mark.parametrize(("path", "status"), [
    ([], "in-progress"), ([], "completed"), (["ringing"], "queued"),
    (["ringing", "in-progress"], "busy"), (["ringing", "busy"], "in-progress"),
])
def test_an_illegal_transition_is_refused_with_409_and_changes_nothing(workspace, path, status):
    call = place(workspace)
    for step in path:
        services.call_transition(workspace=workspace, call_id=call.pk, status=step)
    before = Event.objects.count()

    with pytest.raises(Conflict) as refused:
        services.call_transition(workspace=workspace, call_id=call.pk, status=status)

    assert refused.value.code == "illegal_transition"
    assert Event.objects.count() == before
    assert Call.objects.get(pk=call.pk).status == (path[-1] if path else "queued")


def test_hangup_cancels_a_call_not_yet_answered_and_ends_an_answered_one(write_key, workspace):
    waiting = place(workspace)
    talking = place(workspace)
    services.call_transition(workspace=workspace, call_id=talking.pk, status="ringing")
    services.call_transition(workspace=workspace, call_id=talking.pk, status="in-progress")

    canceled = write_key.post(f"/api/v1/calls/{waiting.pk}/hangup")
    ended = write_key.post(f"/api/v1/calls/{talking.pk}/hangup")
    again = write_key.post(f"/api/v1/calls/{talking.pk}/hangup")

    assert canceled.json()["status"] == "canceled" and canceled.json()["end_reason"] == "canceled"
    assert ended.json()["status"] == "completed" and ended.json()["end_reason"] == "agent-hangup"
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"
    assert events_of(talking)[-2:] == ["call-status", "call-ended"]


def test_escalation_needs_a_call_in_progress_and_happens_once(write_key, workspace):
    call = place(workspace)
    early = write_key.post(f"/api/v1/calls/{call.pk}/escalate", {"reason": "angry"})
    services.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
    services.call_transition(workspace=workspace, call_id=call.pk, status="in-progress")

    escalated = write_key.post(f"/api/v1/calls/{call.pk}/escalate", {"reason": "asked for a human"})
    twice = write_key.post(f"/api/v1/calls/{call.pk}/escalate", {})

    assert early.status_code == 409
    assert escalated.status_code == 200
    assert escalated.json()["escalation_id"].startswith("esc_")
    data = Event.objects.get(call_id=str(call.pk), type="call-escalated").data
    assert data == {"call_id": str(call.pk), "escalation_id": escalated.json()["escalation_id"],
                    "trigger": "api", "reason": "asked for a human"}
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_escalated"


def test_the_timeline_lists_the_persisted_events_as_envelopes_newest_first(read_key, workspace):
    call = place(workspace)
    services.call_transition(workspace=workspace, call_id=call.pk, status="ringing")
    services.call_transition(workspace=workspace, call_id=call.pk, status="in-progress")
    services.call_record_event(workspace=workspace, call_id=call.pk, type="call-transcript", data={
        "role": "user", "text": "Hello", "confidence": 0.9, "language": "en-US", "duration_ms": 400,
        "words": []})
    services.call_record_event(workspace=workspace, call_id=call.pk, type="call-interim",
                               data={"role": "user", "text": "Hel"})

    first = read_key.get(f"/api/v1/calls/{call.pk}/events", {"page_size": 3}).json()
    second = read_key.get(f"/api/v1/calls/{call.pk}/events",
                          {"page_size": 3, "page_token": first["next_page_token"]}).json()

    types = [item["type"] for item in first["results"] + second["results"]]
    assert types == ["call-transcript", "call-status", "call-status", "call-created"]  # no interim
    assert first["total_count"] == 4 and second["next_page_token"] == ""
    envelope = first["results"][0]
    assert envelope["call_id"] == str(call.pk) and envelope["workspace_id"] == str(workspace.pk)
    assert envelope["event_id"] == str(Event.objects.get(type="call-transcript").event_id)


def test_lists_filter_and_page_without_duplicates_or_gaps_while_calls_arrive(read_key, workspace, admin_key):
    admin_key.post("/api/v1/agents", {"name": "sales"})
    placed = [place(workspace, agent="sales" if n % 3 == 0 else None) for n in range(7)]
    services.call_transition(workspace=workspace, call_id=placed[0].pk, status="ringing")

    seen, token = [], ""
    while True:
        page = read_key.get("/api/v1/calls", {"page_size": 2, "page_token": token}).json()
        seen += [call["id"] for call in page["results"]]
        place(workspace)  # a new call arrives between pages
        token = page["next_page_token"]
        if not token:
            break

    assert seen == [str(call.pk) for call in reversed(placed)]
    by_agent = read_key.get("/api/v1/calls", {"agent": "sales"}).json()
    assert {call["id"] for call in by_agent["results"]} == {str(placed[n].pk) for n in (0, 3, 6)}
    ringing = read_key.get("/api/v1/calls", {"status": "ringing"}).json()
    assert [call["id"] for call in ringing["results"]] == [str(placed[0].pk)]
    assert read_key.get("/api/v1/calls", {"active": "false"}).json()["total_count"] == 0
    assert read_key.get("/api/v1/calls", {"status": "lost"}).status_code == 400


def test_another_workspaces_call_is_not_found_on_every_endpoint(outsider_key, workspace):
    call = place(workspace)

    for method, path in [("get", f"/api/v1/calls/{call.pk}"), ("post", f"/api/v1/calls/{call.pk}/hangup"),
                         ("post", f"/api/v1/calls/{call.pk}/escalate"),
                         ("get", f"/api/v1/calls/{call.pk}/events"), ("get", "/api/v1/calls/nonsense"),
                         ("post", f"/api/v1/calls/{call.pk}/subscribe"),
                         ("post", f"/api/v1/calls/{call.pk}/unsubscribe")]:
        body = {"client_id": "0" * 32} if path.endswith("subscribe") else None
        response = getattr(outsider_key, method)(path, body)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert outsider_key.get("/api/v1/calls").json()["total_count"] == 0
    assert Call.objects.get(pk=call.pk).status == "queued"


@pytest.mark.parametrize("created_after", [
    "2026-04-16T22:29:06+22:43",  # an offset Python accepts and PostgreSQL does not (a 500)
    "2026-04-16T22:29:06-16:00",
])
def test_a_time_filter_with_any_offset_is_compared_in_utc(read_key, workspace, created_after):
    # given a call made now, after either instant
    call = place(workspace)

    # when
    response = read_key.get("/api/v1/calls", {"created_after": created_after})

    # then
    assert response.status_code == 200, response.content
    assert [found["id"] for found in response.json()["results"]] == [str(call.pk)]


@pytest.mark.parametrize(("created_before", "finds_the_call"), [
    ("0001-01-01T00:00:00+05:00", False),  # year 0 in UTC
    ("9999-12-31T23:00:00-05:00", True),  # year 10000 in UTC
])
def test_a_time_filter_past_the_calendar_in_utc_means_its_end(read_key, workspace, created_before,
                                                              finds_the_call):
    # given
    call = place(workspace)

    # when the instant, in UTC, falls before year 1 or after year 9999
    response = read_key.get("/api/v1/calls", {"created_before": created_before})

    # then
    assert response.status_code == 200, response.content
    found = [found["id"] for found in response.json()["results"]]
    assert found == ([str(call.pk)] if finds_the_call else [])
