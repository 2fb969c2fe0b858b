"""The sender's HTTP client: one httpx.AsyncClient with a connection pool, which
connects only to addresses the sender checked (docs/webhooks.md "Where deliveries may go").

The URL keeps its host name, so the Host header, TLS's SNI and the certificate
check are the name's; but the pool's network backend never resolves a name: it
connects to the address the current attempt resolved and checked
(`pinned_addresses`, a context variable set by webhooks/attempt.py). A name whose
DNS answer changes between the check and the connection (DNS rebinding) therefore
cannot send a request to a private address. A name with no checked address is
refused, never looked up.

Each endpoint gets a client (a pool) of its own, of at most
WEBHOOKS_CONCURRENCY_PER_ENDPOINT connections (`Clients`): httpcore's pool
looks through its queued requests and its connections on every request, so one
pool of WEBHOOKS_SENDER_CONCURRENCY connections cost the sender most of its CPU
(docs/PERFORMANCE.md "Webhooks"). A client unused for IDLE_CLIENT_SECONDS is closed."""

import ssl
import time
from contextvars import ContextVar

import certifi
import httpcore
import httpx
from django.conf import settings

pinned_addresses: ContextVar[dict[str, str] | None] = ContextVar("webhook_pinned_addresses", default=None)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        address = (pinned_addresses.get() or {}).get(host)
        if address is None:
            raise httpcore.ConnectError(f"{host} was not resolved and checked by the sender")
        return await self._backend.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("webhooks are not sent to Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a pool of our own: httpx takes no network backend, and
    its `_pool` is what `handle_async_request` sends through."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=PinnedBackend(),
        )


IDLE_CLIENT_SECONDS = 120


def make_client(connections: int | None = None) -> httpx.AsyncClient:
    connections = connections or settings.WEBHOOKS_SENDER_CONCURRENCY
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections,
                          keepalive_expiry=30)
    timeout = httpx.Timeout(settings.WEBHOOKS_TIMEOUT_SECONDS)
    # No redirects (a 3xx is a failed attempt), no proxy or netrc from the environment;
    # no compressed answers (a small gzip can inflate to gigabytes: webhooks/attempt.py).
    return httpx.AsyncClient(transport=PinnedTransport(limits=limits), timeout=timeout,
                             follow_redirects=False, trust_env=False,
                             headers={"user-agent": "Callboard-Webhooks/1", "accept-encoding": "identity"})


class Clients:
    """A client per endpoint, made on first use, closed after IDLE_CLIENT_SECONDS unused."""

    def __init__(self) -> None:
        self._clients: dict[str, tuple[httpx.AsyncClient, float]] = {}

    def get(self, endpoint_id: str) -> httpx.AsyncClient:
        client = self._clients.get(endpoint_id, (None, 0))[0]
        if client is None:
            client = make_client(settings.WEBHOOKS_CONCURRENCY_PER_ENDPOINT)
        self._clients[endpoint_id] = (client, time.monotonic())
        return client

    async def close_idle(self, busy) -> None:
        """Closes the clients unused for IDLE_CLIENT_SECONDS whose endpoint is not in `busy`."""
        cutoff = time.monotonic() - IDLE_CLIENT_SECONDS
        for endpoint_id, (client, used) in list(self._clients.items()):
            if used < cutoff and endpoint_id not in busy:
                del self._clients[endpoint_id]
                await client.aclose()

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client, _ in clients.values():
            await client.aclose()

    async def __aenter__(self) -> "Clients":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
