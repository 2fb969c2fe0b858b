"""The stream endpoints' fast path (realtime/asgi.py) called in-process, as the
ASGI server calls it: many connects that present the same key this process has
not seen yet verify it once between them."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, reset_queries

from realtime.asgi import StreamRouter
from workspaces.key_cache import verified_keys

pytestmark = pytest.mark.django_db(transaction=True)


async def not_django(scope, receive, send):
    raise AssertionError("only stream requests are sent")


def scope_for(key: str) -> dict:
    return {"type": "http", "method": "GET", "path": "/api/v1/events/stream", "query_string": b"",
            "headers": [(b"authorization", f"Bearer {key}".encode()), (b"accept", b"text/event-stream")]}


def open_streams(key: str, count: int) -> tuple[list[int], list[str]]:
    """Opens `count` streams at once; their statuses and the SQL the database thread ran."""

    async def main():
        router = StreamRouter(not_django)
        loop = asyncio.get_running_loop()
        leave = loop.create_future()

        def start_counting():
            connection.force_debug_cursor = True
            reset_queries()

        def close_database_thread_connection():  # before the test database is dropped
            connection.close()

        def counted():
            connection.force_debug_cursor = False
            return [query["sql"] for query in connection.queries]

        async def connect():
            status = loop.create_future()

            async def receive():
                await leave
                return {"type": "http.disconnect"}

            async def send(message):
                if message["type"] == "http.response.start" and not status.done():
                    status.set_result(message["status"])

            task = asyncio.ensure_future(router(scope_for(key), receive, send))
            return await status, task

        await sync_to_async(start_counting)()
        opened = await asyncio.wait_for(asyncio.gather(*(connect() for _ in range(count))), 10)
        queries = await sync_to_async(counted)()
        leave.set_result(None)
        await asyncio.wait_for(asyncio.gather(*(task for _, task in opened)), 10)
        await sync_to_async(close_database_thread_connection)()
        return [status for status, _ in opened], queries

    return asyncio.run(main())


def test_connects_that_present_the_same_unseen_key_at_once_read_it_once(read_key):
    verified_keys.clear()

    statuses, queries = open_streams(read_key.key, 20)

    assert statuses == [200] * 20
    key_reads = [sql for sql in queries if 'FROM "workspaces_apikey"' in sql]
    assert len(key_reads) == 1, key_reads


def test_connects_with_an_invalid_key_are_each_refused(workspace):
    verified_keys.clear()

    statuses, _ = open_streams("cb_live_notakey_0000000000000000", 5)

    assert statuses == [401] * 5
