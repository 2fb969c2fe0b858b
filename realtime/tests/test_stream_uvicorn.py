"""The streams under uvicorn (project.serve_uvicorn): the candidate replacement
for daphne that the benchmarks point to. Same streams, same stop."""

import signal

import pytest

from project.testing import running_server
from realtime.tests.streaming import emit_exports, open_stream

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_uvicorn_streams_events_in_order_and_resumes(tmp_path, workspace, read_key):
    # given
    with running_server(tmp_path, server="uvicorn") as server:
        with open_stream(server, key=read_key.key) as stream:
            # when
            emit_exports(workspace, 3)

            # then
            events = stream.until_id(3)
            assert [event.id for event in events] == ["1", "2", "3"]

        emit_exports(workspace, 2)
        with open_stream(server, key=read_key.key, headers={"Last-Event-ID": "3"}) as resumed:
            assert [event.id for event in resumed.until_id(5)] == ["4", "5"]


def test_uvicorn_tells_streams_to_reconnect_on_sigterm_and_exits_cleanly(tmp_path, read_key):
    # given
    with running_server(tmp_path, server="uvicorn") as server, \
            open_stream(server, key=read_key.key) as stream:
        # when
        server.process.terminate()

        # then
        ending = stream.rest()
        assert [event.event for event in ending] == ["shutdown"]
        assert ending[0].data["data"]["reconnect"] is True
        # uvicorn re-raises the signal it handled once it has stopped gracefully.
        assert server.process.wait(timeout=10) in (0, -signal.SIGTERM)
