"""Pure helpers of ``bench.stream_latency``: where a phrase's last word ends in the stream's
audio, and which final caption carries it."""

from __future__ import annotations

import array
import math
from dataclasses import dataclass

LOUD_RMS = 300.0  # a 10 ms frame louder than this (of 32767) is sound, not silence
TOLERANCE_MS = 500  # how far an engine may place the end of the last word from where it is


@dataclass(frozen=True)
class Final:
    """A final caption as a viewer received it."""

    received: float  # wall-clock seconds (time.time()) when the message arrived
    spoken_at: int  # UTC ms on the stream's clock, as the caption says
    spoken_until: int
    text: str


def sound_end(pcm: bytes, rate: int, start: float, duration: float) -> float | None:
    """Seconds into ``pcm`` (mono s16le at ``rate``) where the last 10 ms frame louder than
    ``LOUD_RMS`` between ``start`` and ``start + duration`` ends; None if all of it is quiet."""
    samples = array.array("h", pcm)
    frame = rate // 100
    first, last = round(start * rate) // frame, round((start + duration) * rate) // frame
    for n in range(min(last, len(samples) // frame) - 1, first - 1, -1):
        chunk = samples[n * frame : (n + 1) * frame]
        if math.sqrt(sum(s * s for s in chunk) / frame) > LOUD_RMS:
            return (n + 1) * frame / rate
    return None


def caption_of(end_ms: int, finals: list[Final], tolerance_ms: int = TOLERANCE_MS) -> Final | None:
    """The final whose words hold the moment ``end_ms`` (a phrase's last word ending, UTC ms):
    it starts no later and ends no more than ``tolerance_ms`` earlier (the engines' word times
    are that rough). Of several, the one ending last: when an engine cuts a phrase in two, an
    earlier piece ending within the tolerance does not hold the last word. A final that starts
    in the pause after the phrase (the next one's) does not count."""
    holding = [
        f for f in finals if f.spoken_at <= end_ms and f.spoken_until >= end_ms - tolerance_ms
    ]
    return min(holding, key=lambda f: (-f.spoken_until, f.received), default=None)
