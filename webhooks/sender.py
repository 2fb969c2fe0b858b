"""The webhook sender: a long-running asyncio process (manage.py run_webhook_sender;
docs/webhooks.md "How deliveries are sent", docs/operations.md "Webhooks").

A loop claims due deliveries while it has free slots (WEBHOOKS_SENDER_CONCURRENCY
in all, WEBHOOKS_CONCURRENCY_PER_ENDPOINT per endpoint; webhooks/claims.py),
starts one attempt per delivery on its endpoint's aiohttp session (a connection
pool per endpoint; webhooks/transport.py), and the results are written in batches
(webhooks/outcomes.py). The database is used from one thread of its own (one
connection), never from the event loop: claims and writes take turns there, so a
claim sees which of this sender's finished attempts are written (`Unwritten`).
With nothing due it looks again every WEBHOOKS_POLL_SECONDS; with deliveries due
but their endpoints at their limit, as soon as one of its attempts ends. Stopping (SIGTERM, SIGINT) claims
nothing more, lets the attempts in flight end (each bounded by
WEBHOOKS_TIMEOUT_SECONDS) and writes their results; a kill loses only the
results in memory, and those deliveries are claimed again after their lease."""

import asyncio
import functools
import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from django.conf import settings
from django.db import close_old_connections

from project.metrics import background_failures
from webhooks import claims, metrics, outcomes
from webhooks.attempt import Job, Result, attempt
from webhooks.transport import Clients, Resolver, system_resolver

logger = logging.getLogger(__name__)
WRITE_BATCH = 500  # results per transaction
WRITE_INTERVAL = 0.05  # seconds a result waits at most before it is written
WRITE_RETRY_SECONDS = 1.0  # after a failed write


def _now() -> datetime:
    return datetime.now(UTC)


def _in_thread(function, *args, **kwargs):
    """Runs in a database thread: a connection that broke since its last use is replaced."""
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


class Unwritten:
    """Per endpoint, this sender's attempts that ended and whose results are not
    written yet. Their rows still say claimed, but their connections are free: a
    claim subtracts them, so an endpoint's next deliveries do not wait for the
    write. Counted up on the event loop, down in the database thread right after
    the write commits; the claim reads them in that same thread, so it never
    subtracts a result that is already written."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def add(self, endpoint_id: str) -> None:
        with self._lock:
            self._counts[endpoint_id] += 1

    def remove(self, results: list[Result]) -> None:
        with self._lock:
            for result in results:
                endpoint_id = result.job.endpoint_id
                self._counts[endpoint_id] -= 1
                if self._counts[endpoint_id] <= 0:
                    del self._counts[endpoint_id]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class Sender:
    def __init__(self, *, resolver: Resolver = system_resolver):
        self.resolver = resolver
        self.in_flight: dict[str, int] = defaultdict(int)
        self.tasks: set[asyncio.Task] = set()
        self.results: list[Result] = []
        self.unwritten = Unwritten()
        self.write_again_at = 0.0  # time.monotonic(); after a failed write
        self.slot_freed = asyncio.Event()
        self.database = ThreadPoolExecutor(1, thread_name_prefix="webhook-database")

    async def run(self, stop: asyncio.Event) -> None:
        async with Clients(self.resolver) as clients:
            writing = asyncio.create_task(self._write_loop(stop))
            try:
                await self._claim_loop(clients, stop)
                if self.tasks:
                    await asyncio.wait(self.tasks)
            finally:
                stop.set()
                await writing
                await self._flush()
                self.database.shutdown()

    async def _claim_loop(self, clients: Clients, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            await clients.close_idle(self.in_flight)
            free = settings.WEBHOOKS_SENDER_CONCURRENCY - len(self.tasks)
            claimed = claims.Claimed([], False)
            if free > 0:
                try:
                    claimed = await loop.run_in_executor(self.database, functools.partial(
                        _in_thread, self._claim, limit=free, in_flight=dict(self.in_flight)))
                except Exception:
                    logger.exception("claiming webhook deliveries failed; trying again")
                    background_failures.labels("webhooks-claim").inc()
            for job in claimed.jobs:
                self._start(clients.get(job.endpoint_id), job)
            metrics.claimed.inc(len(claimed.jobs))
            if (claimed.jobs and len(claimed.jobs) == free) or (claimed.held_back and self.tasks):
                await self._wait_for(self.slot_freed, stop, timeout=settings.WEBHOOKS_POLL_SECONDS)
            elif not claimed.jobs:
                await self._wait_for(None, stop, timeout=settings.WEBHOOKS_POLL_SECONDS)
            # else: fewer than asked were due or allowed; look again at once for what became due

    def _claim(self, *, limit: int, in_flight: dict[str, int]) -> claims.Claimed:
        return claims.claim(limit=limit, in_flight=in_flight, finished=self.unwritten.snapshot(), now=_now())

    async def _wait_for(self, event: asyncio.Event | None, stop: asyncio.Event, *, timeout: float) -> None:
        waiters = [asyncio.ensure_future(stop.wait())]
        if event is not None:
            event.clear()
            waiters.append(asyncio.ensure_future(event.wait()))
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    def _start(self, client, job: Job) -> None:
        self.in_flight[job.endpoint_id] += 1
        task = asyncio.create_task(self._attempt(client, job))
        self.tasks.add(task)

        def done(finished: asyncio.Task) -> None:
            self.tasks.discard(finished)
            self.in_flight[job.endpoint_id] -= 1
            if self.in_flight[job.endpoint_id] <= 0:
                del self.in_flight[job.endpoint_id]
            self.slot_freed.set()

        task.add_done_callback(done)

    async def _attempt(self, client, job: Job) -> None:
        try:
            result = await attempt(client, job)
        except Exception as error:  # a bug of ours must not lose the delivery: recorded as a failed attempt
            logger.exception("webhook delivery %s failed unexpectedly", job.delivery_id)
            result = Result(job, False, error=f"Internal error: {type(error).__name__}")
        if result.duration_ms is not None:
            metrics.attempt_seconds.observe(result.duration_ms / 1000)
        self.unwritten.add(job.endpoint_id)
        self.results.append(result)

    async def _write_loop(self, stop: asyncio.Event) -> None:
        while not (stop.is_set() and not self.tasks):
            await asyncio.sleep(WRITE_INTERVAL)
            if time.monotonic() >= self.write_again_at:
                await self._flush()

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self.results:
            batch, self.results = self.results[:WRITE_BATCH], self.results[WRITE_BATCH:]
            try:
                await loop.run_in_executor(self.database, functools.partial(_in_thread, self._record, batch))
            except Exception:
                # Kept and written again after a pause. Their rows still say claimed;
                # they stay counted as unwritten, so claims keep their slots free (a
                # dropped batch would hold them for a whole lease). A sender stopped
                # meanwhile loses them: their deliveries are sent again after the lease.
                logger.exception("recording %d webhook results failed; trying again in %g s", len(batch),
                                 WRITE_RETRY_SECONDS)
                background_failures.labels("webhooks-record").inc()
                self.results[:0] = batch
                self.write_again_at = time.monotonic() + WRITE_RETRY_SECONDS
                return

    def _record(self, batch: list[Result]) -> None:
        outcomes.record(batch, now=_now())
        self.unwritten.remove(batch)  # in this thread, before the next claim runs here
