"""The sender's clients: one connection pool per endpoint (webhooks/transport.py)."""

import asyncio

import pytest
from django.test import override_settings

from webhooks import safety, transport


async def answers_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


@override_settings(WEBHOOKS_CONCURRENCY_PER_ENDPOINT=7)
def test_each_endpoint_gets_a_pool_of_its_own_sized_to_its_limit_and_idle_ones_are_closed(monkeypatch):
    async def scenario():
        clients = transport.Clients(answers_loopback)
        first, again, other = clients.get("a"), clients.get("a"), clients.get("b")
        # Given two endpoints, then: the same session for the same endpoint, another for the other
        assert first is again and first is not other
        assert first.connector.limit == 7
        # When both have been idle past the limit and only "b" has attempts in flight
        monkeypatch.setattr(transport, "IDLE_CLIENT_SECONDS", -1)
        await clients.close_idle({"b": 1})
        # Then "a"'s session is closed and a new one is made on its next use; "b"'s is kept
        assert first.closed and not other.closed
        assert clients.get("a") is not first and clients.get("b") is other
        await clients.aclose()
        assert other.closed

    asyncio.run(scenario())


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=False)
def test_the_resolver_refuses_an_answer_with_any_private_address_and_passes_a_public_one_whole():
    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]

    async def scenario():
        # a public address beside a private one does not make the answer usable
        with pytest.raises(safety.UnsafeAddress, match=r"10\.0\.0\.7, a private address"):
            await transport.CheckedResolver(mixed).resolve("hooks.example.com", 443)
        # a public answer is handed to the connector whole, each address with its family
        results = await transport.CheckedResolver(public).resolve("hooks.example.com", 443)
        assert [(r["host"], r["family"], r["hostname"], r["port"]) for r in results] == [
            ("93.184.215.14", transport.socket.AF_INET, "hooks.example.com", 443),
            ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", transport.socket.AF_INET6, "hooks.example.com", 443),
        ]

    asyncio.run(scenario())
