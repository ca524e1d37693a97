"""``manage.py caption_worker``: caption the streams whose caption source is their own audio."""

from __future__ import annotations

import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from captions.worker.runner import SCAN_SECONDS, Worker

logger = logging.getLogger("captions.worker")


class Command(BaseCommand):
    help = (
        "Follow the live playlist of every stream whose caption source is the stream's audio "
        "and caption it. Run as many as you like: each stream is captioned by one at a time. "
        "SIGTERM or Ctrl-C finishes the captions in progress and lets the streams go."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--scan-every",
            type=float,
            default=SCAN_SECONDS,
            help="seconds between looks for streams to caption (default %(default)s)",
        )

    def handle(self, *args, scan_every: float, **options) -> None:
        layer = settings.CHANNEL_LAYERS["default"]["BACKEND"]
        if layer.endswith("InMemoryChannelLayer"):
            raise CommandError(
                "The channel layer is this process's memory, so captions made here would reach "
                "no viewer: set REDIS_URL (the site's processes must use the same Redis)."
            )
        asyncio.run(self._run(Worker(scan_every=scan_every)))

    async def _run(self, worker: Worker) -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        task = loop.create_task(worker.run())
        stopper = loop.create_task(stopping.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        logger.info("caption worker %s stopping: finishing the captions in progress", worker.name)
        task.cancel()
        stopper.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)
