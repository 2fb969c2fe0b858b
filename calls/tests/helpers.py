"""What the calls tests share: a call placed without a runtime, and a final transcript."""

from calls import services

TRANSCRIPT = {
    "role": "user",
    "text": "Hello there",
    "confidence": 0.9,
    "language": "en-US",
    "duration_ms": 700,
    "words": [],
}


def place(workspace, *, to_number: str = "+14155550123"):
    """A queued call that no runtime will play: the test moves it."""
    return services.call_create(workspace=workspace, to_number=to_number, place=False)
