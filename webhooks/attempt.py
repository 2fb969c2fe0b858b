"""One attempt to deliver one delivery (docs/webhooks.md "What is sent").

Sign the body (webhooks/signing.py) and POST it on the endpoint's session, whose
connector resolves the host and connects only to checked addresses
(webhooks/transport.py), within WEBHOOKS_TIMEOUT_SECONDS for the whole attempt;
keep the start of the answer's body. What the answer means for the delivery is
webhooks/outcomes.py's."""

import asyncio
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import aiohttp
import yarl
from aiohttp.helpers import is_ip_address
from django.conf import settings

from webhooks import safety, signing


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


def headers_for(job: Job, *, timestamp: int) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": job.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(list(job.secrets), msg_id=job.event_id,
                                                      timestamp=timestamp, body=job.payload),
    }


async def attempt(session: aiohttp.ClientSession, job: Job) -> Result:
    started = time.monotonic()
    try:
        async with asyncio.timeout(settings.WEBHOOKS_TIMEOUT_SECONDS):
            result = await _send(session, job)
    except TimeoutError:  # ours, or aiohttp's (its timeouts are TimeoutErrors too)
        result = Result(job, False, error=f"No answer within {settings.WEBHOOKS_TIMEOUT_SECONDS:g} s.")
    except safety.UnsafeAddress as refused:
        result = Result(job, False, error=str(refused)[:500])
    except aiohttp.ClientConnectorDNSError as error:
        result = Result(job, False, error=f"Could not resolve the host: {error.os_error}"[:500])
    except aiohttp.InvalidURL as error:  # stored before its URL was checked as the sender parses it
        result = Result(job, False, error=f"The URL cannot be used: {error}"[:500])
    except (aiohttp.ClientError, OSError) as error:
        result = Result(job, False, error=f"{type(error).__name__}: {error}"[:500] or type(error).__name__)
    return Result(**{**result.__dict__, "duration_ms": int((time.monotonic() - started) * 1000)})


async def _send(session: aiohttp.ClientSession, job: Job) -> Result:
    _check_literal_address(job.url)
    headers = headers_for(job, timestamp=int(time.time()))
    async with session.post(job.url, data=job.payload.encode(), headers=headers,
                            allow_redirects=False) as response:
        body = await _read_capped(response)
        return _judged(job, response, body)


def _check_literal_address(url: str) -> None:
    """aiohttp asks no resolver for a host that is an IP address, so such a host is
    checked here (a URL stored while private addresses were allowed, say)."""
    host = yarl.URL(url).host or ""
    if is_ip_address(host):
        safety.check_addresses(host, [host])


async def _read_capped(response: aiohttp.ClientResponse) -> str:
    """The start of the body, reading at most the cap. Read raw: never inflated, since a
    small compressed body can inflate to gigabytes; a compressed one (sent although
    `accept-encoding: identity` was asked) is not kept. What is left unread closes the
    connection instead of returning it to the pool."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        return f"(a {encoding[:40]}-encoded body, not kept)"
    cap, chunks, size = settings.WEBHOOKS_RESPONSE_BODY_BYTES, [], 0
    while size < cap:
        chunk = await response.content.read(cap - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")[:cap]


def _judged(job: Job, response: aiohttp.ClientResponse, body: str) -> Result:
    code = response.status
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
