"""The sender's clients: one connection pool per endpoint (webhooks/transport.py)."""

import asyncio

from django.test import override_settings

from webhooks import transport


@override_settings(WEBHOOKS_CONCURRENCY_PER_ENDPOINT=7)
def test_each_endpoint_gets_a_pool_of_its_own_sized_to_its_limit_and_idle_ones_are_closed(monkeypatch):
    async def scenario():
        clients = transport.Clients()
        first, again, other = clients.get("a"), clients.get("a"), clients.get("b")
        # Given two endpoints, then: the same client for the same endpoint, another for the other
        assert first is again and first is not other
        assert first._transport._pool._max_connections == 7
        # When both have been idle past the limit and only "b" has attempts in flight
        monkeypatch.setattr(transport, "IDLE_CLIENT_SECONDS", -1)
        await clients.close_idle({"b": 1})
        # Then "a"'s client is closed and a new one is made on its next use; "b"'s is kept
        assert first.is_closed and not other.is_closed
        assert clients.get("a") is not first and clients.get("b") is other
        await clients.aclose()
        assert other.is_closed

    asyncio.run(scenario())
