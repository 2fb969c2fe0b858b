"""The principals of API keys verified in the last few seconds, so a reconnect
storm or steady REST traffic does not look up the same key again and again.

A stream connect with a bearer key costs a database read on the process's one
database thread; after a deploy every client of an integration reconnects at
once with the same key. REST uses it too: the key lookup was 15 % of a
request's samples in the REST benchmark. An entry is found by the SHA-256 of
the whole presented key, so a hit means exactly this secret was verified
against the database moments ago.

Access taken away must still end at once. Revoking or deleting a key forgets
it in the process that did it, and the revocation broadcast
(`realtime.access`) makes every web process forget it within milliseconds.
Entries live `API_KEY_CACHE_SECONDS` (5 s by default, 0 turns the cache off):
that bounds a broadcast that was lost, and a process whose pub/sub fails
forgets every entry.
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
        """Drops a key (revoked or deleted) whatever it was presented as; `key_id` is
        the key's id or its text (as a revocation message carries it)."""
        key_id = str(key_id)
        with self._lock:
            for digest, (_, principal) in list(self._entries.items()):
                if str(principal.api_key.pk) == key_id:
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
