"""The stand-in times its results as Deepgram does: finals at pauses of ``endpointing`` ms or
every few seconds of continuous speech, interims about once a second, a processing delay, and
audio read at no more than 1.25x real time."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from deepgram_standin import FAST, REALISTIC, DeepgramStandin, silence, speech
from deepgram_standin.timing import INTAKE_BURST_SECONDS
from tests.deepgram_standin.wire import (
    AUTH,
    BPS,
    KEY,
    QUERY,
    SITE_QUERY,
    read_all,
    results,
    send_audio,
    spans,
    transcribe,
)

PHRASE = speech(1.2, seed=1) + silence(0.5)  # a phrase, then a pause longer than 300 ms


async def test_a_pause_of_endpointing_ms_ends_a_phrase_with_speech_final(dg):
    audio = PHRASE + speech(0.8, seed=2) + silence(0.5)

    messages = await transcribe(dg.url, audio, SITE_QUERY)

    # each final ends 300 ms into its pause; what is left when the stream closes says nothing
    assert spans(messages) == [(0.0, 1.5, True), (1.5, 2.8, True), (2.8, 3.0, False)]
    texts = [m["channel"]["alternatives"][0]["transcript"] for m in messages if m.get("is_final")]
    assert texts[0]
    assert texts[1]
    assert texts[2] == ""


async def test_a_pause_shorter_than_endpointing_does_not_end_the_phrase(dg):
    audio = speech(1.0, seed=3) + silence(0.2) + speech(1.0, seed=4) + silence(0.4)

    messages = await transcribe(dg.url, audio, SITE_QUERY)

    assert spans(messages)[0] == (0.0, 2.5, True)


async def test_endpointing_comes_from_the_query(dg):
    audio = speech(1.0, seed=3) + silence(0.2) + speech(1.0, seed=4) + silence(0.4)

    messages = await transcribe(dg.url, audio, QUERY + "&endpointing=100")

    assert spans(messages)[:2] == [(0.0, 1.1, True), (1.1, 2.3, True)]


async def test_continuous_speech_gets_a_final_every_few_seconds_without_speech_final(dg):
    messages = await transcribe(dg.url, speech(9.0, seed=5), SITE_QUERY)

    assert spans(messages) == [(0.0, 4.0, False), (4.0, 8.0, False), (8.0, 9.0, False)]


async def test_the_silence_before_speech_does_not_count_towards_its_few_seconds(dg):
    # 2.7 s of pause, then a 1.5 s phrase: 4.2 s since the last final, but 1.5 s of speech
    audio = PHRASE + silence(2.2) + speech(1.5, seed=10) + silence(0.5)

    messages = await transcribe(dg.url, audio, SITE_QUERY)

    assert spans(messages)[:2] == [(0.0, 1.5, True), (1.5, 5.7, True)]


async def test_interims_come_about_once_a_second(dg):
    messages = await transcribe(dg.url, speech(3.5, seed=6) + silence(0.5), SITE_QUERY)

    interims = [(start, duration) for final, start, duration, _ in results(messages) if not final]
    assert interims == [(0.0, 1.0), (0.0, 2.0), (0.0, 3.0)]
    assert spans(messages)[0] == (0.0, 3.8, True)


async def test_silence_gets_empty_results_about_once_a_second(dg):
    messages = await transcribe(dg.url, silence(4.5), SITE_QUERY)

    assert [r[0] for r in results(messages)] == [False, False, False, True, True]
    assert {r[3] for r in results(messages)} == {""}


async def test_replies_leave_the_processing_delay_after_their_audio_arrived(dg):
    await transcribe(dg.url, PHRASE, SITE_QUERY)

    connection = dg.connections[0]
    final = connection.finals[0]
    # the audio the final ends with arrived when the intake first covered its end
    arrived = next(t for t, read in connection.intake if read >= final.end * BPS)
    assert dg.delay == 0.6
    assert final.sent_monotonic >= arrived + dg.delay - 0.01


async def test_audio_sent_faster_than_the_intake_cap_is_held_back(dg):
    async with connect(dg.url + SITE_QUERY, additional_headers=AUTH) as ws:
        await send_audio(ws, speech(4.0, seed=7))
        await dg.wait_for(lambda: dg.audio_bytes == 4 * BPS, within=30)

    connection = dg.connections[0]
    first = connection.intake[0][0]
    for at, read in connection.intake:  # never more than the burst ahead of 1.25x real time
        assert read / BPS <= INTAKE_BURST_SECONDS + 1.25 * (at - first) + 0.1
    assert connection.held_back_seconds > 0


async def test_audio_sent_in_real_time_is_never_held_back(dg):
    async with connect(dg.url + SITE_QUERY, additional_headers=AUTH) as ws:
        audio = speech(2.0, seed=8)
        for begin in range(0, len(audio), BPS // 10):
            await ws.send(audio[begin : begin + BPS // 10])
            await asyncio.sleep(0.1)
        await dg.wait_for(lambda: dg.audio_bytes == len(audio))

    assert dg.connections[0].held_back_seconds == 0


async def test_fast_timing_is_the_old_cadence_for_benchmarks():
    # FAST: a final per second, an interim per quarter second, no delay, no intake cap
    async with DeepgramStandin(api_key=KEY, timing=FAST) as fast:
        messages = await transcribe(fast.url, speech(2.0, seed=9), QUERY)

    assert [(r[0], r[1], r[2]) for r in results(messages)] == [
        (False, 0.0, 0.25), (False, 0.0, 0.5), (False, 0.0, 0.75), (True, 0.0, 1.0),
        (False, 1.0, 0.25), (False, 1.0, 0.5), (False, 1.0, 0.75), (True, 1.0, 1.0),
    ]  # fmt: skip
    assert fast.connections[0].held_back_seconds == 0


@pytest.mark.parametrize("timing", [REALISTIC, FAST], ids=["realistic", "fast"])
async def test_finalize_makes_the_pending_audio_a_final_from_finalize(timing):
    async with (
        DeepgramStandin(api_key=KEY, timing=timing) as dg,
        connect(dg.url + SITE_QUERY, additional_headers=AUTH) as ws,
    ):
        await send_audio(ws, speech(0.6, seed=10))
        await ws.send(json.dumps({"type": "Finalize"}))
        async with asyncio.timeout(5):
            while (message := json.loads(await ws.recv())).get("is_final") is not True:
                pass

    assert message["from_finalize"] is True
    assert message["speech_final"] is False
    assert (message["start"], message["duration"]) == (0.0, 0.6)
    assert message["channel"]["alternatives"][0]["transcript"]
    assert dg.finals[0].from_finalize


async def test_finalize_with_nothing_pending_sends_nothing(dg):
    async with connect(dg.url + SITE_QUERY, additional_headers=AUTH) as ws:
        await ws.send(json.dumps({"type": "Finalize"}))
        await ws.send(json.dumps({"type": "CloseStream"}))
        messages = await read_all(ws)

    assert [m["type"] for m in messages] == ["Metadata"]
