"""Secrets and signatures of the Standard Webhooks scheme (docs/webhooks.md "Verifying").

A secret is `whsec_` + base64 of WEBHOOKS_SECRET_BYTES random bytes (24 to 64). A
delivery is signed with HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`
by the `standardwebhooks` package, the same code a receiver verifies with; while a
rotated-out secret is still valid, the header carries both signatures,
space-separated, the current one first."""

import base64
import secrets
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from standardwebhooks import Webhook

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(settings.WEBHOOKS_SECRET_BYTES)).decode()


@lru_cache(maxsize=4096)
def _signer(secret: str) -> Webhook:
    return Webhook(secret)


def signature_header(signing_secrets: list[str], *, msg_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` value: `v1,<base64>` per secret, space-separated."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return " ".join(_signer(secret).sign(msg_id, moment, body) for secret in signing_secrets)


def signing_secrets(endpoint, *, now: datetime) -> list[str]:
    """The secrets that sign for `endpoint` at `now`: the current one, and the one
    it replaced until that one's grace period is over."""
    found = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and \
            endpoint.previous_secret_expires_at > now:
        found.append(endpoint.previous_secret)
    return found
