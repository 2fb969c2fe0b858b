"""The principals of API keys verified in the last few seconds, so a reconnect
storm does not look up the same key thousands of times.

A stream connect with a bearer key costs a database read on the process's one
database thread; after a deploy every client of an integration reconnects at
once with the same key. An entry is found by the SHA-256 of the whole
presented key, so a hit means exactly this secret was verified against the
database moments ago. Entries live `API_KEY_CACHE_SECONDS` (5 s by default,
0 turns the cache off): revoking a key takes effect at once in the process
that revoked it and within that time everywhere else.
"""

import threading
import time

from django.conf import settings

from workspaces.keys import hash_key

MAX_ENTRIES = 10_000


class VerifiedKeys:
    def __init__(self):
        self._entries: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _ttl() -> float:
        return float(settings.API_KEY_CACHE_SECONDS)

    def get(self, plaintext: str):
        """The Principal verified for this exact key, or None."""
        if self._ttl() <= 0:
            return None
        entry = self._entries.get(hash_key(plaintext))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, plaintext: str, principal) -> None:
        ttl = self._ttl()
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._evict(time.monotonic())
            self._entries[hash_key(plaintext)] = (time.monotonic() + ttl, principal)

    def forget(self, key_id) -> None:
        """Drops a key (revoked in this process) whatever it was presented as."""
        with self._lock:
            for digest, (_, principal) in list(self._entries.items()):
                if principal.api_key.pk == key_id:
                    del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _evict(self, now: float) -> None:
        for digest, (expires, _) in list(self._entries.items()):
            if expires < now:
                del self._entries[digest]
        # Still full: drop the oldest half (insertion order is age order).
        if len(self._entries) >= MAX_ENTRIES:
            for digest in list(self._entries)[: MAX_ENTRIES // 2]:
                del self._entries[digest]


verified_keys = VerifiedKeys()
