"""Audio helpers: loudness, test audio, and the default words the stand-in derives from audio."""

from __future__ import annotations

import array
import math
import operator
import random
import sys
import zlib

SAMPLE_WIDTH = 2  # linear16
WORD_SECONDS = 0.25  # in default-words mode, one word per loud quarter second of audio


def rms(pcm: bytes) -> float:
    """Root mean square of signed 16-bit little-endian samples."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH])
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return 0.0
    return math.sqrt(sum(map(operator.mul, samples, samples)) / len(samples))


def speech(seconds: float, *, seed: int = 0, sample_rate: int = 16000, level: int = 3000) -> bytes:
    """Deterministic noise loud enough to count as speech; never periodic, never pausing."""
    rng = random.Random(seed)  # noqa: S311 - test audio, not secrets
    count = round(seconds * sample_rate)
    samples = array.array("h", (rng.randint(-level, level) for _ in range(count)))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def silence(seconds: float, *, sample_rate: int = 16000) -> bytes:
    return bytes(round(seconds * sample_rate) * SAMPLE_WIDTH)


def tick_word(tick: bytes, silence_rms: float) -> str | None:
    """The default word of one tick of audio, or None for silence."""
    return format(zlib.crc32(tick), "08x") if rms(tick) >= silence_rms else None


def tick_words(pcm: bytes, tick_bytes: int, silence_rms: float) -> list[tuple[str, int, int]]:
    """Default words of a stretch of audio: ``(word, start_byte, end_byte)`` per loud tick."""
    words = []
    for begin in range(0, len(pcm), tick_bytes):
        tick = pcm[begin : begin + tick_bytes]
        if word := tick_word(tick, silence_rms):
            words.append((word, begin, begin + len(tick)))
    return words


def aligned(n_bytes: float) -> int:
    """Bytes rounded down to whole samples, at least one sample."""
    return max(SAMPLE_WIDTH, round(n_bytes) // SAMPLE_WIDTH * SAMPLE_WIDTH)


def sentences(
    count: int,
    *,
    seconds: float = 0.6,
    pause: float = 0.4,
    seed: int = 0,
    sample_rate: int = 16000,
) -> bytes:
    """``count`` stretches of :func:`speech`, each followed by a pause long enough to end a
    phrase (Deepgram's endpointing, 300 ms as the site asks): a final each, one per second of
    audio with the defaults."""
    return b"".join(
        speech(seconds, seed=seed + n, sample_rate=sample_rate)
        + silence(pause, sample_rate=sample_rate)
        for n in range(count)
    )
