"""A voice runtime played by the test itself over the public ingest API
(`POST /api/v1/runtime/events`, VOICE_RUNTIME=ingest): every event is one the
test chose, so what the page must show is known exactly."""

import itertools

import httpx

USER_LINE = "I was charged twice for my last order."
AGENT_LINE = "Thanks for telling me. I'll check the payments on your account."


def transcript(role: str, text: str) -> dict:
    words, at = [], 0
    for word in text.split():
        words.append({"text": word, "start_ms": at, "end_ms": at + 300, "confidence": 0.94})
        at += 340
    return {
        "role": role,
        "text": text,
        "confidence": 0.94,
        "language": "en-US",
        "duration_ms": at,
        "words": words,
    }


class RuntimePlayer:
    def __init__(self, base_url: str, runtime_key: str, call_id: str):
        self.base_url = base_url
        self.runtime_key = runtime_key
        self.call_id = call_id
        self._numbers = itertools.count(1)

    def send(self, type: str, data: dict) -> None:
        item = {
            "event_id": f"{self.call_id}-{next(self._numbers)}",
            "call_id": self.call_id,
            "type": type,
            "data": data,
        }
        response = httpx.post(
            f"{self.base_url}/api/v1/runtime/events",
            json={"events": [item]},
            timeout=10,
            headers={"Authorization": f"Bearer {self.runtime_key}"},
        )
        assert response.status_code == 200 and response.json()["accepted"] == 1, response.text

    def answer(self) -> None:
        self.send("call-status", {"status": "ringing"})
        self.send("call-status", {"status": "in-progress"})

    def hear_part_of_the_question(self) -> None:
        self.send("call-interim", {"role": "user", "text": USER_LINE.split(" for ")[0]})

    def converse(self) -> None:
        """The rest of the turn: the caller's final words, a tool call, the agent's answer."""
        self.send("call-transcript", transcript("user", USER_LINE))
        self.send(
            "call-node-transition", {"from_node": "greeting", "to_node": "billing", "trigger": "intent"}
        )
        self.send(
            "call-tool", {"tool_name": "lookup_payments", "phase": "started", "input": {"account": "4471"}}
        )
        self.send(
            "call-tool",
            {
                "tool_name": "lookup_payments",
                "phase": "completed",
                "input": {"account": "4471"},
                "output": {"duplicates": 1},
                "succeeded": True,
                "duration_ms": 180,
            },
        )
        self.send("call-tts", {"text": AGENT_LINE, "latency_ms": 420})
        self.send("call-transcript", transcript("agent", AGENT_LINE))

    def hang_up(self) -> None:
        self.send("call-status", {"status": "completed", "end_reason": "customer-hangup"})
