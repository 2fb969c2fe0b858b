"""A stream's backlog is bounded in bytes as well as in events (docs/architecture.md,
"A connection"): a client that never reads is cut off once about 1 MiB waits for
it, long before the event limits, and resumes from its cursor; a client that
reads slowly is warned at the soft byte bound; a fast client of the same
workspace notices nothing."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from project.testing import running_server
from realtime.tests.streaming import (
    WAIT,
    RawStream,
    emit_exports,
    ids,
    metric_value,
    open_stream,
    without_control,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PADDING = "x" * 16 * 1024  # makes each event about 16 KB
EVENTS = 400  # about 6.5 MB: far past 1 MiB and every socket buffer, far below 1,000 events


def test_a_client_that_never_reads_is_cut_off_at_the_byte_bound_and_resumes_without_loss_or_repeat(
        tmp_path, workspace, read_key):
    # given the default limits: 1,000 / 5,000 events, 256 KiB / 1 MiB
    with running_server(tmp_path) as server, ThreadPoolExecutor(1) as reader:
        # given a fast client that reads all the time, and one that stops after `connected`
        with open_stream(server, key=read_key.key) as fast, RawStream(server, key=read_key.key) as stalled:
            fast_received = reader.submit(fast.until_id, EVENTS)

            # when 400 events of 16 KB are emitted
            emit_exports(workspace, EVENTS, padding=PADDING)

            # then the stalled client's stream ends before the last of them
            received = stalled.read_until_end_or(lambda event: event.id == str(EVENTS))
            assert stalled.ended, "the client that never reads got every event: no byte bound cut it off"
            fast_events = without_control(fast_received.result(timeout=WAIT * 3))
        overflow_closes = metric_value(server, "callboard_stream_overflow_closes_total")

        # when it resumes from the last cursor it received
        last_seen = ids(received)[-1]
        with open_stream(server, key=read_key.key, headers={"Last-Event-ID": str(last_seen)}) as resumed:
            replayed = without_control(resumed.until_id(EVENTS))

    assert last_seen < EVENTS
    assert overflow_closes >= 1
    assert ids(received) == list(range(1, last_seen + 1))
    assert ids(replayed) == list(range(last_seen + 1, EVENTS + 1)), "every event once across the resume"
    assert ids(fast_events) == list(range(1, EVENTS + 1)), "the fast client was disturbed"


def test_a_client_that_reads_slowly_is_warned_at_the_soft_byte_bound_before_any_event_limit(
        tmp_path, workspace, read_key):
    env = {"REALTIME_BUFFER_SOFT_BYTES": str(64 * 1024), "REALTIME_BUFFER_HARD_BYTES": str(100 * 1024 * 1024)}
    # given a client that reads a few KB at a time
    with running_server(tmp_path, env=env) as server, RawStream(server, key=read_key.key) as slow:
        received = []

        # when 16 KB events come faster than it reads
        for _ in range(10):
            emit_exports(workspace, 15, padding=PADDING)
            received += slow.sip(8192)
        received += slow.read_until(lambda event: event.id == "150")

    # then it is told how many bytes wait, far below the event soft limit (1,000)
    warnings = [event for event in received if event.event == "lag-warning"]
    assert warnings, "no lag-warning"
    warning = warnings[0].data["data"]
    assert warning["pending_bytes"] >= 64 * 1024
    assert warning["limit_bytes"] == 100 * 1024 * 1024
    assert warning["pending"] < 1000
    assert ids(received) == list(range(1, 151)), "a warned client still gets every event"
