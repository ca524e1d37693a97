"""What every engine's session shares: audio in whole samples, one runner task doing the work,
and ``results()`` draining an event queue until the session ends.

A subclass starts ``self._runner``, puts :class:`Transcript`, :class:`EngineStatus` or
:class:`SpeechRefused` items on ``self._events``, and calls :meth:`_end` when it is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Final

from captions.speech.base import (
    SAMPLE_WIDTH,
    EngineStatus,
    SpeechEvent,
    SpeechRefused,
    Transcript,
)

log = logging.getLogger("captions.speech")

_END: Final = object()


class QueuedSession:
    """The shared half of a speech session; ``name`` is how log lines call the engine."""

    name = "Speech engine"

    def __init__(self, *, finish_timeout: float) -> None:
        self._finish_timeout = finish_timeout
        self._carry = b""  # an odd byte kept so audio stays sample-aligned
        self._events: asyncio.Queue[object] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._finishing = False
        self._ended = False
        self._runner: asyncio.Task[None] | None = None

    def _whole_samples(self, pcm: bytes) -> bytes:
        """``pcm`` with the byte held back last time in front and an odd last byte held back;
        empty once the session is finishing or over (so nothing empty is ever forwarded)."""
        if self._finishing or self._ended:
            return b""
        data = self._carry + pcm
        self._carry = data[len(data) - len(data) % SAMPLE_WIDTH :]
        return data[: len(data) - len(self._carry)]

    async def finish(self) -> bool:
        """Let the runner finish what was sent, bounded by ``finish_timeout``; then close.

        False when it did not finish in time.
        """
        self._finishing = True
        self._wake.set()
        runner = self._runner
        complete = True
        if runner is not None and not runner.done():
            done, _ = await asyncio.wait({runner}, timeout=self._finish_timeout)
            if not done:
                complete = False
                log.warning(
                    "%s did not finish within %.1f s; closing anyway",
                    self.name,
                    self._finish_timeout,
                )
        await self.close()
        return complete

    async def close(self) -> None:
        """Stop at once: cancel and await the runner, end ``results()``."""
        await self._stop_runner()
        self._end()

    async def _stop_runner(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.wait({runner})  # unlike `await runner`, never eats our own cancel

    async def results(self) -> AsyncIterator[SpeechEvent]:
        """Transcripts and status changes until finish()/close(); raises SpeechRefused."""
        while True:
            item = await self._events.get()
            if item is _END:
                self._events.put_nowait(_END)  # later calls end too
                return
            if isinstance(item, SpeechRefused):
                raise item
            assert isinstance(item, Transcript | EngineStatus)
            yield item

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._events.put_nowait(_END)
