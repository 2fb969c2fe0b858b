"""The sender's HTTP clients: an aiohttp session per endpoint, whose connections go
only to addresses the sender checked (docs/webhooks.md "Where deliveries may go").

Why aiohttp: with the same receiver, concurrency and per-endpoint pools, httpx
0.28 cost the sender about 1.2 ms of CPU per request and aiohttp about 0.1 ms
(docs/PERFORMANCE.md "Webhooks"); at the sender's load that is the difference
between hundreds and thousands of deliveries a second.

The URL keeps its host name, so the Host header, TLS's SNI and the certificate
check are the name's. The connector learns the name's addresses from
`CheckedResolver`, through aiohttp's own resolver interface: it resolves once,
refuses the whole answer when any address may not be reached (webhooks/safety.py),
and the connector connects only to the addresses it returned. A name whose DNS
answer changes between the check and the connection (DNS rebinding) therefore
cannot reach a private address. aiohttp keeps an answer for DNS_CACHE_SECONDS;
only checked answers are kept, so a changed answer is seen that much later at
most, and checked before it is used.

Each endpoint gets a session (a pool) of its own, of at most
WEBHOOKS_CONCURRENCY_PER_ENDPOINT connections (`Clients`), so a slow endpoint
holds its own connections and no one else's. A session unused for
IDLE_CLIENT_SECONDS is closed. Sessions keep no cookies, follow no redirects
(webhooks/attempt.py), read no proxy from the environment and inflate nothing."""

import asyncio
import functools
import socket
import ssl
import time
from collections.abc import Awaitable, Callable

import aiohttp
import certifi
from aiohttp.abc import AbstractResolver, ResolveResult
from django.conf import settings

from webhooks import safety

Resolver = Callable[[str, int], Awaitable[list[str]]]
IDLE_CLIENT_SECONDS = 120
DNS_CACHE_SECONDS = 10
USER_AGENT = "Callboard-Webhooks/1"


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class CheckedResolver(AbstractResolver):
    """aiohttp's resolver interface over `resolve` (the system's DNS, or a test's):
    every address of the answer is checked, or none is used."""

    def __init__(self, resolve: Resolver) -> None:
        self._resolve = resolve

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        addresses = await self._resolve(host, port)
        if not addresses:
            raise OSError(f"{host} has no address")
        safety.check_addresses(host, addresses)  # raises UnsafeAddress, which aiohttp passes on as it is
        return [ResolveResult(hostname=host, host=address, port=port,
                              family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST)
                for address in addresses]

    async def close(self) -> None:
        return None


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


def make_session(resolver: Resolver, connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections, resolver=CheckedResolver(resolver), ssl=_tls(),
                                     ttl_dns_cache=DNS_CACHE_SECONDS, keepalive_timeout=30)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=settings.WEBHOOKS_TIMEOUT_SECONDS),
        cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False, trust_env=False,
        # no compressed answers: a small gzip can inflate to gigabytes (webhooks/attempt.py)
        headers={"user-agent": USER_AGENT, "accept-encoding": "identity"},
    )


class Clients:
    """A session per endpoint, made on first use, closed after IDLE_CLIENT_SECONDS unused."""

    def __init__(self, resolver: Resolver = system_resolver) -> None:
        self.resolver = resolver
        self._clients: dict[str, tuple[aiohttp.ClientSession, float]] = {}

    def get(self, endpoint_id: str) -> aiohttp.ClientSession:
        client = self._clients.get(endpoint_id, (None, 0))[0]
        if client is None:
            client = make_session(self.resolver, settings.WEBHOOKS_CONCURRENCY_PER_ENDPOINT)
        self._clients[endpoint_id] = (client, time.monotonic())
        return client

    async def close_idle(self, busy) -> None:
        """Closes the sessions unused for IDLE_CLIENT_SECONDS whose endpoint is not in `busy`."""
        cutoff = time.monotonic() - IDLE_CLIENT_SECONDS
        for endpoint_id, (client, used) in list(self._clients.items()):
            if used < cutoff and endpoint_id not in busy:
                del self._clients[endpoint_id]
                await client.close()

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client, _ in clients.values():
            await client.close()

    async def __aenter__(self) -> "Clients":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
