"""When the stand-in answers: Deepgram's documented timing by default, a fast mode for
benchmarks that measure the site alone and for tests that need many finals quickly."""

from __future__ import annotations

from dataclasses import dataclass

# Deepgram's default when the query has no ``endpointing``: 10 ms of silence ends a phrase.
DEFAULT_ENDPOINTING_MS = 10
# Audio the stand-in takes at once before its intake cap applies (a small buffer, as any
# server has); a client sending faster than the cap for longer is slowed down.
INTAKE_BURST_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Timing:
    """How fast the stand-in transcribes.

    ``segment``: in continuous speech (no pause as long as the query's ``endpointing``), a
    final (``is_final`` but not ``speech_final``) every this many seconds of audio. Deepgram's
    come every few seconds (about 3-5 s).
    ``interim_every``: with ``interim_results=true``, an interim after every this many seconds
    of audio since the last result (Deepgram: about once a second).
    ``delay``: seconds between the audio a result describes arriving and the result leaving
    (Deepgram's processing delay, about 0.5-0.7 s).
    ``intake_ratio``: audio is read no faster than this many times real time (Deepgram: 1.25);
    a client sending faster is held back, as TCP back-pressure would. 0: no cap.
    """

    segment: float = 4.0
    interim_every: float = 1.0
    delay: float = 0.6
    intake_ratio: float = 1.25

    @property
    def name(self) -> str:
        if self == REALISTIC:
            return "realistic"
        if not self.delay and not self.intake_ratio:
            return "fast"
        return "custom"

    def describe(self) -> str:
        """One sentence for reports, e.g. the benchmark page."""
        intake = (
            f"audio read at up to {self.intake_ratio:g}× real time"
            if self.intake_ratio
            else "audio read as fast as it comes"
        )
        delay = f"{self.delay:g} s processing delay" if self.delay else "no processing delay"
        return (
            f"{self.name} timing: finals at pauses of the query's endpointing or every "
            f"{self.segment:g} s of continuous speech, interims every {self.interim_every:g} s "
            f"of audio, {delay}, {intake}"
        )


REALISTIC = Timing()
# The stand-in's timing before it had Deepgram's: a final per second of audio, an interim
# per quarter second, no delay, no intake cap.
FAST = Timing(segment=1.0, interim_every=0.25, delay=0.0, intake_ratio=0.0)
