"""The speech engine seam: what a caption session needs from a speech service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final, Literal, Protocol

SAMPLE_WIDTH: Final = 2  # bytes per sample: every engine takes 16-bit mono PCM


@dataclass(frozen=True, slots=True)
class Transcript:
    """A piece of recognised text.

    ``start``/``end`` are seconds since the caption session began, continuous across
    reconnects to the speech service.
    """

    text: str
    is_final: bool
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """A change in the engine's connection that the captioner should hear about.

    ``state`` is ``"live"`` once connected (again), ``"reconnecting"`` after a drop,
    ``"delayed"`` when the service asked us to slow down (HTTP 429), ``"skipped"`` when audio
    was dropped to keep captions within the latency budget (an event, not a lasting state).
    ``message`` is a short human sentence, never containing credentials.
    """

    state: Literal["live", "reconnecting", "delayed", "skipped"]
    message: str = ""


SpeechEvent = Transcript | EngineStatus


class SpeechRefused(Exception):
    """The service refused us for a reason retrying will not fix (bad key, no credit, bad
    parameters). ``str(exc)`` is a message fit for the captioner; it never holds the key."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SpeechSession(Protocol):
    async def send(self, pcm: bytes) -> None:
        """Queue 16-bit mono PCM audio, in order. Never blocks on the network."""

    async def finish(self) -> None:
        """Flush what was sent, wait (bounded) for the last results, then end ``results()``."""

    def results(self) -> AsyncIterator[SpeechEvent]:
        """Interim and final transcripts, plus connection status changes.

        Raises :class:`SpeechRefused` when the service refuses the session for good.
        """


class SpeechEngine(Protocol):
    name: str

    async def open(self, *, language: str, sample_rate: int) -> SpeechSession:
        """Start a session. Raises :class:`SpeechRefused` when the service refuses it."""
