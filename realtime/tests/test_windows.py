"""Replay windows (realtime/windows.py): streams that resume from the same cursor
share one read, which is kept briefly; a trimmed start is None; a failed read is
not kept; each stream takes only the frames it wants."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from realtime import windows as windows_module
from realtime.models import Event
from realtime.tests.streaming import emit_exports
from realtime.windows import ReplayWindows
from realtime.wire import JSON

pytestmark = pytest.mark.django_db(transaction=True)


def run(coroutine):
    """Runs the coroutine, then closes the database connection that its reads opened
    on asgiref's thread (the test database cannot be dropped while it is open)."""

    async def and_close():
        try:
            return await coroutine
        finally:
            await sync_to_async(connections.close_all)()

    return asyncio.run(and_close())


def seqs(window) -> list[int]:
    return [delivery.seq for delivery in window.deliveries]


def test_streams_resuming_from_the_same_cursor_share_one_read(workspace):
    emit_exports(workspace, 5)
    workspace_id = str(workspace.pk)

    async def resume_many():
        windows = ReplayWindows()
        together = await asyncio.gather(*(windows.get(workspace_id, after=2, upto=5) for _ in range(50)))
        straggler = await windows.get(workspace_id, after=2, upto=5)
        from_elsewhere = await windows.get(workspace_id, after=1, upto=5)
        return together, straggler, from_elsewhere, len(windows)

    together, straggler, from_elsewhere, kept = run(resume_many())

    assert all(window is together[0] for window in together)
    assert straggler is together[0]
    assert seqs(together[0]) == [3, 4, 5]
    assert seqs(from_elsewhere) == [2, 3, 4, 5]
    assert kept == 2


def test_a_window_is_read_again_once_it_has_expired(monkeypatch, workspace):
    monkeypatch.setattr(windows_module, "WINDOW_SECONDS", 0.05)
    emit_exports(workspace, 3)
    workspace_id = str(workspace.pk)

    async def twice():
        windows = ReplayWindows()
        first = await windows.get(workspace_id, after=0, upto=3)
        await asyncio.sleep(0.1)
        return first, await windows.get(workspace_id, after=0, upto=3)

    first, second = run(twice())

    assert second is not first
    assert seqs(second) == seqs(first) == [1, 2, 3]


def test_a_window_whose_first_event_was_trimmed_is_none(workspace):
    emit_exports(workspace, 5)
    Event.objects.filter(workspace=workspace, seq__lte=3).delete()
    workspace_id = str(workspace.pk)

    async def read():
        windows = ReplayWindows()
        return (await windows.get(workspace_id, after=1, upto=5),
                await windows.get(workspace_id, after=3, upto=5))

    trimmed, at_the_edge = run(read())

    assert trimmed is None
    assert seqs(at_the_edge) == [4, 5]


def test_a_failed_read_is_not_kept():
    async def read_broken():
        windows = ReplayWindows()
        with pytest.raises(Exception):  # noqa: B017 - whatever the database raises for a bad id
            await windows.get("not-a-workspace-id", after=0, upto=3)
        return len(windows)

    assert run(read_broken()) == 0


def test_each_stream_takes_only_the_frames_it_wants_in_its_wire_format(workspace):
    envelopes = emit_exports(workspace, 4)
    workspace_id = str(workspace.pk)

    async def read():
        return await ReplayWindows().get(workspace_id, after=0, upto=4)

    window = run(read())
    even = window.frames_for(lambda delivery: delivery.seq % 2 == 0)
    as_json = window.frames_for(lambda delivery: delivery.seq == 1, wire=JSON)

    assert [frame.split(b"\n", 1)[0] for frame in even] == [b"id: 2", b"id: 4"]
    assert len(as_json) == 1 and b'"event_id":"%s"' % envelopes[0]["event_id"].encode() in as_json[0]
