"""Per-connection limits. Daphne queues a connection's incoming messages without bound, so the
consumer itself must refuse floods."""

from __future__ import annotations

import time

# Audio frames: about 100 ms of 16 kHz 16-bit mono is 3,200 bytes. Anything above this cap
# closes the socket with 4413.
MAX_AUDIO_FRAME = 64 * 1024
# Real-time audio is 32,000 bytes/s. A browser catching up after a stall may send faster for a
# moment; sustained faster than this is abuse (4408).
AUDIO_BYTES_PER_SECOND = 2 * 32_000
AUDIO_BYTES_BURST = 10 * 32_000
AUDIO_MESSAGES_PER_SECOND = 50
AUDIO_MESSAGES_BURST = 200
# What a viewer may send up: it is ignored, but a flood closes the socket (4408), and so does
# binary data (4400) or a text message over VIEWER_MAX_MESSAGE bytes (4413).
VIEWER_MESSAGES_PER_SECOND = 5
VIEWER_MESSAGES_BURST = 20
VIEWER_MAX_MESSAGE = 1024


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def take(self, amount: float = 1.0) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True
