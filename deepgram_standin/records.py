"""What the stand-in saw and did, kept for assertions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from deepgram_standin.audio import SAMPLE_WIDTH

DropHow = Literal["close", "abort", "undecodable"]


@dataclass(frozen=True, slots=True)
class SentFinal:
    """A final ``Results`` as it left the stand-in (times are connection-relative)."""

    text: str
    start: float
    end: float
    connection: int
    from_finalize: bool
    sent_monotonic: float
    sent_time: float
    speech_final: bool = False


@dataclass(slots=True)
class Handshake:
    """One upgrade request, accepted (status 101) or refused."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    request_id: str
    status: int = 101
    at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class ConnectionRecord:
    """What happened on one accepted connection, for assertions."""

    index: int
    query: dict[str, str]
    headers: dict[str, str]
    request_id: str
    opened_monotonic: float
    audio_bytes: int = 0
    controls: list[str] = field(default_factory=list)
    keepalives: int = 0
    empty_frames: int = 0
    finals: list[SentFinal] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)  # the ``type`` of every message sent
    frames: list[str | bytes] = field(default_factory=list)  # every frame sent, if kept
    # (time.monotonic(), audio bytes read so far) after every audio frame read
    intake: list[tuple[float, int]] = field(default_factory=list)
    held_back_seconds: float = 0.0  # time spent not reading: the client was ahead of the cap
    close_code: int | None = None
    close_reason: str | None = None
    closed_monotonic: float | None = None

    @property
    def messages_sent(self) -> int:
        return len(self.sent)

    @property
    def audio_seconds(self) -> float:
        rate = int(self.query.get("sample_rate", "16000"))
        return self.audio_bytes / (rate * SAMPLE_WIDTH)


@dataclass(frozen=True, slots=True)
class Drop:
    """A scripted cut: after ``seconds`` of audio on a connection."""

    seconds: float
    how: DropHow
