"""Where a webhook may point (docs/webhooks.md "Where deliveries may go").

At create and update: an absolute https URL (http only with
WEBHOOKS_ALLOW_PRIVATE_URLS), a host, no credentials, at most 2,000 characters,
and not a literal private address. At delivery: the host is resolved once,
every address it resolves to is checked, and the sender connects to the checked
address (webhooks/transport.py), so a name that changes its answer between the
check and the connection (DNS rebinding) cannot reach a private address."""

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx
import yarl
from django.conf import settings

from project.errors import BadRequest

MAX_URL_LENGTH = 2000
# Cloud metadata services answer on these; they are link-local or private, and named
# here too so that the refusal says why.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(address)
                               for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))
CLASSES = (("is_loopback", "a loopback address"), ("is_link_local", "a link-local address"),
           ("is_multicast", "a multicast address"), ("is_private", "a private address"),
           ("is_reserved", "a reserved address"), ("is_unspecified", "an unspecified address"))
BLOCKED_NAMES = frozenset({"localhost", "metadata.google.internal", "metadata"})


class UnsafeAddress(Exception):
    """The delivery's host resolves to an address deliveries may not reach."""


def private_allowed() -> bool:
    return settings.WEBHOOKS_ALLOW_PRIVATE_URLS


def address_problem(address: str) -> str | None:
    """Why deliveries may not go to this IP address (None: they may)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for attribute, words in CLASSES:
        if getattr(ip, attribute):
            return words
    if not ip.is_global:  # shared address space (100.64/10) and the like
        return "a non-public address"
    return None


def check_addresses(host: str, addresses: list[str]) -> None:
    """Raises UnsafeAddress unless private addresses are allowed or every address is public."""
    if private_allowed():
        return
    for address in addresses:
        problem = address_problem(address)
        if problem:
            raise UnsafeAddress(f"{host} resolves to {address}, {problem}: deliveries may not go there "
                                "(WEBHOOKS_ALLOW_PRIVATE_URLS is off).")


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_webhook_url", details={"field": "url"})


def clean_url(url: str) -> str:
    """The URL as stored, or 400 `invalid_webhook_url` saying what is wrong."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise _invalid(f"The URL must be 1 to {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)  # strict: control characters and names that are not IDNA are refused
        yarl.URL(url)  # the sender's parser: a URL it refuses would fail every attempt
    except (ValueError, httpx.InvalidURL):
        raise _invalid("The URL cannot be parsed (control characters, or a host name that is not valid "
                       "IDNA).") from None
    allowed_schemes = ("https", "http") if private_allowed() else ("https",)
    if parts.scheme not in allowed_schemes:
        raise _invalid("The URL must start with https://." if not private_allowed()
                       else "The URL must start with https:// or http://.")
    host = parts.hostname
    if not host:
        raise _invalid("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise _invalid("The URL may not carry a user name or password; authenticate by the signature.")
    if port == 0:
        raise _invalid("The URL's port must be 1 to 65535.")
    if not private_allowed():
        _refuse_private_host(host)
    return url


def _literal_address(host: str) -> str | None:
    """The IP address `host` spells, if it spells one: the canonical forms, and the
    IPv4 forms resolvers accept too (2130706433, 0x7f000001, 017700000001, 127.1,
    a trailing dot); None for a name."""
    host = host.rstrip(".")
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def _refuse_private_host(host: str) -> None:
    if host.lower().rstrip(".") in BLOCKED_NAMES or host.lower().rstrip(".").endswith(".localhost"):
        raise _invalid(f"{host} is a local name: deliveries may not go there.")
    address = _literal_address(host)
    if address is None:
        return  # a name: checked when a delivery resolves it
    problem = address_problem(address)
    if problem:
        raise _invalid(f"{host} is {problem}: deliveries may not go there.")
