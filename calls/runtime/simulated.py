"""The simulated voice runtime: Celery tasks play believable calls.

A call's whole performance is a script drawn from a seeded random generator
(`script_for`): ringing, answered or not (busy, no-answer, a failure with a
carrier code), answered by a machine (outbound only: the agent waits out the
greeting and leaves a short message, and the call ends `voicemail`), or by a
person: turns of interim and final transcripts with word timings
and confidence, agent speech with latency and word marks, node transitions, a
tool call, sometimes DTMF, an ending with a realistic reason, and the
recording a little after. Each step is a batch of runtime events handed to
`calls.ingest.ingest_batch`, the very function behind
`POST /api/v1/runtime/events`: the simulator has no shortcut.

Steps run as a chain of Celery tasks, each scheduled `delay / SIMULATOR_SPEED`
after the last, so a worker is never held by a sleeping call. A step
regenerates the script from the seed, so it carries nothing but its index;
event ids are derived from the call and the step, so a retried task is
idempotent. A call ended from our side (hangup, a sweeper) stops at its next
step: the ingest refuses events for an ended call and the chain ends.
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

USER_LINES = [
    (
        "Hi, I can't log into my account since this morning.",
        "I'm sorry about that. Let me look into your account.",
    ),
    (
        "I was charged twice for my last order.",
        "Thanks for telling me. I'll check the payments on your account.",
    ),
    ("Can you tell me when my package will arrive?", "Of course. Let me pull up the shipment."),
    ("I'd like to change the address on my subscription.", "Sure, I can help with that."),
    ("The app keeps crashing when I open settings.", "That sounds frustrating. Let's get it fixed."),
    ("I want to cancel my plan.", "I can help with that. May I ask what made you decide to cancel?"),
    ("Is there a cheaper plan for students?", "Yes, there is. Let me check what you qualify for."),
    ("My card expired, how do I update it?", "I'll send you a secure link to update your card."),
]
FOLLOW_UPS = [
    ("Okay, thank you.", "You're welcome. Is there anything else I can help with?"),
    ("Yes, my account number is 4 4 7 1.", "Thank you, I found your account."),
    ("No, that's all for today.", "Great. Thanks for calling, and have a good day!"),
    ("Could you send me that by email?", "Done. You'll have it in your inbox in a minute."),
    ("That works for me.", "Perfect. I've made the change for you."),
]
# What the agent leaves on an answering machine.
VOICEMAIL_MESSAGES = [
    "Hi, this is a message from our help desk. Please call us back when you have a moment. Thank you.",
    "Hello, we're calling about your account. There's nothing urgent; we'll try you again later. Goodbye.",
    "Hi, sorry we missed you. We'll call back another time, or you can reach us at this number. Thanks.",
]
FAILURES = [
    ("sip-503", "The carrier is temporarily unavailable."),
    ("invalid-number", "The number is not in service."),
    ("carrier-rejected", "The carrier rejected the call."),
]


@dataclass
class Step:
    delay: float  # seconds after the previous step, at speed 1
    events: list[dict[str, Any]] = field(default_factory=list)


def _words(text: str, start_ms: int, rng: random.Random) -> list[dict[str, Any]]:
    words, at = [], start_ms
    for word in text.split():
        length = 120 + 45 * len(word) + rng.randint(0, 80)
        words.append(
            {
                "text": word,
                "start_ms": at,
                "end_ms": at + length,
                "confidence": round(rng.uniform(0.82, 0.995), 3),
            }
        )
        at += length + rng.randint(20, 90)
    return words


def script_for(call_id: str, agent: dict[str, Any], seed: int, *, inbound: bool = False) -> list[Step]:
    """The whole call, step by step. Pure: the same seed gives the same call.
    An inbound call is recorded ringing already, so its first step reports nothing."""
    rng = random.Random(seed)
    steps: list[Step] = [Step(0.5, [] if inbound else [("call-status", {"status": "ringing"})])]
    outcome = rng.random()
    if outcome < 0.06:
        steps.append(Step(rng.uniform(3, 6), [("call-status", {"status": "busy"})]))
        return _finish(call_id, steps)
    if outcome < 0.13:
        steps.append(Step(rng.uniform(15, 25), [("call-status", {"status": "no-answer"})]))
        return _finish(call_id, steps)
    if outcome < 0.17:
        code, reason = rng.choice(FAILURES)
        steps.append(
            Step(
                rng.uniform(1, 3),
                [
                    (
                        "call-status",
                        {
                            "status": "failed",
                            "end_reason": "error",
                            "failure_code": code,
                            "failure_reason": reason,
                        },
                    )
                ],
            )
        )
        return _finish(call_id, steps)
    # Drawn last, from what was left to answered calls, so every other outcome
    # (and every conversation) keeps the seed it had; inbound calls have a caller.
    if not inbound and outcome < 0.27:
        return _voicemail(call_id, agent, rng, steps)

    nodes = list(agent.get("nodes") or ["greeting", "resolve", "wrap-up"])
    tools = list(agent.get("tools") or [])
    language = agent.get("language") or "en-US"
    steps.append(
        Step(
            rng.uniform(2, 6),
            [
                ("call-status", {"status": "in-progress"}),
                (
                    "call-node-transition",
                    {"from_node": None, "to_node": nodes[0], "trigger": "call-answered"},
                ),
            ],
        )
    )
    steps.append(_agent_says(agent.get("greeting") or "Hello, how can I help?", language, rng, 0.6))
    turns = rng.randint(2, 4)
    opening, answer = rng.choice(USER_LINES)
    tool_turn = rng.randint(1, turns) if tools else 0
    dtmf_turn = rng.randint(1, turns) if rng.random() < 0.3 else 0
    node_index = 0
    for turn in range(1, turns + 1):
        user_text, agent_text = (opening, answer) if turn == 1 else rng.choice(FOLLOW_UPS)
        steps.extend(_user_says(user_text, language, rng))
        if turn == dtmf_turn:
            steps.append(
                Step(
                    0.8,
                    [
                        ("call-dtmf", {"digit": digit, "duration_ms": rng.randint(80, 160)})
                        for digit in rng.choice(["4471", "1", "2", "0#"])
                    ],
                )
            )
        if node_index + 1 < len(nodes) and (turn == 1 or rng.random() < 0.5):
            steps.append(
                Step(
                    0.2,
                    [
                        (
                            "call-node-transition",
                            {
                                "from_node": nodes[node_index],
                                "to_node": nodes[node_index + 1],
                                "trigger": "intent",
                            },
                        )
                    ],
                )
            )
            node_index += 1
        if turn == tool_turn:
            tool = rng.choice(tools)
            took = rng.randint(180, 1400)
            steps.append(
                Step(
                    0.3,
                    [
                        (
                            "call-tool",
                            {"tool_name": tool, "phase": "started", "input": {"query": user_text[:60]}},
                        )
                    ],
                )
            )
            succeeded = rng.random() > 0.1
            steps.append(
                Step(
                    took / 1000,
                    [
                        (
                            "call-tool",
                            {
                                "tool_name": tool,
                                "phase": "completed",
                                "input": {"query": user_text[:60]},
                                "output": {"status": "ok", "reference": f"T-{rng.randint(10000, 99999)}"}
                                if succeeded
                                else None,
                                "succeeded": succeeded,
                                "duration_ms": took,
                                "error": None if succeeded else "upstream timeout",
                            },
                        )
                    ],
                )
            )
        latency = rng.randint(450, 1300)
        steps.append(_agent_says(agent_text, language, rng, latency / 1000))
        steps[-1].events.append(
            (
                "call-turn",
                {"turn": turn, "user_text": user_text, "agent_text": agent_text, "latency_ms": latency},
            )
        )
        stt, llm = rng.randint(80, 250), rng.randint(250, 800)
        steps[-1].events.append(
            (
                "call-metrics",
                {
                    "turn_latency_ms": latency,
                    "stt_latency_ms": stt,
                    "llm_latency_ms": llm,
                    "tts_latency_ms": max(0, latency - stt - llm),
                },
            )
        )
    ending = rng.random()
    end_reason = "customer-hangup" if ending < 0.6 else "agent-hangup" if ending < 0.9 else "silence-timeout"
    steps.append(
        Step(rng.uniform(1, 3), [("call-status", {"status": "completed", "end_reason": end_reason})])
    )
    return _recorded(call_id, steps, rng)


def _voicemail(call_id: str, agent: dict[str, Any], rng: random.Random, steps: list[Step]) -> list[Step]:
    """An answering machine: answered, a pause while the runtime hears the
    greeting out and waits for the tone, the agent's message (its TTS and its
    transcript, nobody else speaks), then the agent hangs up: `voicemail`."""
    steps.append(Step(rng.uniform(2, 6), [("call-status", {"status": "in-progress"})]))
    language = agent.get("language") or "en-US"
    message = _agent_says(rng.choice(VOICEMAIL_MESSAGES), language, rng, rng.randint(300, 700) / 1000)
    message.delay += rng.uniform(3, 8)  # the machine's greeting, heard out to its tone
    steps.append(message)
    spoken_ms = next(data["duration_ms"] for type, data in message.events if type == "call-transcript")
    steps.append(
        Step(
            spoken_ms / 1000 + rng.uniform(0.4, 1.2),
            [("call-status", {"status": "completed", "end_reason": "voicemail"})],
        )
    )
    return _recorded(call_id, steps, rng)


def _recorded(call_id: str, steps: list[Step], rng: random.Random) -> list[Step]:
    """The ended call's recording: processing at once, available a few seconds later."""
    steps.append(Step(0.1, [("call-recording", {"recording_status": "processing", "recording_url": None})]))
    steps.append(
        Step(
            rng.uniform(2, 4),
            [
                (
                    "call-recording",
                    {
                        "recording_status": "available",
                        "recording_url": f"https://recordings.example.com/{call_id}.mp3",
                    },
                )
            ],
        )
    )
    return _finish(call_id, steps)


