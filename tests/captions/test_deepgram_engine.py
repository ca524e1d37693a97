"""The Deepgram engine against a local double that speaks Deepgram's live protocol."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest

from captions.speech.base import EngineStatus, SpeechEvent, SpeechRefused, Transcript
from captions.speech.deepgram import BUSY_MESSAGE, DeepgramEngine, DeepgramSession
from deepgram_standin import (
    DeepgramDouble,
    expected_finals,
    sentences,
    silence,
    speech,
    tick_words,
)

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


@pytest.fixture
async def dg():
    async with DeepgramDouble(api_key=KEY) as double:
        yield double


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


# -- refusals ---------------------------------------------------------------------------------


async def test_a_refused_key_raises_a_clear_message_without_the_key(dg, caplog):
    caplog.set_level(logging.DEBUG)
    wrong_key = "dg-wrong-key-fedcba9876543210"
    engine = engine_for(dg, key=wrong_key)

    with pytest.raises(SpeechRefused) as refused:
        await engine.open(language="en", sample_rate=RATE)

    message = str(refused.value)
    assert refused.value.status == 401
    assert "API key" in message
    assert "DEEPGRAM_API_KEY" in message
    assert wrong_key not in message
    assert wrong_key not in caplog.text
    assert wrong_key not in repr(engine)
    errors = [r for r in caplog.records if r.name == "captions.speech" and r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "401" in errors[0].getMessage()
    assert len(dg.handshakes) == 1


@pytest.mark.parametrize(("status", "words"), [(400, "settings"), (402, "credit"), (403, "model")])
async def test_configuration_refusals_are_not_retried(dg, status, words):
    dg.refuse(status)

    with pytest.raises(SpeechRefused) as refused:
        await engine_for(dg).open(language="en", sample_rate=RATE)

    assert refused.value.status == status
    assert f"({status})" in str(refused.value)
    assert words in str(refused.value)
    await asyncio.sleep(0.2)  # a retry would have happened by now
    assert len(dg.handshakes) == 1
    assert leftover_tasks() == []


async def test_a_refusal_on_reconnect_ends_results_with_speech_refused(dg):
    session = await engine_for(dg).open(language="en", sample_rate=RATE)
    dg.refuse(401)
    dg.drop_after(0.5)
    seen: list[SpeechEvent] = []

    await feed(session, speech(1.0, seed=3))
    with pytest.raises(SpeechRefused, match="DEEPGRAM_API_KEY"):
        await collect(session, seen)

    assert statuses(seen) == ["reconnecting"]
    assert len(dg.handshakes) == 2
    await session.close()
    assert leftover_tasks() == []


async def test_a_busy_service_delays_captions_then_they_flow(dg):
    dg.refuse(429, times=2)
    audio = speech(2.0, seed=4)
    started = time.monotonic()

    events = await caption(dg, audio)

    assert events[0] == EngineStatus("delayed", BUSY_MESSAGE)
    assert statuses(events) == ["delayed", "live"]
    assert [f.text for f in finals(events)] == expected_finals(audio)
    assert len(dg.handshakes) == 3
    assert len(dg.connections) == 1
    # two busy backoffs: at least half of 0.2 s, then half of 0.4 s
    assert time.monotonic() - started >= 0.3


async def test_retries_back_off_exponentially_with_jitter_up_to_the_cap(dg):
    dg.refuse(503, times=7)

    session = await engine_for(dg, backoff_base=0.04, backoff_cap=0.16).open(
        language="en", sample_rate=RATE
    )
    await dg.wait_for(lambda: len(dg.connections) == 1)
    await session.close()

    times = [h.at for h in dg.handshakes]
    waits = [after - before for before, after in itertools.pairwise(times)]
    # between half and all of base * 2**n, capped; the slack absorbs a busy machine's delays,
    # yet without the cap the last waits would be at least 0.32 and 0.64 s
    for wait, ceiling in zip(waits, [0.04, 0.08, 0.16, 0.16, 0.16, 0.16, 0.16], strict=True):
        assert ceiling / 2 <= wait <= ceiling + 0.15


# -- drops and reconnects -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "abort"])
async def test_a_drop_mid_stream_loses_and_repeats_no_final(how):
    audio = sentences(4, seed=5) + speech(1.0, seed=9)
    async with DeepgramDouble(api_key=KEY) as steady:
        without_drop = await caption(steady, audio)
    async with DeepgramDouble(api_key=KEY) as flaky:
        flaky.drop_after(2.5, how=how)
        with_drop = await caption(flaky, audio)

    assert statuses(with_drop) == ["reconnecting", "live"]
    assert len(flaky.connections) == 2
    assert flaky.connections[0].close_code == (1011 if how == "close" else 1006)
    assert [f.text for f in finals(with_drop)] == [f.text for f in finals(without_drop)]
    assert_continuous(finals(with_drop), 5.0)
    # the new connection got the audio Deepgram had not finalised, not the whole stream
    assert flaky.connections[1].audio_bytes < len(audio)


async def test_several_drops_in_a_row_still_give_every_final_once():
    audio = sentences(5, seed=6) + speech(1.0, seed=11)
    async with DeepgramDouble(api_key=KEY) as flaky:
        flaky.drop_after(1.7, how="abort")
        flaky.drop_after(0.4, how="close")
        flaky.drop_after(2.2, how="abort")
        events = await caption(flaky, audio)

    assert len(flaky.connections) == 4
    assert [f.text for f in finals(events)] == expected_finals(audio)
    assert_continuous(finals(events), 6.0)


async def test_results_for_audio_already_finalised_are_dropped_by_time(dg):
    session = await engine_for(dg).open(language="en", sample_rate=RATE)
    collector = asyncio.create_task(collect(session))
    audio = sentences(1, seed=16) + speech(1.0, seed=17)
    await feed(session, audio[: 1 * BPS])
    await dg.wait_for(lambda: len(dg.finals) == 1, within=10)
    first = dg.finals[0].text
    for is_final in (True, False):  # same text, then a new text, over audio already finalised
        for text, start in ((first, 0.0), ("something else", 0.5)):
            dg.inject(_results(text, start=start, duration=0.5, is_final=is_final))
    await feed(session, audio[1 * BPS :])
    await session.finish()
    events = await collector

    transcripts = [e for e in events if isinstance(e, Transcript)]
    assert "something else" not in [t.text for t in transcripts]
    assert [f.text for f in finals(events)] == expected_finals(audio)
    assert_continuous(finals(events), 2.0)


def _results(text: str, *, start: float, duration: float, is_final: bool) -> dict[str, object]:
    return {
        "type": "Results",
        "start": start,
        "duration": duration,
        "is_final": is_final,
        "channel": {"alternatives": [{"transcript": text, "words": []}]},
    }


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


# -- the buffer bound ---------------------------------------------------------------------------


async def test_a_long_outage_keeps_memory_bounded_and_times_true(dg, caplog):
    caplog.set_level(logging.WARNING, logger="captions.speech")
    session = await engine_for(dg, buffer_seconds=1.5).open(language="en", sample_rate=RATE)
    events: list[SpeechEvent] = []
    collector = asyncio.create_task(collect(session, events))
    await dg.wait_for(lambda: dg.open_connections == 1)
    await dg.go_down()
    before, after = speech(3.0, seed=14), speech(1.0, seed=15)

    step = BPS // 10
    for begin in range(0, len(before), step):
        await session.send(before[begin : begin + step])
        assert session.buffered_seconds <= session.buffer_cap_seconds
    assert session.dropped_seconds == pytest.approx(1.5)
    assert "Speech buffer full" in caplog.text

    await dg.come_up()
    # the buffered audio is replayed before new audio comes in
    await dg.wait_for(
        lambda: len(dg.connections) == 2 and dg.connections[1].audio_bytes >= 1.5 * BPS
    )
    await feed(session, after, pause=0.01)
    await session.finish()
    await collector

    assert statuses(events) == ["reconnecting", "live"]
    results = finals(events)
    assert results[0].start == pytest.approx(1.5)  # the dropped first 1.5 s got no captions
    assert results[-1].end == pytest.approx(4.0)
    whole = before + after
    for final in results:  # each final's words are those of the audio at its session time
        stretch = whole[round(final.start * BPS) : round(final.end * BPS)]
        assert final.text == " ".join(w for w, _, _ in tick_words(stretch, BPS // 4, 200.0))
