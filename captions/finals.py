"""Finals go to the database in order and exactly once, whatever the database does.

A final the database cannot take (a dropped connection, a failover) waits in memory, with the
finals after it, and is retried with backoff; the captioner and viewers are told captions are
delayed, and told again when they flow. Each final carries a key of its own, so a retry after
a write whose answer was lost finds the row instead of storing it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from channels.db import database_sync_to_async

from captions.models import Caption
from livestream.models import Stream

logger = logging.getLogger(__name__)

# About half an hour of speech. Past it the oldest waiting final is given up (and logged).
MAX_WAITING = 1000
RETRY_FIRST = 0.5
RETRY_MAX = 5.0


@dataclass
class WaitingFinal:
    text: str
    start: float
    end: float
    spoken_at: int | None = None
    spoken_until: int | None = None
    key: uuid.UUID = field(default_factory=uuid.uuid4)
    attempts: int = 0


class FinalsWriter:
    def __init__(
        self,
        stream: Stream,
        session_started_at: datetime,
        *,
        on_stored: Callable[[Caption], Awaitable[None]],
        on_delayed: Callable[[bool], Awaitable[None]],
    ) -> None:
        self.stream = stream
        self.session_started_at = session_started_at
        self.on_stored = on_stored
        self.on_delayed = on_delayed  # True when finals start waiting, False when they flow
        self.waiting: deque[WaitingFinal] = deque()
        self.delayed = False
        self._retry: asyncio.Task | None = None

    async def add(
        self,
        text: str,
        start: float,
        end: float,
        spoken_at: int | None = None,
        spoken_until: int | None = None,
    ) -> None:
        self.waiting.append(WaitingFinal(text, start, end, spoken_at, spoken_until))
        if len(self.waiting) > MAX_WAITING:
            lost = self.waiting.popleft()
            logger.error(
                "stream %s: database unreachable for too long; a final was not stored: %r",
                self.stream.pk,
                lost.text,
            )
        idle = self._retry is None or self._retry.done()
        if idle and not await self._drain():
            self._retry = asyncio.get_running_loop().create_task(self._keep_trying())

    async def flush(self, within: float) -> int:
        """Wait (bounded) for waiting finals to be stored; returns how many never were."""
        if self._retry is not None and not self._retry.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._retry), timeout=within)
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
        for lost in self.waiting:
            logger.error(
                "stream %s: captions stopped before the database answered; a final was not "
                "stored: %r",
                self.stream.pk,
                lost.text,
            )
        return len(self.waiting)

    async def _drain(self) -> bool:
        while self.waiting:
            final = self.waiting[0]
            try:
                caption = await database_sync_to_async(Caption.store)(
                    self.stream,
                    text=final.text,
                    start=final.start,
                    end=final.end,
                    session_started_at=self.session_started_at,
                    key=final.key,
                    retry=final.attempts > 0,
                    spoken_at=final.spoken_at,
                    spoken_until=final.spoken_until,
                )
            except Exception as error:
                final.attempts += 1
                if not self.delayed:
                    self.delayed = True
                    logger.warning(
                        "stream %s: could not store a final (%r); it waits and is retried",
                        self.stream.pk,
                        error,
                    )
                    await self.on_delayed(True)
                return False
            self.waiting.popleft()
            await self.on_stored(caption)
        if self.delayed:
            self.delayed = False
            logger.warning("stream %s: the database answers again; finals stored", self.stream.pk)
            await self.on_delayed(False)
        return True

    async def _keep_trying(self) -> None:
        delay = RETRY_FIRST
        while True:
            await asyncio.sleep(delay)
            if await self._drain():
                return
            delay = min(RETRY_MAX, delay * 2)
