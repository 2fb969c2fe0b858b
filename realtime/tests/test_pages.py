"""Shared replay pages (realtime/pages.py): streams replaying overlapping stretches
of a workspace's history share one read per page; pages are aligned, cut at the
committed position, bounded in memory, not kept when a read fails; each stream
takes only the frames it wants."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from realtime import pages as pages_module
from realtime.models import Event
from realtime.pages import ReplayPages
from realtime.tests.streaming import emit_exports
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


def seqs(page) -> list[int]:
    return [delivery.seq for delivery in page.deliveries]


def test_streams_replaying_the_same_stretch_share_one_read_per_page(workspace):
    emit_exports(workspace, 12)
    workspace_id = str(workspace.pk)
    pages = ReplayPages(page_size=5, max_bytes=10**6)

    async def replay_many():
        # 30 streams, from different cursors, all up to 12
        wanted = [(cursor, index) for cursor in (2, 4, 7) for _ in range(10)
                  for index in pages.indexes(after=cursor, upto=12)]
        read = await asyncio.gather(*(pages.get(workspace_id, index, upto=12) for _, index in wanted))
        return wanted, read

    wanted, read = run(replay_many())

    by_index: dict[int, set[int]] = {}
    for (_, index), page in zip(wanted, read, strict=True):
        by_index.setdefault(index, set()).add(id(page))
    assert {index: len(ids) for index, ids in by_index.items()} == {0: 1, 1: 1, 2: 1}
    assert [seqs(read[wanted.index((2, index))]) for index in (0, 1, 2)] == [
        [1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]]
    assert len(pages) == 3


def test_the_top_page_is_cut_at_the_position_it_was_asked_for(workspace):
    emit_exports(workspace, 4)
    workspace_id = str(workspace.pk)
    pages = ReplayPages(page_size=5, max_bytes=10**6)

    async def before_and_after():
        early = await pages.get(workspace_id, 0, upto=3)
        await sync_to_async(emit_exports)(workspace, 1)
        late = await pages.get(workspace_id, 0, upto=5)
        return early, late

    early, late = run(before_and_after())

    assert seqs(early) == [1, 2, 3]
    assert seqs(late) == [1, 2, 3, 4, 5]


def test_a_page_whose_events_were_trimmed_does_not_hold_them(workspace):
    emit_exports(workspace, 5)
    Event.objects.filter(workspace=workspace, seq__lte=3).delete()
    workspace_id = str(workspace.pk)

    page = run(ReplayPages(page_size=5, max_bytes=10**6).get(workspace_id, 0, upto=5))

    assert not page.holds(2)
    assert page.holds(4)


def test_the_cache_stays_within_its_bytes_and_pages_expire(monkeypatch, workspace):
    monkeypatch.setattr(pages_module, "PAGE_SECONDS", 0.05)
    emit_exports(workspace, 20, padding="x" * 1000)
    workspace_id = str(workspace.pk)
    pages = ReplayPages(page_size=5, max_bytes=20_000)  # room for one page (about 13 KB), not two

    async def read_all_then_again():
        first = [await pages.get(workspace_id, index, upto=20) for index in range(4)]
        kept = len(pages), pages.cached_bytes
        again = await pages.get(workspace_id, 3, upto=20)
        await asyncio.sleep(0.1)
        expired = await pages.get(workspace_id, 3, upto=20)
        return first, kept, again, expired

    first, (kept, cached_bytes), again, expired = run(read_all_then_again())

    assert kept == 1 and cached_bytes <= 20_000
    assert again is first[3]  # the most recent page stayed
    assert expired is not first[3] and seqs(expired) == seqs(first[3])


def test_a_failed_read_is_not_kept():
    async def read_broken():
        pages = ReplayPages(page_size=5, max_bytes=10**6)
        with pytest.raises(Exception):  # noqa: B017 - whatever the database raises for a bad id
            await pages.get("not-a-workspace-id", 0, upto=3)
        return len(pages)

    assert run(read_broken()) == 0


def test_each_stream_takes_only_the_frames_it_wants_after_its_cursor_in_its_wire_format(workspace):
    envelopes = emit_exports(workspace, 4)
    workspace_id = str(workspace.pk)

    page = run(ReplayPages(page_size=5, max_bytes=10**6).get(workspace_id, 0, upto=4))
    even = page.frames_for(lambda delivery: delivery.seq % 2 == 0, after=0, upto=4)
    after_two = page.frames_for(lambda delivery: True, after=2, upto=3)
    as_json = page.frames_for(lambda delivery: delivery.seq == 1, after=0, upto=4, wire=JSON)

    assert [frame.split(b"\n", 1)[0] for frame in even] == [b"id: 2", b"id: 4"]
    assert [frame.split(b"\n", 1)[0] for frame in after_two] == [b"id: 3"]
    assert len(as_json) == 1 and b'"event_id":"%s"' % envelopes[0]["event_id"].encode() in as_json[0]
