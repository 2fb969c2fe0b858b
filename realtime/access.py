"""Access taken away reaches open streams, in every process.

Whoever takes access away (a key revoked or deleted, a member removed, a user
deactivated) calls `revoke` after the commit. It publishes one control message
on the access channel, which every process's hub listens to whatever
workspaces it watches: the process forgets a cached key of that principal
(`workspaces.key_cache`) and ends each of its streams of that principal, with
`stream-closed` (`reason: access-revoked`) on SSE, or the error shape and
close 4401/4403 on a WebSocket. A reconnect is then refused by the database.

Pub/sub drops messages while a subscriber is disconnected, so a message may
be lost. Two things bound that: every `REALTIME_ACCESS_CHECK_SECONDS` (and
at once after a pub/sub failure) a process asks the database whether its
streams' principals still hold (`workspaces.grants`), and forgets its cached
keys after a failure. A stream admitted while its principal was being revoked
(authenticated before the commit, attached after the message) is caught at
attach: a principal revoked moments ago is checked in the database then.
"""

import logging
import random
import time
from collections.abc import Iterable

from asgiref.sync import sync_to_async
from django.conf import settings

from project.errors import error_body
from project.redis_client import get_redis
from realtime.channels import access_channel
from realtime.connection import Connection
from realtime.wire import JSON, control_frame, dumps, encode_control
from workspaces import grants
from workspaces.key_cache import verified_keys

logger = logging.getLogger(__name__)

REVOKE = "revoke"
# How long a process remembers a revocation, to catch a stream that was being
# admitted meanwhile (authentication to attach takes milliseconds, seconds in a storm).
RECENT_SECONDS = 30.0
# Principals per database check: bounds one query's IN list and how long it holds the
# process's database thread (about 40 ms per 500 on the loaded 2-core machine).
CHECK_SLICE = 500


def revoke(*, subject_id: str, workspace_id: str | None, loss: grants.Loss) -> None:
    """Ends the streams of `subject_id` (in `workspace_id`, or in every workspace when
    None) in every process. Call it after the commit; it never raises: the database
    holds the truth and the periodic check applies it if this message is lost."""
    message = encode_control(action=REVOKE, subject_id=subject_id, workspace_id=workspace_id,
                             status=loss.status, code=loss.code, message=loss.message)
    try:
        get_redis().publish(access_channel(), message)
    except Exception:
        logger.warning("could not broadcast the revocation of %s; the periodic check will",
                       subject_id, exc_info=True)


def end_stream(connection: Connection, loss: grants.Loss) -> None:
    """The stream's last message says why it ends; what waited for it is dropped."""
    if connection.wire == JSON:
        frame = dumps(error_body(loss.status, loss.code, loss.message))
    else:
        frame = control_frame("stream-closed", {"reason": "access-revoked"},
                              workspace_id=connection.workspace_id, call_id=connection.follow_call_id)
    connection.end(frame, closing=f"revoked:{loss.status}")


def lifetime_end(now: float) -> float:
    """When a stream attached at `now` reaches its maximum lifetime (monotonic clock)."""
    seconds = settings.REALTIME_MAX_STREAM_SECONDS
    if seconds <= 0:
        return float("inf")
    return now + seconds * random.uniform(0.9, 1.0)  # noqa: S311 - spreading, not secrecy


class Revocations:
    """One process's side: applies revocation messages and checks its streams."""

    def __init__(self):
        # (subject id, workspace id or None) -> monotonic time until which it is remembered.
        self._recent: dict[tuple[str, str | None], float] = {}

    def apply(self, message: dict, connections: Iterable[Connection]) -> None:
        subject, workspace = message["subject_id"], message.get("workspace_id")
        self._recent[(subject, workspace)] = time.monotonic() + RECENT_SECONDS
        if subject.startswith(grants.KEY):
            verified_keys.forget(subject.removeprefix(grants.KEY))
        loss = grants.Loss(message["status"], message["code"], message["message"])
        for connection in connections:
            if connection.subject_id == subject and workspace in (None, connection.workspace_id):
                end_stream(connection, loss)

    def messages_may_be_lost(self) -> None:
        """Pub/sub failed: a revocation may have passed unheard. Cached keys go (they
        are verified again), and streams are checked at the next tick."""
        verified_keys.clear()

    def revoked_recently(self, connection: Connection) -> bool:
        if not self._recent:
            return False
        now = time.monotonic()
        return any(self._recent.get((connection.subject_id, workspace), 0) > now
                   for workspace in (None, connection.workspace_id))

    async def check_on_attach(self, connection: Connection) -> None:
        """A stream attached just after its principal was revoked here is checked in the
        database: its authentication may have read the grant before the commit."""
        if self.revoked_recently(connection):
            try:
                await self.check([connection])
            except Exception:  # the periodic check will ask again
                logger.warning("checking a new stream's access failed", exc_info=True)

    async def check(self, connections: list[Connection]) -> None:
        """Ends the streams whose principal's access is gone, asking the database."""
        pairs = sorted({(c.workspace_id, c.subject_id) for c in connections})
        losses: dict = {}
        for start in range(0, len(pairs), CHECK_SLICE):
            losses.update(await sync_to_async(grants.lost)(set(pairs[start:start + CHECK_SLICE])))
        for connection in connections:
            loss = losses.get((connection.workspace_id, connection.subject_id))
            if loss is not None:
                end_stream(connection, loss)

    def prune(self) -> None:
        now = time.monotonic()
        for key in [key for key, until in self._recent.items() if until <= now]:
            del self._recent[key]
