"""The caption worker: takes every stream captioned from its own audio that nobody holds.

Every ``scan_every`` seconds it reads which streams have ``caption_source="stream"`` and tries
to take the captioning lease of each one it does not caption yet; the lease decides, so any
number of workers (and the site's microphone captioners) share the streams without two ever
captioning one. A stream switched to another source, or whose playback or engine settings
changed, is let go (its captions finished and stored) and, if still wanted, taken afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass

from channels.db import database_sync_to_async

from captions.worker.captioner import STOP_SECONDS, StreamCaptioner
from livestream.models import Stream

logger = logging.getLogger(__name__)

SCAN_SECONDS = 2.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _settings_of(stream: Stream) -> tuple:
    """What a running captioner depends on: a change means starting again."""
    return (
        stream.playback_url,
        stream.is_private,
        stream.channel_arn,
        stream.caption_engine,
        stream.caption_language,
    )


@dataclass
class _Running:
    captioner: StreamCaptioner
    task: asyncio.Task
    settings: tuple


class Worker:
    def __init__(self, *, name: str | None = None, scan_every: float = SCAN_SECONDS) -> None:
        self.name = name or worker_name()
        self.scan_every = scan_every
        self.running: dict[int, _Running] = {}

    async def run(self) -> None:
        """Scan until cancelled; then finish every stream's captions and give the leases back."""
        logger.info("caption worker %s started", self.name)
        try:
            while True:
                try:
                    await self.scan()
                except Exception:
                    logger.exception("caption worker %s: scan failed; trying again", self.name)
                await asyncio.sleep(self.scan_every)
        finally:
            await asyncio.gather(*(self._let_go(pk) for pk in list(self.running)))
            logger.info("caption worker %s stopped", self.name)

    async def scan(self) -> None:
        wanted = await database_sync_to_async(
            lambda: {s.pk: s for s in Stream.objects.filter(caption_source="stream")}
        )()
        for pk, running in list(self.running.items()):
            if running.task.done():
                del self.running[pk]
                self._log_end(pk, running.task)
            elif pk not in wanted or _settings_of(wanted[pk]) != running.settings:
                logger.info("stream %s: caption source or settings changed", pk)
                await self._let_go(pk)
        for pk, stream in wanted.items():
            if pk in self.running:
                continue
            captioner = StreamCaptioner(stream, self.name)
            if await captioner.acquire():
                task = asyncio.get_running_loop().create_task(captioner.run())
                self.running[pk] = _Running(captioner, task, _settings_of(stream))

    async def _let_go(self, pk: int) -> None:
        running = self.running.pop(pk, None)
        if running is None:
            return
        running.task.cancel()
        # The captioner finishes its session (bounded by STOP_SECONDS) before it returns.
        done, _ = await asyncio.wait({running.task}, timeout=STOP_SECONDS + 5)
        if not done:
            logger.warning("stream %s: the captioner did not stop in time", pk)

    def _log_end(self, pk: int, task: asyncio.Task) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            error = task.exception()
            if error is not None:
                logger.error("stream %s: the captioner failed", pk, exc_info=error)
