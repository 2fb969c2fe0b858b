"""manage.py run_webhook_sender: the process that sends webhook deliveries
(webhooks/sender.py; docs/operations.md "Webhooks"). Run one or several: they
share the work through the database."""

import asyncio
import logging
import signal

import uvloop
from django.core.management.base import BaseCommand

from webhooks.sender import Sender

logger = logging.getLogger("webhooks.sender")


class Command(BaseCommand):
    help = "Sends webhook deliveries until stopped (SIGTERM or SIGINT ends the attempts in flight first)."

    def handle(self, *args, **options) -> None:
        # uvloop: the same sender spends about a quarter less CPU per request on it
        # (docs/PERFORMANCE.md "Webhooks").
        uvloop.run(self._run())

    async def _run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        logger.info("webhook sender started")
        self.stdout.write("webhook sender started", ending="\n")
        self.stdout.flush()
        await Sender().run(stop)
        logger.info("webhook sender stopped")
