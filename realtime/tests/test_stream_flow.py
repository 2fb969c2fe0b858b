"""Flow control and the limits of a stream (docs/reference/streams.md#flow-control): a slow client is
warned, then cut
off at the hard limit without growing the server's memory, and resumes from the
database; streams over the caps are 429; SIGTERM tells every stream to reconnect."""

import signal

import pytest

from project.testing import running_server
from realtime.tests.streaming import (
    WAIT,
    RawStream,
    emit_exports,
    error_of,
    ids,
    metric_value,
    open_stream,
    open_stream_once_admitted,
    refused,
    resident_memory_kib,
    without_control,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PADDING = "x" * 4096  # makes each event about 4 KB
SMALL_BUFFERS = {"REALTIME_BUFFER_SOFT_LIMIT": "20", "REALTIME_BUFFER_HARD_LIMIT": "100"}


def test_a_client_that_stops_reading_is_cut_off_at_the_hard_limit_and_the_server_memory_stays_bounded(
        tmp_path, workspace, read_key):
    with running_server(tmp_path, env=SMALL_BUFFERS) as server:
        # given a client that has read `connected` and then stops reading
        with RawStream(server, key=read_key.key) as stalled:
            pid = server.process.pid
            before = peak = resident_memory_kib(pid)

            # when about 6 MB of events are emitted
            for _ in range(15):
                emit_exports(workspace, 100, padding=PADDING)
                peak = max(peak, resident_memory_kib(pid))

            # then what reached it ends with the end of the stream
            received = stalled.read_to_end()
        overflow_closes = metric_value(server, "callboard_stream_overflow_closes_total")

        # when it resumes from the last cursor it received
        last_seen = ids(received)[-1]
        with open_stream(server, key=read_key.key, headers={"Last-Event-ID": str(last_seen)}) as resumed:
            replayed = without_control(resumed.until_id(1500))

    # then
    assert stalled.ended
    assert last_seen < 1500, "the client got everything: it was never cut off"
    assert overflow_closes >= 1
    assert peak - before < 10 * 1024, f"the server grew by {peak - before} KiB for one stalled client"
    assert ids(received) == list(range(1, last_seen + 1))
    assert ids(replayed) == list(range(last_seen + 1, 1501))


def test_a_client_that_reads_slowly_but_steadily_is_warned_that_it_lags(tmp_path, workspace, read_key):
    # Both hard bounds out of reach: this client is warned, never cut off.
    env = {"REALTIME_BUFFER_SOFT_LIMIT": "20", "REALTIME_BUFFER_HARD_LIMIT": "100000",
           "REALTIME_BUFFER_HARD_BYTES": str(1024 * 1024 * 1024)}
    # given a client that reads a few KB at a time
    with running_server(tmp_path, env=env) as server, RawStream(server, key=read_key.key) as slow:
        received = []

        # when events come faster than it reads
        for _ in range(10):
            emit_exports(workspace, 60, padding=PADDING)
            received += slow.sip(8192)
        received += slow.read_until(lambda event: event.id == "600")

    # then
    warnings = [event for event in received if event.event == "lag-warning"]
    assert warnings, "no lag-warning"
    assert warnings[0].id is None
    assert warnings[0].data["data"]["pending"] >= 20
    assert warnings[0].data["data"]["limit"] == 100000
    assert ids(received) == list(range(1, 601)), "a warned client still gets every event"


def test_streams_over_the_caps_are_429_until_one_closes(tmp_path, workspace, read_key, write_key,
                                                        admin_key):
    env = {"REALTIME_MAX_STREAMS_PER_PRINCIPAL": "1", "REALTIME_MAX_STREAMS_PER_WORKSPACE": "2"}
    with running_server(tmp_path, env=env) as server, open_stream(server, key=read_key.key) as first:
        # when the same key opens a second stream
        same_key = refused(server, key=read_key.key)

        # when another key opens the workspace's third
        with open_stream(server, key=write_key.key):
            third = refused(server, key=admin_key.key)

        # then once the second has closed, a new one is admitted
        with open_stream_once_admitted(server, key=admin_key.key) as replacement:
            envelope = emit_exports(workspace, 1)[0]
            assert without_control(replacement.until_event(envelope))[-1].data == envelope
            assert without_control(first.until_event(envelope))[-1].data == envelope

    for answer, scope in ((same_key, "principal"), (third, "workspace")):
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) > 0
        error = error_of(answer)
        assert error["code"] == "too_many_streams"
        assert error["details"]["scope"] == scope


def test_sigterm_tells_every_stream_to_reconnect_then_ends_them_and_the_server_exits_cleanly(
        tmp_path, workspace, read_key, write_key, asgi_server):
    with running_server(tmp_path) as server:
        with open_stream(server, key=read_key.key) as one, open_stream(server, key=write_key.key) as other:
            envelope = emit_exports(workspace, 1)[0]
            one.until_event(envelope)
            other.until_event(envelope)

            # when
            server.process.terminate()

            # then each gets `shutdown` and then the end of its stream
            endings = [one.rest(), other.rest()]
        exit_code = server.process.wait(WAIT)

    for ending in endings:
        assert [event.event for event in ending] == ["shutdown"]
        [shutdown] = ending
        assert shutdown.id is None
        assert shutdown.data["data"]["reconnect"] is True
        assert shutdown.data["data"]["retry_ms"] > 0
    # uvicorn re-raises the signal it handled once it has stopped gracefully.
    assert exit_code in ((0, -signal.SIGTERM) if asgi_server == "uvicorn" else (0,))
