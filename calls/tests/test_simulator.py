"""The simulated runtime (calls/runtime/simulated.py): believable, repeatable
scripts, played through the ingest path, end to end with a real Celery worker."""

import random
from collections import Counter
from decimal import Decimal

import pytest

from calls import services
from calls.ingest import ingest_batch
from calls.models import Call, CallEvent
from calls.runtime.simulated import Step, agent_facts, runtime, script_for, steps_due_with
from project.testing import running_server, running_worker, wait_for
from realtime.models import Event
from realtime.tests.streaming import open_stream, without_control

AGENT = {
    "nodes": ["greeting", "identify", "resolve"],
    "tools": ["lookup_account"],
    "language": "en-US",
    "greeting": "Hello, how can I help?",
}


def types_of(steps) -> list[str]:
    return [event["type"] for step in steps for event in step.events]


def ending_of(steps) -> str:
    """The end reason of a script's last status."""
    last = [event["data"] for step in steps for event in step.events if event["type"] == "call-status"][-1]
    return last.get("end_reason") or last["status"]


def voicemail_seed(call_id: str = "c") -> int:
    """The first seed whose outbound script reaches an answering machine (the outcome is drawn)."""
    return next(seed for seed in range(1000) if ending_of(script_for(call_id, AGENT, seed)) == "voicemail")


def test_the_same_seed_plays_the_same_call():
    assert [step.events for step in script_for("c1", AGENT, 7)] == [
        step.events for step in script_for("c1", AGENT, 7)
    ]


def test_scripts_cover_the_outcomes_of_real_calls():
    endings = Counter()
    for seed in range(300):
        steps = script_for("c", AGENT, seed)
        statuses = [
            event["data"]["status"]
            for step in steps
            for event in step.events
            if event["type"] == "call-status"
        ]
        endings[statuses[-1]] += 1
        assert statuses[0] == "ringing"
        ids = [event["event_id"] for step in steps for event in step.events]
        assert len(ids) == len(set(ids))
        assert all(step.delay >= 0 for step in steps)
    assert endings["completed"] > 200
    assert all(endings[status] > 0 for status in ("busy", "no-answer", "failed"))


def test_about_one_outbound_call_in_ten_reaches_voicemail_and_no_inbound_call_does():
    # given 1,000 seeds, when each plays an outbound and an inbound call
    outbound = Counter(ending_of(script_for("c", AGENT, seed)) for seed in range(1000))
    inbound = Counter(ending_of(script_for("c", AGENT, seed, inbound=True)) for seed in range(1000))

    # then a campaign sees voicemail about as often as busy and no-answer; a caller is never a machine
    assert 70 <= outbound["voicemail"] <= 130
    assert inbound["voicemail"] == 0


def test_a_machine_answers_hears_the_agent_leave_a_message_and_the_call_ends_voicemail():
    # given a seed whose outbound call reaches an answering machine
    steps = script_for("c", AGENT, voicemail_seed())
    types = types_of(steps)
    events = [event for step in steps for event in step.events]

    # then it rings, is answered, the agent speaks once (TTS, words, transcript), it ends, it is recorded
    spoken = [kind for kind in types if kind not in ("call-status", "call-recording")]
    assert types[:2] == ["call-status", "call-status"]
    assert [event["data"]["status"] for event in events[:2]] == ["ringing", "in-progress"]
    assert spoken[0] == "call-tts" and spoken[-1] == "call-transcript"
    assert set(spoken[1:-1]) == {"call-tts-word"}
    ending = types.index("call-status", 2)
    assert types.index("call-transcript") < ending
    assert events[ending]["data"] == {"status": "completed", "end_reason": "voicemail"}
    assert types[ending + 1 :] == ["call-recording", "call-recording"]
    # and nobody else speaks: no user speech, transcript or turn, no tool, no node change
    transcript = next(event["data"] for event in events if event["type"] == "call-transcript")
    assert transcript["role"] == "agent"
    assert not {"call-speech", "call-interim", "call-turn", "call-tool", "call-dtmf"} & set(types)
    # and the message waits out the greeting, then the call lasts as long as the message
    answered_to_message = steps[2].delay
    message_to_end = steps[3].delay
    assert answered_to_message >= 3 and message_to_end * 1000 >= transcript["duration_ms"]


def test_an_answered_call_has_turns_speech_tools_and_a_recording():
    answered = next(
        steps
        for seed in range(50)
        if "in-progress" in str(steps := script_for("c", AGENT, seed)) and "call-dtmf" in types_of(steps)
    )
    types = types_of(answered)

    for expected in (
        "call-transcript",
        "call-interim",
        "call-tts",
        "call-tts-word",
        "call-speech",
        "call-turn",
        "call-node-transition",
        "call-tool",
        "call-metrics",
        "call-dtmf",
        "call-recording",
    ):
        assert expected in types, expected
    assert types.index("call-interim") < types.index("call-transcript", types.index("call-interim"))
    transcripts = [
        event["data"] for step in answered for event in step.events if event["type"] == "call-transcript"
    ]
    assert all(0 < word["confidence"] <= 1 for data in transcripts for word in data["words"])
    assert types[-1] == "call-recording"


