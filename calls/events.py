"""Events about calls: the workspace-wide lifecycle
(docs/reference/events.md#workspace-events) and the per-call stream
(docs/reference/events.md#call-events). `CallObject` is also the REST call
object (docs/reference/rest.md#calls)."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from realtime.catalogue import Audience, EventData, register

CallStatus = Literal[
    "queued", "ringing", "in-progress", "completed", "failed", "busy", "no-answer", "canceled"
]
EndReason = Literal[
    "customer-hangup", "agent-hangup", "transfer", "no-answer", "busy", "voicemail",
    "max-duration", "silence-timeout", "insufficient-balance", "canceled", "error",
]
Direction = Literal["inbound", "outbound"]
# How the call came to be.
CallSource = Literal["api", "dashboard", "campaign", "schedule", "inbound"]
RecordingStatus = Literal["none", "recording", "processing", "available", "failed"]
Role = Literal["user", "agent"]


class CallObject(EventData):
    """A call, as REST returns it and `call-created` carries it."""

    id: str
    workspace_id: str
    direction: Direction
    source: CallSource
    status: CallStatus
    from_number: str
    to_number: str
    agent: str
    current_node: str | None
    variables: dict[str, Any]
    campaign_id: str | None
    schedule_id: str | None
    created_at: datetime
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration: float | None = Field(description="Seconds from answer to end.")
    cost: Decimal | None = Field(description="USD, as a decimal string.")
    end_reason: EndReason | None
    failure_code: str | None
    failure_reason: str | None
    recording_status: RecordingStatus
    recording_url: str | None


class CallStatusChanged(EventData):
    """A call's status changed."""

    call_id: str
    status: CallStatus
    previous_status: CallStatus | None
    direction: Direction
    source: CallSource
    from_number: str
    to_number: str
    active_calls: int = Field(description="Calls of the workspace not yet ended.")


class CallEnded(EventData):
    """A call reached a terminal status."""

    call_id: str
    status: CallStatus
    end_reason: EndReason | None
    failure_code: str | None
    failure_reason: str | None
    duration: float | None
    cost: Decimal | None
    recording_url: str | None
    active_calls: int


class CallRecordingStatus(EventData):
    """A call's recording changed state."""

    call_id: str
    recording_status: RecordingStatus
    recording_url: str | None


class CallEscalated(EventData):
    """A call was handed to a human."""

    call_id: str
    escalation_id: str
    trigger: str
    reason: str | None


class TranscriptWord(EventData):
    text: str
    start_ms: int
    end_ms: int
    confidence: float = Field(ge=0, le=1)


class CallTranscript(EventData):
    """Final speech recognised for one utterance."""

    role: Role
    text: str
    confidence: float = Field(ge=0, le=1)
    language: str
    duration_ms: int = Field(ge=0)
    words: list[TranscriptWord]


class CallInterim(EventData):
    """A partial transcript; ephemeral."""

    role: Role
    text: str


class CallTts(EventData):
    """The agent spoke."""

    text: str
    latency_ms: int = Field(ge=0)


class CallTtsWord(EventData):
    """Word timing of agent speech; ephemeral."""

    word: str
    offset_ms: int = Field(ge=0)


class CallSpeech(EventData):
    """A speech segment was detected."""

    role: Role
    start_ms: int = Field(ge=0)
    end_ms: int = Field(ge=0)


class CallTurn(EventData):
    """One exchange finished."""

    turn: int = Field(ge=1)
    user_text: str
    agent_text: str
    latency_ms: int = Field(ge=0)


class CallNodeTransition(EventData):
    """The agent's flow moved to another node."""

    from_node: str | None
    to_node: str
    trigger: str


class CallDtmf(EventData):
    """A keypad digit."""

    digit: str = Field(pattern=r"^[0-9*#]$")
    duration_ms: int = Field(ge=0)


class CallTool(EventData):
    """A tool call of the agent started or completed."""

    tool_name: str
    phase: Literal["started", "completed"]
    input: dict[str, Any]
    output: dict[str, Any] | None = None
    succeeded: bool | None = None
    duration_ms: int | None = Field(None, ge=0)
    error: str | None = None


class CallRecording(EventData):
    """The call's recording changed state (per-call stream)."""

    recording_status: RecordingStatus
    recording_url: str | None


class CallMetrics(EventData):
    """Latencies of the last turn."""

    turn_latency_ms: int | None = Field(None, ge=0)
    stt_latency_ms: int | None = Field(None, ge=0)
    llm_latency_ms: int | None = Field(None, ge=0)
    tts_latency_ms: int | None = Field(None, ge=0)


class CallError(EventData):
    """The runtime reported an error on the call."""

    code: str
    message: str


WORKSPACE_EVENTS = {
    "call-created": CallObject,
    "call-status": CallStatusChanged,
    "call-ended": CallEnded,
    "call-recording-status": CallRecordingStatus,
    "call-escalated": CallEscalated,
}
CALL_STREAM_EVENTS = {
    "call-transcript": CallTranscript,
    "call-tts": CallTts,
    "call-speech": CallSpeech,
    "call-turn": CallTurn,
    "call-node-transition": CallNodeTransition,
    "call-dtmf": CallDtmf,
    "call-tool": CallTool,
    "call-recording": CallRecording,
    "call-metrics": CallMetrics,
    "call-error": CallError,
}
EPHEMERAL_CALL_STREAM_EVENTS = {
    "call-interim": CallInterim,
    "call-tts-word": CallTtsWord,
}


def register_events() -> None:
    for name, model in WORKSPACE_EVENTS.items():
        register(name, model, audience=Audience.WORKSPACE)
    for name, model in CALL_STREAM_EVENTS.items():
        register(name, model, audience=Audience.CALL)
    for name, model in EPHEMERAL_CALL_STREAM_EVENTS.items():
        register(name, model, audience=Audience.CALL, persisted=False)
