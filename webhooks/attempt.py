"""One attempt to deliver one delivery (docs/webhooks.md "What is sent").

Resolve the host once, check every address (webhooks/safety.py), sign the body
(webhooks/signing.py) and POST it to the checked address (webhooks/transport.py),
within WEBHOOKS_TIMEOUT_SECONDS for the whole attempt; keep the start of the
answer's body. What the answer means for the delivery is webhooks/outcomes.py's."""

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx
from django.conf import settings

from webhooks import safety, signing
from webhooks.transport import pinned_addresses

Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True)
class Job:
    """A claimed delivery, with what sending it needs (webhooks/claims.py)."""

    delivery_id: str
    workspace_id: str
    endpoint_id: str
    url: str
    secrets: tuple[str, ...]
    event_id: str
    payload: str
    attempts: int  # this attempt's number, 1 for the first


@dataclass(frozen=True)
class Result:
    job: Job
    succeeded: bool
    status_code: int | None = None
    body: str = ""
    error: str = ""
    duration_ms: int | None = None
    retry_after: float | None = None  # seconds, from a 429 or 503 answer

    @property
    def gone(self) -> bool:
        return self.status_code == 410


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def headers_for(job: Job, *, timestamp: int) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": job.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(list(job.secrets), msg_id=job.event_id,
                                                      timestamp=timestamp, body=job.payload),
    }


async def attempt(client: httpx.AsyncClient, job: Job, *, resolver: Resolver = system_resolver) -> Result:
    started = time.monotonic()
    try:
        async with asyncio.timeout(settings.WEBHOOKS_TIMEOUT_SECONDS):
            result = await _send(client, job, resolver)
    except TimeoutError:
        result = Result(job, False, error=f"No answer within {settings.WEBHOOKS_TIMEOUT_SECONDS:g} s.")
    except safety.UnsafeAddress as refused:
        result = Result(job, False, error=str(refused)[:500])
    except OSError as error:  # DNS
        result = Result(job, False, error=f"Could not resolve the host: {error}"[:500])
    except httpx.InvalidURL as error:  # stored before its URL was checked as the sender parses it
        result = Result(job, False, error=f"The URL cannot be used: {error}"[:500])
    except httpx.HTTPError as error:
        result = Result(job, False, error=f"{type(error).__name__}: {error}"[:500] or type(error).__name__)
    return Result(**{**result.__dict__, "duration_ms": int((time.monotonic() - started) * 1000)})


async def _send(client: httpx.AsyncClient, job: Job, resolver: Resolver) -> Result:
    # The host as the connection pool will ask for it: httpx's form (IDNA for an
    # internationalised name, lower case), so that the pinned address is found.
    url = httpx.URL(job.url)
    host, port = url.raw_host.decode("ascii"), url.port or (443 if url.scheme == "https" else 80)
    addresses = await resolver(host, port)
    if not addresses:
        raise OSError(f"{host} has no address")
    safety.check_addresses(host, addresses)
    token = pinned_addresses.set({host: addresses[0]})
    try:
        timestamp = int(time.time())
        headers = headers_for(job, timestamp=timestamp)
        async with client.stream("POST", job.url, content=job.payload.encode(), headers=headers) as response:
            body = await _read_capped(response)
    finally:
        pinned_addresses.reset(token)
    return _judged(job, response, body)


async def _read_capped(response: httpx.Response) -> str:
    """The start of the body, reading at most the cap (and one network chunk past it).
    Read raw: never inflated, since a small compressed body can inflate to gigabytes;
    a compressed one (sent although `accept-encoding: identity` was asked) is not kept."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        return f"(a {encoding[:40]}-encoded body, not kept)"
    cap, chunks, size = settings.WEBHOOKS_RESPONSE_BODY_BYTES, [], 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap:
            break
    return b"".join(chunks)[:cap].decode("utf-8", errors="replace")[:cap]


def _judged(job: Job, response: httpx.Response, body: str) -> Result:
    code = response.status_code
    if 200 <= code < 300:
        return Result(job, True, status_code=code, body=body)
    if 300 <= code < 400:
        location = response.headers.get("location", "")[:200]
        error = (f"Answered {code}, a redirect to {location or 'nowhere'}; redirects are not followed: "
                 "update the URL.")
        return Result(job, False, status_code=code, body=body, error=error[:500])
    retry_after = retry_after_seconds(response.headers.get("retry-after")) if code in (429, 503) else None
    return Result(job, False, status_code=code, body=body, error=f"Answered {code}.",
                  retry_after=retry_after)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds from now (a number of seconds, or an HTTP date); None if
    absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit alone takes ² and other scripts' digits
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
