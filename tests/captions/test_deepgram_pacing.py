"""The Deepgram client as Deepgram's limits need it: Finalize when the captioner's audio
stalls, replay after an outage no faster than Deepgram takes audio, a latency budget that
skips a stale backlog and says so, per-language endpointing, refusals worded as meant."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.asyncio.server import serve

from captions.speech.base import EngineStatus, SpeechEvent, SpeechRefused, Transcript
from captions.speech.deepgram import DeepgramEngine
from captions.speech.deepgram_session import DEEPGRAM_MAX_SPEED, DeepgramSession
from deepgram_standin import DeepgramDouble, speech

KEY = "dg-secret-pacing-0123456789"
RATE = 16000
BPS = RATE * 2
FAST = {"backoff_base": 0.02, "backoff_cap": 0.1, "finish_timeout": 15.0}


def engine_for(double: DeepgramDouble, **tuning: object) -> DeepgramEngine:
    return DeepgramEngine(double.url, KEY, "nova-3", **{**FAST, **tuning})


async def live(session: DeepgramSession, audio: bytes) -> None:
    """Send audio as a microphone does: 100 ms frames, in real time."""
    step = BPS // 10
    for begin in range(0, len(audio), step):
        await session.send(audio[begin : begin + step])
        await asyncio.sleep(0.1)


async def collect(session: DeepgramSession, events: list[SpeechEvent]) -> None:
    async for event in session.results():
        events.append(event)


def finals(events: list[SpeechEvent]) -> list[Transcript]:
    return [e for e in events if isinstance(e, Transcript) and e.is_final]


async def test_a_stalled_microphone_gets_its_pending_words_through_finalize():
    async with DeepgramDouble(api_key=KEY, phrases=["One.", "Two.", "Three."]) as dg:
        session = await engine_for(dg, finalize_after=0.5).open(language="en", sample_rate=RATE)
        events: list[SpeechEvent] = []
        collector = asyncio.create_task(collect(session, events))
        await live(session, speech(1.5, seed=1))
        # The audio stalls (no frames at all): the words after the last final must not wait.
        await dg.wait_for(lambda: "Finalize" in dg.controls, within=5)
        await dg.wait_for(lambda: any(f.from_finalize for f in dg.finals), within=5)
        await asyncio.sleep(0.2)
        assert finals(events)[-1].end == pytest.approx(1.5, abs=0.02)
        await session.finish()
        await collector


async def test_a_replay_after_an_outage_stays_under_deepgrams_intake_and_loses_nothing():
    arrivals: list[tuple[int, float, int]] = []  # (connection, time, bytes)
    async with DeepgramDouble(
        api_key=KEY,
        on_audio=lambda index, frame: arrivals.append((index, time.monotonic(), len(frame))),
    ) as dg:
        engine = engine_for(dg, replay_burst=1.0)
        session = await engine.open(language="en", sample_rate=RATE)
        events: list[SpeechEvent] = []
        collector = asyncio.create_task(collect(session, events))
        audio = speech(6.0, seed=2)
        await live(session, audio[: 1 * BPS])
        await dg.go_down()
        await live(session, audio[1 * BPS : 4 * BPS])  # three seconds said during the outage
        await dg.come_up()
        await live(session, audio[4 * BPS :])
        await session.finish()
        await collector

    assert [e.state for e in events if isinstance(e, EngineStatus)] == ["reconnecting", "live"]
    texts = [f.text for f in finals(events)]
    assert len(texts) == len(set(texts))  # nothing repeated
    assert finals(events)[0].start == 0.0
    assert finals(events)[-1].end == pytest.approx(6.0, abs=0.02)  # nothing lost
    for earlier, later in zip(finals(events), finals(events)[1:], strict=False):
        assert later.start == pytest.approx(earlier.end, abs=0.02)
    # What the second connection received never ran ahead of Deepgram's intake speed.
    replay = [(at, size) for index, at, size in arrivals if index == max(i for i, _, _ in arrivals)]
    first_at, sent = replay[0][0], 0
    for at, size in replay:
        sent += size
        assert sent / BPS <= 1.0 + DEEPGRAM_MAX_SPEED * (at - first_at) + 0.1


async def test_a_backlog_past_the_latency_budget_is_skipped_and_the_captioner_told():
    async with DeepgramDouble(api_key=KEY) as dg:
        session = await engine_for(dg, latency_budget=1.0).open(language="en", sample_rate=RATE)
        events: list[SpeechEvent] = []
        collector = asyncio.create_task(collect(session, events))
        audio = speech(5.0, seed=3)
        await live(session, audio[: 1 * BPS])
        await dg.go_down()
        await live(session, audio[1 * BPS : 4 * BPS])
        await dg.come_up()
        await live(session, audio[4 * BPS :])
        await session.finish()
        await collector

    skipped = [e for e in events if isinstance(e, EngineStatus) and e.state == "skipped"]
    assert len(skipped) == 1
    assert "skipped" in skipped[0].message
    assert session.skipped_seconds >= 1.5
    said = sum(f.end - f.start for f in finals(events))
    assert said == pytest.approx(5.0 - session.skipped_seconds, abs=0.1)


@pytest.mark.parametrize(("language", "endpointing"), [("multi", "100"), ("en", "300")])
async def test_endpointing_follows_the_language(language, endpointing):
    async with DeepgramDouble(api_key=KEY) as dg:
        session = await engine_for(dg).open(language=language, sample_rate=RATE)
        await session.finish()
    assert dg.handshakes[0].query["endpointing"] == [endpointing]


async def test_a_401_reads_as_a_key_or_its_permissions():
    async with DeepgramDouble(api_key=KEY) as dg:
        engine = DeepgramEngine(dg.url, "wrong-key", "nova-3", **FAST)
        with pytest.raises(SpeechRefused) as refused:
            await engine.open(language="en", sample_rate=RATE)
    message = str(refused.value)
    assert "401" in message
    assert "permission" in message
    assert "wrong-key" not in message


async def test_a_refusal_without_a_json_body_is_explained_by_its_dg_error_header():
    def refuse(connection, request):
        response = connection.respond(400, "Bad Request")
        response.headers["dg-error"] = "Invalid query string: keywords is not supported by nova-3"
        return response

    async with serve(lambda ws: None, "127.0.0.1", 0, process_request=refuse) as server:
        port = server.sockets[0].getsockname()[1]
        engine = DeepgramEngine(f"ws://127.0.0.1:{port}/v1/listen", KEY, "nova-3", **FAST)
        with pytest.raises(SpeechRefused) as refused:
            await engine.open(language="en", sample_rate=RATE)
    assert "keywords is not supported by nova-3" in str(refused.value)
    assert "(400)" in str(refused.value)


async def test_close_1002_is_a_refusal_not_an_endless_reconnect():
    handshakes = []

    async def undecodable(ws):
        handshakes.append(ws.request.path)
        await ws.recv()
        await ws.close(1002, "could not decode the audio")

    async with serve(undecodable, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        engine = DeepgramEngine(f"ws://127.0.0.1:{port}/v1/listen", KEY, "nova-3", **FAST)
        session = await engine.open(language="en", sample_rate=RATE)
        await session.send(speech(0.2, seed=4))
        events: list[SpeechEvent] = []
        with pytest.raises(SpeechRefused, match="could not decode"):
            async with asyncio.timeout(5):
                await collect(session, events)
        await session.close()
    assert len(handshakes) == 1
