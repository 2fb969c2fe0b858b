"""Signing secrets sealed at rest (docs/webhooks.md "Secrets at rest").

A webhook's secret must be kept as issued (an HMAC key cannot be kept as a hash),
so it is kept encrypted: Fernet (AES-128-CBC and HMAC-SHA256) under a key derived
from the first of WEBHOOKS_SECRETS_KEYS; every key listed decrypts, so the keys
can be rotated (`manage.py reseal_webhook_secrets` seals every secret under the
first). A copy of the database alone (a backup, a replica, a dump) therefore does
not let anyone sign deliveries. A value without the mark was stored before
sealing (migration 0004 seals those) and is read as it is."""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

MARK = "sealed:"


class UnreadableSecret(Exception):
    """No key of WEBHOOKS_SECRETS_KEYS opens a stored secret (a key was dropped too soon)."""


def _fernet_key(key: str) -> bytes:
    # The keys are long random strings (SECRET_KEY's kind): one hash is derivation enough.
    return base64.urlsafe_b64encode(hashlib.sha256(b"callboard-webhook-secrets\0" + key.encode()).digest())


@lru_cache(maxsize=8)
def _box(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def _current() -> MultiFernet:
    return _box(tuple(settings.WEBHOOKS_SECRETS_KEYS))


def seal(secret: str) -> str:
    return MARK + _current().encrypt(secret.encode()).decode() if secret else ""


def unseal(stored: str) -> str:
    if not stored.startswith(MARK):
        return stored
    try:
        return _current().decrypt(stored.removeprefix(MARK).encode()).decode()
    except InvalidToken:
        raise UnreadableSecret("No key of WEBHOOKS_SECRETS_KEYS opens a webhook secret: keep the key it "
                               "was sealed with listed (after the new one) until reseal_webhook_secrets "
                               "ran.") from None
