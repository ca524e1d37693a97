"""The fake recogniser: cuts one connection's audio into interims and finals the way
Deepgram's live API times them. It recognises nothing: what a result says is decided by the
server (announced phrases, or default words derived from the audio bytes).

Audio is examined in 10 ms frames; a frame whose RMS is under ``silence_rms`` is silence.

- A final with ``speech_final: true`` when, after speech, silence has lasted ``endpointing``
  ms (the query parameter; Deepgram's default 10 ms; ``false`` turns it off).
- Otherwise a final (``is_final`` only) once speech has gone on for ``segment`` seconds without
  such a pause (counted from its first loud frame after the last final, so the silence before
  it does not count): continuous speech gets a final every few seconds. Silence alone gets an
  empty final every ``segment`` seconds.
- With interim results, an interim (the pending audio so far) after every ``interim_every``
  seconds of audio since the last result.
- ``SpeechStarted`` (with ``vad_events=true``) when speech begins after a pause, and
  ``UtteranceEnd`` (with ``utterance_end_ms`` and interim results) once the silence after the
  last word reaches that many ms.
- ``flush()`` (Finalize, CloseStream) makes the pending audio a final at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deepgram_standin.audio import WORD_SECONDS, aligned, rms, tick_word

FRAME_SECONDS = 0.01
Kind = Literal["interim", "final", "speech_started", "utterance_end"]
Word = tuple[str, int, int]  # default word, start and end byte on the connection


@dataclass(frozen=True, slots=True)
class Cut:
    """A result due now: what it covers, in bytes of audio received on this connection."""

    kind: Kind
    start: int
    end: int
    audio: bytes = b""
    words: tuple[Word, ...] = ()  # the loud quarter seconds, each with its default word
    speech_final: bool = False
    from_finalize: bool = False


class Recogniser:
    def __init__(
        self,
        bytes_per_second: int,
        *,
        segment: float,
        interim_every: float,
        endpointing_ms: int | None,
        utterance_end_ms: int | None = None,
        interim_results: bool = True,
        vad_events: bool = False,
        silence_rms: float = 200.0,
    ) -> None:
        self.bytes_per_second = bytes_per_second
        self.segment_bytes = aligned(segment * bytes_per_second)
        self.interim_bytes = aligned(interim_every * bytes_per_second)
        self.word_bytes = aligned(WORD_SECONDS * bytes_per_second)
        self.frame_bytes = aligned(FRAME_SECONDS * bytes_per_second)
        self.endpoint_bytes = self._ms(endpointing_ms)
        self.utterance_end_bytes = self._ms(utterance_end_ms) if interim_results else None
        self.interim_results = interim_results
        self.vad_events = vad_events
        self.silence_rms = silence_rms

        self.received = 0  # bytes of audio taken into account on this connection
        self._partial = bytearray()  # the start of the next frame
        self.start = 0  # where the pending audio (not yet finalised) begins
        self.pending = bytearray()
        self.words: list[Word] = []
        self._ticked = 0  # pending bytes already cut into quarter seconds
        self._has_speech = False  # a loud frame since the last final
        self._speech_from = 0  # where the first loud frame since the last final began
        self._in_speech = False  # for SpeechStarted
        self._silence = 0  # bytes of silence since the last loud frame
        self._last_result = 0  # where the last interim or final ended
        self._last_loud: int | None = None  # where the last loud frame ended
        self._utterance_open = False  # words since the last UtteranceEnd

    def _ms(self, ms: int | None) -> int | None:
        return None if ms is None else aligned(ms / 1000 * self.bytes_per_second)

    def seconds(self, n_bytes: int) -> float:
        return round(n_bytes / self.bytes_per_second, 6)

    # -- input --------------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Cut]:
        """Take audio; return the results it makes due."""
        cuts: list[Cut] = []
        self._partial += data
        while len(self._partial) >= self.frame_bytes:
            frame = bytes(self._partial[: self.frame_bytes])
            del self._partial[: self.frame_bytes]
            self._frame(frame, cuts)
        return cuts

    def flush(self, *, from_finalize: bool) -> list[Cut]:
        """Everything received becomes a final now (nothing when nothing is pending)."""
        cuts: list[Cut] = []
        if self._partial:
            frame = bytes(self._partial)
            self._partial.clear()
            self._frame(frame, cuts, decide=False)
        if self.pending:
            self._final(cuts, speech_final=False, from_finalize=from_finalize)
        return cuts

    # -- decisions ------------------------------------------------------------------------------

    def _frame(self, frame: bytes, cuts: list[Cut], *, decide: bool = True) -> None:
        begin = self.received
        self.pending += frame
        self.received += len(frame)
        self._cut_words(whole_only=True)
        if rms(frame) >= self.silence_rms:
            if not self._in_speech and self.vad_events:
                cuts.append(Cut("speech_started", begin, begin))
            if not self._has_speech:
                self._speech_from = begin
            self._in_speech = self._has_speech = self._utterance_open = True
            self._silence = 0
            self._last_loud = self.received
        else:
            self._silence += len(frame)
            if self._silence >= (self.endpoint_bytes or self.frame_bytes):
                self._in_speech = False
        if not decide:
            return
        endpoint = self.endpoint_bytes is not None and self._silence >= self.endpoint_bytes
        if self._has_speech and endpoint:
            self._final(cuts, speech_final=True)
        elif self._has_speech and self.received - self._speech_from >= self.segment_bytes:
            self._final(cuts, speech_final=False)  # continuous speech
        elif not self._has_speech and len(self.pending) >= self.segment_bytes:
            self._final(cuts, speech_final=endpoint)  # silence, whose final says nothing
        elif self.interim_results and self.received - self._last_result >= self.interim_bytes:
            self._interim(cuts)
        if (
            self.utterance_end_bytes is not None
            and self._utterance_open
            and self._last_loud is not None
            and self.received - self._last_loud >= self.utterance_end_bytes
        ):
            cuts.append(Cut("utterance_end", self._last_loud, self._last_loud))
            self._utterance_open = False

    def _cut_words(self, *, whole_only: bool) -> None:
        """Give each quarter second of pending audio its default word (once)."""
        while self._ticked < len(self.pending):
            size = min(self.word_bytes, len(self.pending) - self._ticked)
            if whole_only and size < self.word_bytes:
                return
            tick = bytes(self.pending[self._ticked : self._ticked + size])
            if word := tick_word(tick, self.silence_rms):
                at = self.start + self._ticked
                self.words.append((word, at, at + size))
            self._ticked += size

    def _interim(self, cuts: list[Cut]) -> None:
        if not self.pending:
            return
        cuts.append(Cut("interim", self.start, self.received, bytes(self.pending), (*self.words,)))
        self._last_result = self.received

    def _final(self, cuts: list[Cut], *, speech_final: bool, from_finalize: bool = False) -> None:
        self._cut_words(whole_only=False)
        cuts.append(
            Cut(
                "final",
                self.start,
                self.received,
                bytes(self.pending),
                (*self.words,),
                speech_final=speech_final,
                from_finalize=from_finalize,
            )
        )
        self.start = self._last_result = self.received
        self.pending.clear()
        self.words = []
        self._ticked = 0
        self._has_speech = False


def endpointing_ms(value: str | None, default: int) -> int | None:
    """The query's ``endpointing``: milliseconds, ``false`` (off) or absent (the default)."""
    if value is None or value == "true":
        return default
    if value == "false":
        return None
    return int(value)


def expected_finals(
    pcm: bytes,
    *,
    sample_rate: int = 16000,
    segment: float = 4.0,
    endpointing: int | None = 300,
    silence_rms: float = 200.0,
) -> list[str]:
    """Texts of the non-empty finals the stand-in sends in default-words mode (no phrases)
    for ``pcm`` streamed on one connection with this ``endpointing`` and then flushed
    (Finalize or CloseStream). Give the stand-in's ``segment``."""
    recogniser = Recogniser(
        sample_rate * 2,
        segment=segment,
        interim_every=segment,
        endpointing_ms=endpointing,
        interim_results=False,
        silence_rms=silence_rms,
    )
    cuts = [*recogniser.feed(pcm), *recogniser.flush(from_finalize=False)]
    return [" ".join(w for w, _, _ in c.words) for c in cuts if c.kind == "final" and c.words]
