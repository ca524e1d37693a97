"""Hands a stream's audio to the caption session at the pace it was spoken, as a microphone does.

Segments arrive whole, every few seconds. Fed in one burst each, the speech engine would see
audio stop between them and take every pause for the end of what was said (Deepgram's engine
sends Finalize once audio stalls for a second), cutting sentences at segment boundaries. So
the audio goes out in 100 ms frames at real time, the queue holding about one segment; when
more than ``keep`` seconds wait (a worker catching up after taking over a stream), they go at
once, and the engine catches up at its own speed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from captions.session import BYTES_PER_SECOND
from captions.worker.session import StreamCaptionSession

FRAME_BYTES = BYTES_PER_SECOND // 10


class Pacer:
    def __init__(self, session: StreamCaptionSession, *, keep: float = 3.0) -> None:
        self.session = session
        self.keep = keep
        self.until: int | None = None  # the stream time at which the audio handed in ends
        self._frames: deque[tuple[bytes, int]] = deque()
        self._queued = 0  # bytes
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def put(self, pcm: bytes, at: int) -> None:
        """Queue ``pcm`` (16 kHz mono s16le), whose first sample is the stream's time ``at``."""
        for offset in range(0, len(pcm), FRAME_BYTES):
            frame = pcm[offset : offset + FRAME_BYTES]
            self._frames.append((frame, at + offset * 1000 // BYTES_PER_SECOND))
        self._queued += len(pcm)
        self.until = at + len(pcm) * 1000 // BYTES_PER_SECOND
        self._wake.set()

    async def flush(self) -> None:
        """Feed whatever waits at once (before the session stops), and stop pacing."""
        await self.close()
        while self._frames:
            frame, at = self._frames.popleft()
            await self.session.feed_at(frame, at)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            if not self._frames:
                self._wake.clear()
                await self._wake.wait()
                due = max(due, loop.time())
                continue
            if self._queued / BYTES_PER_SECOND > self.keep:
                due = loop.time()  # too far behind: catch up
            elif due > loop.time():
                await asyncio.sleep(due - loop.time())
            frame, at = self._frames.popleft()
            self._queued -= len(frame)
            await self.session.feed_at(frame, at)
            due += len(frame) / BYTES_PER_SECOND
