"""The Deepgram engine against a local double that speaks Deepgram's live protocol, when the
service fails: refused keys and settings, a busy service, retries with backoff, dropped
connections that lose and repeat no final, and a long outage with memory bounded.
tests/captions/test_deepgram_engine_streaming.py has the service answering as it should."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest

from captions.speech.base import EngineStatus, SpeechEvent, SpeechRefused, Transcript
from captions.speech.deepgram_session import BUSY_MESSAGE
from deepgram_standin import DeepgramDouble, expected_finals, sentences, speech, tick_words
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
