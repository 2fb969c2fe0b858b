"""The ingest runtime: a voice runtime outside Callboard drives the calls.

Placing and hanging up need nothing from us: the runtime watches the
workspace stream (`call-created`, and `call-status` for a call we ended) and
reports every step through `POST /api/v1/runtime/events` (calls/ingest.py,
docs/runtime.md).
"""

import logging

logger = logging.getLogger(__name__)


class IngestRuntime:
    def place(self, call) -> None:
        logger.info("call %s waits for the external runtime", call.pk)

    def hangup(self, call) -> None:
        logger.info("call %s ended from Callboard; the external runtime sees its call-status", call.pk)


runtime = IngestRuntime()
