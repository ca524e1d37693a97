"""Running the Deepgram engine against the local double (deepgram_standin) for its tests: an
engine with short backoffs, audio fed in chunks, everything ``results()`` gives collected, and
what to read from it. The ``dg`` fixture (tests/captions/conftest.py) is a double taking
``KEY``."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from captions.speech.base import EngineStatus, SpeechEvent, Transcript
from captions.speech.deepgram import DeepgramEngine
from captions.speech.deepgram_session import DeepgramSession
from deepgram_standin import DeepgramDouble

KEY = "dg-secret-0123456789abcdef"
RATE = 16000
BPS = RATE * 2
TUNING = {
    "backoff_base": 0.02,
    "backoff_cap": 0.1,
    "busy_backoff_base": 0.2,
    "busy_backoff_cap": 0.4,
    "finish_timeout": 10.0,  # audio fed at once is paced at 1.2x real time (replay_speed)
}


def engine_for(double: DeepgramDouble, key: str = KEY, **tuning: object) -> DeepgramEngine:
    return DeepgramEngine(double.url, key, "nova-3", **{**TUNING, **tuning})


async def feed(session: DeepgramSession, audio: bytes, *, chunk: float = 0.1, pause: float = 0):
    step = round(chunk * BPS)
    for begin in range(0, len(audio), step):
        await session.send(audio[begin : begin + step])
        await asyncio.sleep(pause)


async def collect(
    session: DeepgramSession, events: list[SpeechEvent] | None = None
) -> list[SpeechEvent]:
    """Everything results() gives, appended to ``events`` as it comes."""
    events = [] if events is None else events
    async with asyncio.timeout(30):  # a bound against hanging, not a speed requirement
        async for event in session.results():
            events.append(event)
    return events


async def caption(double: DeepgramDouble, audio: bytes, **tuning: object) -> list[SpeechEvent]:
    """Open a session, stream ``audio``, finish, and return everything results() gave."""
    session = await engine_for(double, **tuning).open(language="en", sample_rate=RATE)
    collector = asyncio.create_task(collect(session))
    await feed(session, audio)
    await session.finish()
    return await collector


def finals(events: list[SpeechEvent]) -> list[Transcript]:
    return [e for e in events if isinstance(e, Transcript) and e.is_final]


def statuses(events: list[SpeechEvent]) -> list[str]:
    return [e.state for e in events if isinstance(e, EngineStatus)]


def leftover_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("deepgram-")]


def assert_continuous(results: list[Transcript], total_seconds: float) -> None:
    """Finals follow each other without gap or overlap and end where the audio ends."""
    assert results[0].start == pytest.approx(0)
    for before, after in itertools.pairwise(results):
        assert after.start == pytest.approx(before.end)
        assert after.end > after.start
    assert results[-1].end == pytest.approx(total_seconds)