@pytest.mark.django_db
def test_every_step_of_every_kind_of_script_passes_the_ingest_validation(workspace):
    rng = random.Random(1)
    for seed in rng.sample(range(10_000), 25):
        call = services.call_create(workspace=workspace, to_number="+14155550123", place=False)
        for step in script_for(str(call.pk), AGENT, seed):
            result = ingest_batch(workspace, step.events, reporter="simulated")
            assert result.errors == [], (seed, result.errors)
        call.refresh_from_db()
        assert not call.is_active and call.end_reason


def test_at_speed_one_every_step_plays_on_its_own():
    steps = script_for("c", AGENT, 7)
    assert all(steps_due_with(steps, index, speed=1, within=0.05) == index + 1 for index in range(len(steps)))


def test_steps_due_within_the_batch_span_play_together_and_the_span_is_never_exceeded():
    # given steps 0.5 s, 1 s, 2 s and 4 s apart, at speed 100 (5, 10, 20 and 40 ms)
    steps = [Step(0.0), Step(0.5), Step(1.0), Step(2.0), Step(4.0)]

    # then a 50 ms span takes the next three steps (35 ms in all), not the fourth (75 ms)
    assert steps_due_with(steps, 0, speed=100, within=0.05) == 4
    # and a span of 0 plays each step on its own
    assert steps_due_with(steps, 0, speed=100, within=0) == 1
    # and a run stops at the script's end
    assert steps_due_with(steps, 4, speed=1000, within=1) == 5


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_call_played_in_batches_at_high_speed_reports_every_event_of_its_script_in_order(
    tmp_path, workspace
):
    # given a call and a conversation's script, played at a speed where steps are ms apart
    call = services.call_create(workspace=workspace, to_number="+14155550123", place=False)
    seed = answered_seed(call)
    steps = script_for(str(call.pk), agent_facts(call.agent), seed)
    script = [event for step in steps for event in step.events]
    env = {"SIMULATOR_SPEED": "400", "SIMULATOR_BATCH_SECONDS": "0.05", "VOICE_RUNTIME": "simulated"}

    # when a worker plays it
    with running_worker(tmp_path, env=env):
        runtime.place(call, speed=400, seed=seed)
        wait_for(lambda: CallEvent.objects.filter(call=call, type="call-recording").count() == 2,
                 timeout=60, message="the recording's two events")

    # then the timeline holds every persisted event of the script, in the script's order
    persisted = [event["type"] for event in script if event["type"] not in ("call-interim", "call-tts-word")]
    # (call-created, call-ended and call-recording-status are Callboard's own, not the runtime's)
    timeline = list(CallEvent.objects.filter(call=call)
                    .exclude(type__in=["call-created", "call-ended", "call-recording-status"])
                    .order_by("created_at", "id").values_list("type", flat=True))
    assert timeline == persisted
    assert Call.objects.get(pk=call.pk).status == "completed"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_simulated_call_plays_end_to_end_through_a_celery_worker_to_a_stream(tmp_path, workspace, read_key):
    env = {"SIMULATOR_SPEED": "40", "VOICE_RUNTIME": "simulated"}
    with (
        running_server(tmp_path, env=env) as server,
        running_worker(tmp_path, env=env),
        open_stream(server, key=read_key.key) as stream,
    ):
        call = services.call_create(workspace=workspace, to_number="+14155550123")
        seen = stream.until_type("call-ended")

    call = Call.objects.get(pk=call.pk)
    mine = [
        event
        for event in seen
        if event.data.get("call_id") == str(call.pk) or event.data.get("data", {}).get("id") == str(call.pk)
    ]
    kinds = [event.event for event in mine]
    assert kinds[0] == "call-created" and kinds[-1] == "call-ended"
    statuses = [event.data["data"]["status"] for event in mine if event.event == "call-status"]
    assert statuses[0] == "ringing" and statuses[-1] == call.status
    assert not call.is_active
    timeline = set(CallEvent.objects.filter(call=call).values_list("type", flat=True))
    assert {"call-created", "call-status", "call-ended"} <= timeline
    if call.end_reason == "voicemail":  # the agent left a message; nobody answered it
        assert {"call-transcript", "call-tts"} <= timeline and "call-turn" not in timeline
    elif call.status == "completed":
        assert {"call-transcript", "call-tts", "call-turn"} <= timeline
    assert Event.objects.filter(call_id=str(call.pk), type="call-interim").count() == 0


