"""API key material: how a key looks, how it is hashed, how it is checked.

A key is `cbk_<8 lookup chars>_<43 chars of secrets.token_urlsafe(32)>`: 256
random bits of secret. The first 12 characters are stored in the clear to find
the row; the whole key is stored only as its SHA-256 (a fast hash is right for
a random 256-bit secret: there is nothing to brute-force).
"""

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

KEY_PREFIX = "cbk_"
LOOKUP_ALPHABET = string.ascii_lowercase + string.digits
LOOKUP_LENGTH = 8
VISIBLE_PREFIX_LENGTH = len(KEY_PREFIX) + LOOKUP_LENGTH


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    prefix: str
    hashed_secret: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key() -> NewKey:
    lookup = "".join(secrets.choice(LOOKUP_ALPHABET) for _ in range(LOOKUP_LENGTH))
    prefix = KEY_PREFIX + lookup
    plaintext = f"{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(plaintext=plaintext, prefix=prefix, hashed_secret=hash_key(plaintext))


def prefix_of(plaintext: str) -> str | None:
    """The lookup prefix of a presented key, or None when it is not shaped like one."""
    if not plaintext.startswith(KEY_PREFIX) or len(plaintext) < VISIBLE_PREFIX_LENGTH + 20:
        return None
    if plaintext[VISIBLE_PREFIX_LENGTH] != "_":
        return None
    return plaintext[:VISIBLE_PREFIX_LENGTH]


def key_matches(plaintext: str, hashed_secret: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), hashed_secret)
