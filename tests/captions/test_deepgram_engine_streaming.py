"""The Deepgram engine against a local double that speaks Deepgram's live protocol, when the
service answers: audio and parameters sent, interims and finals in order with session times,
silence and keep-alives, finishing, and what is never sent or is ignored.
tests/captions/test_deepgram_engine_failures.py has refusals, drops and outages."""

from __future__ import annotations

import asyncio
import time

from captions.speech.base import Transcript
from deepgram_standin import DeepgramDouble, expected_finals, sentences, silence, speech
from tests.captions.deepgram_engine_runs import (
    BPS,
    KEY,
    RATE,
    assert_continuous,
    caption,
    collect,
    engine_for,
    feed,
    finals,
    leftover_tasks,
    statuses,
)

# -- the happy path ---------------------------------------------------------------------------


async def test_audio_reaches_the_service_with_the_agreed_parameters(dg):
    audio = speech(2.5, seed=1)

    await caption(dg, audio)

    assert len(dg.connections) == 1
    connection = dg.connections[0]
    assert connection.headers["Authorization"] == f"Token {KEY}"
    assert connection.query == {
        "model": "nova-3",
        "language": "en",
        "encoding": "linear16",
        "sample_rate": "16000",
        "channels": "1",
        "interim_results": "true",
        "smart_format": "true",
        "punctuate": "true",
        "endpointing": "300",
        "utterance_end_ms": "1000",
        "vad_events": "true",
    }
    assert connection.audio_bytes == len(audio)
    assert connection.empty_frames == 0


async def test_interims_and_finals_come_out_in_order_with_session_times(dg):
    audio = speech(1.2, seed=2) + silence(0.5) + speech(0.8, seed=3) + silence(0.5)

    events = await caption(dg, audio)

    timeline = [(e.is_final, e.start, e.end) for e in events if isinstance(e, Transcript)]
    # an interim after each second of audio; a final 300 ms (endpointing) into each pause
    assert timeline == [(False, 0.0, 1.0), (True, 0.0, 1.5), (False, 1.5, 2.5), (True, 1.5, 2.8)]
    assert [f.text for f in finals(events)] == expected_finals(audio)
    assert statuses(events) == []


async def test_silence_gives_no_captions(dg):
    events = await caption(dg, silence(1.5))

    assert events == []
    assert dg.audio_bytes == silence(1.5).__len__()


# -- silence and keep-alives --------------------------------------------------------------------


async def test_a_pause_longer_than_the_idle_timeout_keeps_the_connection():
    async with DeepgramDouble(api_key=KEY, idle_timeout=0.5) as dg:
        session = await engine_for(dg, keepalive_interval=0.15).open(
            language="en", sample_rate=RATE
        )
        collector = asyncio.create_task(collect(session))
        await feed(session, speech(0.5, seed=7))
        await asyncio.sleep(1.2)
        await feed(session, speech(0.5, seed=8))
        await session.finish()
        events = await collector

    assert len(dg.connections) == 1
    assert dg.keepalives >= 3
    assert dg.connections[0].close_code == 1000
    assert statuses(events) == []
    assert_continuous(finals(events), 1.0)


async def test_a_new_connection_gets_a_little_audio_before_keepalives():
    """Deepgram ignores KeepAlive on a connection that never got audio."""
    async with DeepgramDouble(api_key=KEY, idle_timeout=0.5) as dg:
        session = await engine_for(dg, keepalive_interval=0.15).open(
            language="en", sample_rate=RATE
        )
        collector = asyncio.create_task(collect(session))
        await asyncio.sleep(1.2)
        await feed(session, speech(1.0, seed=9))
        await session.finish()
        events = await collector

    assert len(dg.connections) == 1
    filler = dg.connections[0].audio_bytes - BPS
    assert 0 < filler <= BPS // 20
    assert dg.keepalives >= 2
    assert statuses(events) == []
    assert_continuous(finals(events), 1.0)


# -- finishing --------------------------------------------------------------------------------


async def test_finish_delivers_the_last_results_before_results_end(dg):
    dg.delay = 0.3
    audio = sentences(1, seed=10) + speech(0.6, seed=11)

    events = await caption(dg, audio)
    await dg.wait_for(lambda: dg.open_connections == 0)

    assert dg.controls == ["Finalize", "CloseStream"]  # pending words first, then the end
    assert dg.connections[0].close_code == 1000
    # the first ends 300 ms into its pause; the words still pending come through Finalize
    assert [(f.start, f.end) for f in finals(events)] == [(0.0, 0.9), (0.9, 1.6)]
    assert leftover_tasks() == []


async def test_finish_is_bounded_when_the_service_never_answers(dg):
    dg.delay = 10
    session = await engine_for(dg, finish_timeout=0.3).open(language="en", sample_rate=RATE)
    collector = asyncio.create_task(collect(session))
    await feed(session, speech(0.5, seed=11))
    started = time.monotonic()

    await session.finish()

    assert time.monotonic() - started < 1.5
    assert finals(await collector) == []
    assert leftover_tasks() == []


async def test_close_while_reconnecting_cancels_everything(dg):
    session = await engine_for(dg, backoff_base=5, backoff_cap=5).open(
        language="en", sample_rate=RATE
    )
    await dg.wait_for(lambda: dg.open_connections == 1)
    await dg.go_down()
    events = asyncio.create_task(collect(session))
    await asyncio.sleep(0.1)

    await session.close()

    assert statuses(await events) == ["reconnecting"]
    assert leftover_tasks() == []


# -- what is sent and what is ignored -----------------------------------------------------------


async def test_empty_and_odd_sized_audio_is_never_forwarded_as_an_empty_frame(dg):
    session = await engine_for(dg).open(language="en", sample_rate=RATE)
    audio = speech(0.5, seed=12)
    await session.send(b"")
    await session.send(audio[:3])
    await session.send(b"")
    await session.send(audio[3:4])
    await session.send(audio[4:])
    await session.send(b"")
    await session.finish()

    assert dg.empty_frames == 0
    assert dg.audio_bytes == len(audio)


async def test_unknown_messages_and_garbage_are_ignored():
    audio = speech(2.0, seed=13)
    async with DeepgramDouble(api_key=KEY, extras=True) as dg:
        session = await engine_for(dg).open(language="en", sample_rate=RATE)
        collector = asyncio.create_task(collect(session))
        await dg.wait_for(lambda: dg.open_connections == 1)
        for junk in ["not json {", b"\x00\x01", "[1, 2]", '{"type": "Results"}', '{"no": "type"}']:
            dg.inject(junk)
        dg.inject({"type": "Results", "start": "soon", "duration": 1, "channel": {}})
        await feed(session, audio)
        await session.finish()
        events = await collector

    assert len(dg.connections) == 1
    assert statuses(events) == []
    assert [f.text for f in finals(events)] == expected_finals(audio)
    assert all(isinstance(e, Transcript) for e in events)
