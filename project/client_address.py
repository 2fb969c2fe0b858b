"""The address a request comes from, as the rate limits count it.

The peer of the connection (REMOTE_ADDR, the ASGI scope's `client`) unless
TRUST_PROXY_HEADERS says a proxy of ours stands in front: then the last entry
of X-Forwarded-For, the one that proxy appended. Entries before it were sent
by the client and prove nothing, so trusting the first would let anyone pick
the address their failures are counted against.
"""

from django.conf import settings

UNKNOWN = "unknown"


def _forwarded(header: str | None) -> str:
    return (header or "").rsplit(",", 1)[-1].strip()


def request_address(request) -> str:
    """For a Django request (also django-axes' AXES_CLIENT_IP_CALLABLE)."""
    meta = request.META
    if settings.TRUST_PROXY_HEADERS:
        forwarded = _forwarded(meta.get("HTTP_X_FORWARDED_FOR"))
        if forwarded:
            return forwarded
    return meta.get("REMOTE_ADDR") or UNKNOWN


def scope_address(scope, headers: dict[str, str]) -> str:
    """For an ASGI scope; `headers` are its headers with lower-case names."""
    if settings.TRUST_PROXY_HEADERS:
        forwarded = _forwarded(headers.get("x-forwarded-for"))
        if forwarded:
            return forwarded
    client = scope.get("client")
    return client[0] if client else UNKNOWN
