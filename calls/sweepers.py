"""Calls that would otherwise never end (docs/reference/domain.md#call-lifecycle).

- A call in progress past its agent's `max_duration_seconds` ends as
  `completed` with `max-duration`.
- A call still `queued` after `CALLS_STUCK_SECONDS` ends as `failed`
  (`failure_code` `not-placed`); one still `ringing` then ends as `no-answer`.

Each call ends through `call_transition`, so it gets its events like any
other ending; a call that another process ended meanwhile is skipped (the
transition refuses it, and the sweep moves on). Each ending is its own
transaction: a call that cannot end (its stored times make a cost that does
not fit, say) is logged with its id, counted in
`callboard_background_failures_total` and skipped, and the sweep goes on.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings

from calls import services
from calls.models import Call, CallStatus
from project.errors import ApiError
from project.metrics import background_failures

logger = logging.getLogger(__name__)
BATCH = 200


def end_overdue_calls(now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    stuck_before = now - timedelta(seconds=settings.CALLS_STUCK_SECONDS)
    in_progress = Call.objects.filter(status=CallStatus.IN_PROGRESS)
    # One query per distinct limit: interval arithmetic in SQL differs by database.
    limits = in_progress.values_list("agent__max_duration_seconds", flat=True).distinct()
    overran = 0
    for limit in limits:
        overran += _end(in_progress.filter(agent__max_duration_seconds=limit,
                                           answered_at__lt=now - timedelta(seconds=limit)),
                        CallStatus.COMPLETED, end_reason="max-duration")
    counts = {
        "max_duration": overran,
        "never_placed": _end(Call.objects.filter(status=CallStatus.QUEUED, created_at__lt=stuck_before),
                             CallStatus.FAILED, end_reason="error", failure_code="not-placed",
                             failure_reason="The runtime did not place the call in time."),
        "never_answered": _end(Call.objects.filter(status=CallStatus.RINGING, started_at__lt=stuck_before),
                               CallStatus.NO_ANSWER, end_reason="no-answer"),
    }
    return counts


def _end(calls, status: str, **ending) -> int:
    ended = 0
    # The sweep acts for no workspace: it picks calls system-wide, then ends each
    # in its own workspace's name.
    for call in calls.select_related("workspace").order_by("created_at")[:BATCH]:
        try:
            services.call_transition(workspace=call.workspace, call_id=call.pk, status=status, **ending)
        except ApiError as error:  # ended meanwhile
            logger.info("sweeper skipped call %s: %s", call.pk, error.message)
            continue
        except Exception:  # this call only: the others still end
            logger.exception("sweeper could not end call %s", call.pk)
            background_failures.labels("sweep").inc()
            continue
        ended += 1
    return ended
