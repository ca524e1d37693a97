"""What the stand-in's messages say: phrases or words from the audio, Deepgram's metadata,
voice-activity events, and Error."""

from __future__ import annotations

import json

from websockets.asyncio.client import connect

from deepgram_standin import DeepgramStandin, silence, speech, tick_words
from tests.deepgram_standin.wire import (
    AUTH,
    BPS,
    KEY,
    QUERY,
    RAW,
    SITE_QUERY,
    finals,
    read_all,
    results,
    send_audio,
    transcribe,
)

PAUSE = silence(0.5)


async def test_without_phrases_finals_say_words_made_from_the_audio(dg):
    audio = speech(1.5, seed=1) + PAUSE

    messages = await transcribe(dg.url, audio, SITE_QUERY)

    final = finals(messages)[0]
    words = tick_words(audio[: round(1.8 * BPS)], BPS // 4, 200)
    assert final["channel"]["alternatives"][0]["transcript"] == " ".join(w for w, _, _ in words)
    assert [w["start"] for w in final["channel"]["alternatives"][0]["words"]] == [
        0.0, 0.25, 0.5, 0.75, 1.0, 1.25,
    ]  # fmt: skip
    assert dg.audio_bytes == len(audio)
    assert dg.controls == ["CloseStream"]


async def test_each_final_says_the_next_phrase_and_interims_grow_towards_it(dg):
    dg.announce("Hello world.", "Second phrase here")
    audio = speech(2.0, seed=3) + PAUSE + speech(1.0, seed=4) + PAUSE

    messages = await transcribe(dg.url, audio, SITE_QUERY)

    assert [r[3] for r in results(messages)] == [
        "Hello",  # interims after 1 s and 2 s of the 4 s a final may take: its start
        "Hello",
        "Hello world.",
        "Second",
        "Second phrase here",
        "",  # the rest of the pause, when the stream closes
    ]
    words = finals(messages)[0]["channel"]["alternatives"][0]["words"]
    assert [(w["word"], w["punctuated_word"]) for w in words] == [
        ("hello", "Hello"),
        ("world", "world."),
    ]
    assert words[-1]["end"] == 2.0  # spread over the speech, not the pause after it


async def test_used_up_phrases_are_said_again_from_the_start_never_filler(dg):
    dg.announce("One.", "Two.")
    audio = b"".join(speech(0.5, seed=n) + PAUSE for n in range(5))

    await transcribe(dg.url, audio, SITE_QUERY)

    assert dg.final_texts == ["One.", "Two.", "One.", "Two.", "One."]


async def test_silence_takes_no_phrase(dg):
    dg.announce("Only words use phrases.")

    messages = await transcribe(dg.url, silence(1.0) + speech(0.5, seed=5) + PAUSE, SITE_QUERY)

    assert [f.text for f in dg.finals][:1] == ["Only words use phrases."]
    assert {r[3] for r in results(messages) if not r[0]} <= {"", "Only"}


async def test_without_interim_results_only_finals_come(dg):
    messages = await transcribe(dg.url, speech(1.0, seed=2) + PAUSE, f"?{RAW}&endpointing=300")

    assert [r[0] for r in results(messages)] == [True, True]


async def test_results_and_metadata_carry_model_info_as_nova_3_reports_it(dg):
    messages = await transcribe(dg.url, speech(0.5, seed=6) + PAUSE, SITE_QUERY)

    info = {"name": "general-nova-3", "version": "2025-04-17.21547", "arch": "nova-3"}
    result = finals(messages)[0]
    assert result["metadata"]["model_info"] == info
    assert result["metadata"]["request_id"] == dg.connections[0].request_id
    metadata = messages[-1]
    assert metadata["type"] == "Metadata"
    assert metadata["duration"] == 1.0
    assert metadata["models"] == [result["metadata"]["model_uuid"]]
    assert metadata["model_info"] == {result["metadata"]["model_uuid"]: info}


async def test_a_connection_without_audio_ends_with_metadata_without_models(dg):
    messages = await transcribe(dg.url, b"", SITE_QUERY)

    assert messages[-1]["duration"] == 0.0
    assert "models" not in messages[-1]


async def test_vad_events_and_utterance_end_follow_the_query(dg):
    audio = speech(1.0, seed=7) + silence(1.2)

    with_events = await transcribe(dg.url, audio, SITE_QUERY)
    without = await transcribe(dg.url, audio, QUERY + "&endpointing=300")

    assert [m["type"] for m in with_events if m["type"] != "Results"] == [
        "SpeechStarted",
        "UtteranceEnd",
        "Metadata",
    ]
    assert with_events[0]["timestamp"] == 0.0
    utterance_end = next(m for m in with_events if m["type"] == "UtteranceEnd")
    assert utterance_end["last_word_end"] == 1.0
    assert {m["type"] for m in without} == {"Results", "Metadata"}


async def test_extras_send_vad_events_and_an_unknown_type():
    async with DeepgramStandin(api_key=KEY, extras=True) as dg:
        messages = await transcribe(dg.url, speech(1.0, seed=8) + silence(1.2), QUERY)

    kinds = [m["type"] for m in messages]
    assert kinds[0] == "SpeechStarted"
    assert {"UtteranceEnd", "Surprise"} <= set(kinds)


async def test_an_unknown_control_message_gets_an_error_and_the_stream_goes_on(dg):
    async with connect(dg.url + SITE_QUERY, additional_headers=AUTH) as ws:
        await ws.send(json.dumps({"type": "Pause"}))
        error = json.loads(await ws.recv())
        await send_audio(ws, speech(0.5, seed=9) + PAUSE)
        await ws.send(json.dumps({"type": "CloseStream"}))
        rest = await read_all(ws)

    assert error["type"] == "Error"
    assert error["variant"] == "SchemaError"
    assert error["message"] == '{"type": "Pause"}'
    assert error["description"]
    assert finals(rest)
    assert dg.errors


async def test_an_error_can_be_injected(dg):
    async with connect(dg.url + SITE_QUERY, additional_headers=AUTH) as ws:
        await dg.wait_for(lambda: dg.open_connections == 1)
        dg.inject_error("Something went wrong on our side.")
        error = json.loads(await ws.recv())

    assert error == {
        "type": "Error",
        "variant": "ServerError",
        "description": "Something went wrong on our side.",
    }


async def test_an_empty_frame_is_counted_as_an_error(dg):
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        await ws.send(b"")
        await ws.send(json.dumps({"type": "KeepAlive"}))
        await dg.wait_for(lambda: dg.keepalives == 1)

    assert dg.empty_frames == 1
    assert dg.errors