def answered_seed(call) -> int:
    """The first seed whose script answers the call and talks with the caller (the outcome is drawn)."""
    for seed in range(1000):
        kinds = types_of(script_for(str(call.pk), agent_facts(call.agent), seed))
        if "call-turn" in kinds:
            return seed
    raise AssertionError("no answered script in 1,000 seeds")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_answered_call_plays_through_a_celery_worker_onto_its_own_stream_until_stream_closed(
    tmp_path, workspace, read_key
):
    env = {"SIMULATOR_SPEED": "40", "VOICE_RUNTIME": "simulated"}
    call = services.call_create(workspace=workspace, to_number="+14155550123", place=False)
    with (
        running_server(tmp_path, env=env) as server,
        running_worker(tmp_path, env=env),
        open_stream(server, key=read_key.key, path=f"/api/v1/calls/{call.pk}/stream") as stream,
    ):
        runtime.place(call, speed=40, seed=answered_seed(call))
        events = stream.rest()

    kinds = [event.event for event in without_control(events)]
    statuses = [event.data["data"]["status"] for event in events if event.event == "call-status"]
    assert statuses[:2] == ["ringing", "in-progress"]
    first = {kind: kinds.index(kind) for kind in ("call-transcript", "call-tts", "call-ended")}
    assert kinds.index("call-status") < first["call-transcript"] < first["call-ended"]
    assert first["call-tts"] < first["call-ended"]
    assert "call-interim" in kinds and "call-tts-word" in kinds  # live only, yet on the stream
    assert [event.event for event in events[-2:]] == ["call-ended", "stream-closed"]
    assert {event.data["call_id"] for event in events} == {str(call.pk)}
    assert Call.objects.get(pk=call.pk).status == "completed"


@pytest.mark.django_db
def test_a_voicemail_script_played_through_the_ingest_ends_the_call_voicemail_after_the_message(workspace):
    # given an outbound call and a seed that reaches an answering machine
    call = services.call_create(workspace=workspace, to_number="+14155550123", place=False)

    # when the simulator's script is reported through the ingest
    for step in script_for(str(call.pk), AGENT, voicemail_seed(str(call.pk))):
        assert ingest_batch(workspace, step.events, reporter="simulated").errors == []

    # then the call was answered and completed, `voicemail`, and `call-ended` says so
    call.refresh_from_db()
    assert (call.status, call.end_reason) == ("completed", "voicemail")
    assert call.answered_at is not None and call.duration is not None
    ended = Event.objects.get(workspace=workspace, type="call-ended", call_id=str(call.pk))
    assert ended.data["end_reason"] == "voicemail"
    # and its timeline holds the agent's message and no word from the other side
    transcripts = CallEvent.objects.filter(call=call, type="call-transcript")
    assert [event.data["role"] for event in transcripts] == ["agent"]
    assert not CallEvent.objects.filter(call=call, type__in=["call-turn", "call-speech"]).exists()


@pytest.mark.django_db
def test_an_inbound_call_starts_ringing_and_its_script_skips_the_ring(workspace):
    call = services.call_create(
        workspace=workspace,
        to_number="+14155550100",
        from_number="+14155550123",
        direction="inbound",
        source="inbound",
        place=False,
    )

    steps = script_for(str(call.pk), AGENT, 3, inbound=True)
    for step in steps:
        assert ingest_batch(workspace, step.events, reporter="simulated").errors == []

    call.refresh_from_db()
    assert steps[0].events == [] and not call.is_active and call.started_at is not None


@pytest.mark.django_db
def test_the_demo_trickle_keeps_the_demo_workspace_at_its_number_of_live_calls(settings):
    from calls.demo import keep_demo_calls_going
    from workspaces import services as workspace_services

    settings.VOICE_RUNTIME = "ingest"  # recorded only: nothing plays them here
    settings.DEMO_CALL_TRICKLE = 3
    demo = workspace_services.workspace_create(name="Demo", slug="demo", opening_credit=Decimal("10"))

    first, second = keep_demo_calls_going(), keep_demo_calls_going()
    Call.objects.filter(workspace=demo).first().delete()
    third = keep_demo_calls_going()

    assert (first, second, third) == (3, 0, 1)
    assert Call.objects.filter(workspace=demo).count() == 3
    settings.DEMO_CALL_TRICKLE = 0
    assert keep_demo_calls_going() == 0


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_simulate_command_plays_its_calls_to_the_end_with_a_worker(tmp_path, workspace):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    with running_worker(tmp_path, env={"VOICE_RUNTIME": "simulated"}):
        call_command(
            "simulate",
            "--workspace",
            workspace.slug,
            "--calls",
            "3",
            "--concurrency",
            "2",
            "--speed",
            "60",
            "--timeout",
            "60",
            stdout=out,
        )

    calls = Call.objects.filter(workspace=workspace)
    assert calls.count() == 3 and not any(call.is_active for call in calls)
    assert "ended:" in out.getvalue()
