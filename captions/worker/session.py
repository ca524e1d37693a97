"""A caption session fed from the stream itself: every stretch of audio at the stream's time.

The microphone's session maps the engine's seconds to wall-clock time from one start time.
Audio from a stream can jump (a segment lost or skipped to keep up, a discontinuity), so this
session keeps an anchor (engine seconds → the stream's program-date-time) wherever the audio
fed stops following on from the audio before it; ``spoken_at`` of every caption is then the
stream's own time of its words, whatever was skipped. Nothing else differs from a
microphone's session: the same storage, sequence numbers, fan-out and statuses.
"""

from __future__ import annotations

import contextlib
import logging
from bisect import bisect_right

from captions import lease
from captions.events import status_message
from captions.session import BYTES_PER_SECOND, CaptionSession

logger = logging.getLogger(__name__)

# Audio starting this far from where the audio before it ended (on the stream's clock) gets an
# anchor of its own: about an AAC frame, so small encoder rounding does not pile up anchors.
ANCHOR_TOLERANCE_MS = 25
MAX_ANCHORS = 2000  # far more than any result waits for


class StreamCaptionSession(CaptionSession):
    fed_seconds = 0.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._anchor_seconds: list[float] = []  # engine seconds at each anchor, ascending
        self._anchor_times: list[int] = []  # the stream's UTC ms there

    @property
    def ended(self) -> bool:
        """The engine's results ended without being asked: it gave up, or refused us."""
        return self._pump is not None and self._pump.done()

    @property
    def fed_until(self) -> int | None:
        """The stream time (UTC ms) at which the audio fed so far ends."""
        return self.spoken(self.fed_seconds) if self._anchor_times else None

    async def feed_at(self, pcm: bytes, at: int) -> None:
        """Feed ``pcm`` (16 kHz mono s16le) whose first sample is the stream's time ``at``."""
        if not pcm:
            return
        following = self.fed_until
        if following is None or abs(at - following) > ANCHOR_TOLERANCE_MS:
            if following is not None:
                logger.info(
                    "stream %s: audio jumps %+d ms on the stream's clock",
                    self.stream.pk,
                    at - following,
                )
            self._anchor_seconds.append(self.fed_seconds)
            self._anchor_times.append(at)
            del self._anchor_seconds[:-MAX_ANCHORS], self._anchor_times[:-MAX_ANCHORS]
            if self.capture_started_at is None:
                self.capture_started_at = at
        self.fed_seconds += len(pcm) / BYTES_PER_SECOND
        await self.feed(pcm)

    def spoken(self, seconds: float) -> int | None:
        if not self._anchor_seconds:
            return super().spoken(seconds)
        index = max(0, bisect_right(self._anchor_seconds, seconds) - 1)
        return self._anchor_times[index] + round((seconds - self._anchor_seconds[index]) * 1000)

    async def tell_viewers(self, message: str) -> None:
        """A status line for viewers while captions go on (``""``: just "Captions on")."""
        status = status_message(captioning=True, engine=self.engine.name, message=message)
        with contextlib.suppress(Exception):
            await lease.set_status(self.stream.pk, status)
        await self._outbox.send(status)  # the session's own, so it keeps its place among finals
