"""Voice runtimes: what places and hangs up calls (docs/reference/domain.md#voice-runtimes). One is chosen by
the `VOICE_RUNTIME` setting:

- `simulated` (calls/runtime/simulated.py): Celery tasks play believable
  calls and report them through the same service as the ingest API;
- `ingest` (calls/runtime/ingest.py): a real runtime outside Callboard. It
  learns of new calls from `call-created` on the workspace stream (or by
  listing queued calls) and reports back through `POST /api/v1/runtime/events`.
"""

from functools import cache
from importlib import import_module
from typing import Protocol

from django.conf import settings

RUNTIMES = {"simulated": "calls.runtime.simulated", "ingest": "calls.runtime.ingest"}


class VoiceRuntime(Protocol):
    def place(self, call) -> None:
        """Start placing a call that was just recorded (after its transaction committed)."""

    def hangup(self, call) -> None:
        """The call was ended from our side; stop it on the line."""


@cache
def _runtime(name: str) -> VoiceRuntime:
    return import_module(RUNTIMES[name]).runtime


def get_runtime(name: str | None = None) -> VoiceRuntime:
    """The runtime called `name`, by default the deployment's (VOICE_RUNTIME)."""
    return _runtime(name or settings.VOICE_RUNTIME)