def _agent_says(text: str, language: str, rng: random.Random, latency_s: float) -> Step:
    latency_ms = int(latency_s * 1000)
    events: list = [("call-tts", {"text": text, "latency_ms": latency_ms})]
    offset = 0
    for word in text.split():
        events.append(("call-tts-word", {"word": word, "offset_ms": offset}))
        offset += 140 + 40 * len(word)
    events.append(
        (
            "call-transcript",
            {
                "role": "agent",
                "text": text,
                "confidence": 1.0,
                "language": language,
                "duration_ms": offset,
                "words": _words(text, 0, rng),
            },
        )
    )
    return Step(latency_s, events)


def _user_says(text: str, language: str, rng: random.Random) -> list[Step]:
    words = text.split()
    words_timed = _words(text, 0, rng)
    duration = words_timed[-1]["end_ms"] if words_timed else 0
    steps = [
        Step(rng.uniform(0.6, 1.5), [("call-speech", {"role": "user", "start_ms": 0, "end_ms": duration})])
    ]
    cut = max(1, len(words) // 3)
    for end in range(cut, len(words), cut):
        steps.append(
            Step(duration / 1000 / 3, [("call-interim", {"role": "user", "text": " ".join(words[:end])})])
        )
    steps.append(
        Step(
            0.3,
            [
                (
                    "call-transcript",
                    {
                        "role": "user",
                        "text": text,
                        "confidence": round(rng.uniform(0.86, 0.98), 3),
                        "language": language,
                        "duration_ms": duration,
                        "words": words_timed,
                    },
                )
            ],
        )
    )
    return steps


def _finish(call_id: str, steps: list[Step]) -> list[Step]:
    """Gives every event the runtime's envelope: a stable id per call and position."""
    for index, step in enumerate(steps):
        step.events = [
            {"event_id": f"sim-{call_id}-{index}-{n}", "call_id": call_id, "type": type, "data": data}
            for n, (type, data) in enumerate(step.events)
        ]
    return steps


# --- Celery --------------------------------------------------------------------------------


# What the ingest answers for a call that was ended from our side (hangup, a sweeper).
CALL_ENDED_CODES = frozenset({"call_not_active", "illegal_transition"})


class SimulatedRuntime:
    def place(self, call, *, speed: float | None = None, seed: int | None = None) -> None:
        """Starts the call's performance; `speed` overrides SIMULATOR_SPEED for it,
        and a `seed` replays a known script (script_for) instead of a random one."""
        seed = random.randrange(2**31) if seed is None else seed
        play_step.apply_async(args=[str(call.workspace_id), str(call.pk), seed, 0, speed], countdown=0)

    def hangup(self, call) -> None:
        """Nothing to stop: the call's next step finds it ended."""


runtime = SimulatedRuntime()


# A step that meets the database down or restarting (its pool reconnects with a
# backoff of its own) is tried again instead of leaving the call where it stood
# until a sweeper ends it; a step runs twice safely (its events have fixed ids).
@shared_task(name="calls.simulate.play_step", autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=1, retry_backoff_max=16, max_retries=6)
def play_step(workspace_id: str, call_id: str, seed: int, index: int, speed: float | None = None) -> None:
    from calls.ingest import ingest_batch
    from calls.models import Call
    from workspaces.models import Workspace
    from workspaces.scoping import scoped

    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    call = scoped(Call, workspace).filter(pk=call_id).select_related("agent").first()
    if call is None:
        return
    steps = script_for(call_id, agent_facts(call.agent), seed, inbound=call.direction == "inbound")
    if index >= len(steps):
        return
    speed = speed or settings.SIMULATOR_SPEED
    after = steps_due_with(steps, index, speed=speed, within=settings.SIMULATOR_BATCH_SECONDS)
    now = datetime.now(UTC).isoformat()
    items = [{**event, "timestamp": now} for step in steps[index:after] for event in step.events]
    result = ingest_batch(workspace, items, reporter="simulated") if items else None
    if result is not None and any(error["code"] in CALL_ENDED_CODES for error in result.errors):
        return  # ended from our side: the performance stops here
    if after < len(steps):
        play_step.apply_async(
            args=[workspace_id, call_id, seed, after, speed],
            countdown=steps[after].delay / speed,
        )


def steps_due_with(steps: list[Step], index: int, *, speed: float, within: float) -> int:
    """The end (exclusive) of the run of steps played with step `index`: the ones
    that follow it by at most `within` seconds in all, at `speed`. At high speed a
    call's steps are milliseconds apart, and a task and a transaction each would
    cost more than the call; at speed 1 every step is played on its own."""
    after, waited = index + 1, 0.0
    while after < len(steps) and waited + steps[after].delay / speed <= within:
        waited += steps[after].delay / speed
        after += 1
    return after


def agent_facts(agent) -> dict[str, Any]:
    return {
        "nodes": agent.nodes,
        "tools": agent.tools,
        "language": agent.language,
        "greeting": agent.greeting,
    }
