"""The stand-in against Deepgram's own Python SDK (deepgram-sdk 7.17): the SDK's live client
connects, sends audio, Finalize and CloseStream, and every message the stand-in sends must come
out of the SDK as its typed model and validate against that model strictly (every field there,
each of its type, none the SDK does not know), so the stand-in cannot drift from the format
Deepgram really sends."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pydantic
import pytest
from deepgram import AsyncDeepgramClient
from deepgram.environment import DeepgramClientEnvironment
from deepgram.listen.v1.types import (
    ListenV1Error,
    ListenV1Metadata,
    ListenV1Results,
    ListenV1ResultsChannelAlternativesItem,
    ListenV1ResultsChannelAlternativesItemWordsItem,
    ListenV1ResultsMetadata,
    ListenV1ResultsMetadataModelInfo,
    ListenV1SpeechStarted,
    ListenV1UtteranceEnd,
)

from deepgram_standin import DeepgramStandin, silence, speech

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # websockets.legacy

KEY = "sdk-conformance-key"
MODELS: dict[str, type[pydantic.BaseModel]] = {
    "Results": ListenV1Results,
    "Metadata": ListenV1Metadata,
    "SpeechStarted": ListenV1SpeechStarted,
    "UtteranceEnd": ListenV1UtteranceEnd,
    "Error": ListenV1Error,
}
# Optional fields Deepgram leaves out unless a feature asks for them (entities, diarization,
# multilingual, legacy error codes); every other field must be there.
MAY_BE_ABSENT: dict[type[pydantic.BaseModel], set[str]] = {
    ListenV1Results: {"entities"},
    ListenV1ResultsMetadata: {"diarize_info"},
    ListenV1ResultsChannelAlternativesItem: {"languages", "languages_hinted"},
    ListenV1ResultsChannelAlternativesItemWordsItem: {"language", "speaker"},
    ListenV1Error: {"code", "message"},
}
# Fields Deepgram sends that the SDK's models do not declare, checked here instead: at the end
# of a stream that had audio, Metadata lists the models and their model_info by UUID.
EXTRAS: dict[type[pydantic.BaseModel], set[str]] = {ListenV1Metadata: {"models", "model_info"}}


def strictly(data: dict[str, Any]) -> pydantic.BaseModel:
    """``data`` as the SDK model of its ``type``, validated strictly; AssertionError or
    pydantic.ValidationError when a field is missing, mistyped or unknown."""
    model_class = MODELS[data["type"]]
    model = model_class.model_validate(data, strict=True)
    _complete(model, data["type"])
    if isinstance(model, ListenV1Metadata) and "models" in data:
        assert pydantic.TypeAdapter(list[str]).validate_python(data["models"], strict=True)
        for uuid, info in data["model_info"].items():
            assert uuid in data["models"]
            ListenV1ResultsMetadataModelInfo.model_validate(info, strict=True)
    return model


def _complete(model: pydantic.BaseModel, where: str) -> None:
    unknown = set(model.model_extra or {}) - EXTRAS.get(type(model), set())
    assert not unknown, f"{where}: fields the SDK does not know: {sorted(unknown)}"
    missing = set(type(model).model_fields) - model.model_fields_set
    missing -= MAY_BE_ABSENT.get(type(model), set())
    assert not missing, f"{where}: fields missing: {sorted(missing)}"
    for name in model.model_fields_set:
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, pydantic.BaseModel):
                _complete(item, f"{where}.{name}")


async def test_every_message_parses_into_the_sdks_models_strictly():
    async with DeepgramStandin(api_key=KEY, keep_frames=True) as dg:
        environment = DeepgramClientEnvironment(
            base=f"http://{dg.host}:{dg.port}",
            production=f"ws://{dg.host}:{dg.port}",
            agent=f"ws://{dg.host}:{dg.port}",
            agent_rest=f"http://{dg.host}:{dg.port}",
        )
        client = AsyncDeepgramClient(api_key=KEY, environment=environment)
        parsed: list[object] = []
        async with client.listen.v1.connect(
            model="nova-3",
            language="en",
            encoding="linear16",
            sample_rate=16000,
            channels=1,
            interim_results="true",
            smart_format="true",
            punctuate="true",
            endpointing=300,
            utterance_end_ms=1000,
            vad_events="true",
        ) as socket:

            async def read() -> None:
                async for message in socket:  # the SDK's own parsing
                    parsed.append(message)

            reader = asyncio.create_task(read())
            # a phrase and a long pause: interims, SpeechStarted, a speech_final, UtteranceEnd;
            # then speech going on: a final without speech_final; then Finalize mid-phrase
            for audio in (speech(1.5, seed=1) + silence(1.5), speech(4.5, seed=2)):
                for begin in range(0, len(audio), 3200):
                    await socket.send_media(audio[begin : begin + 3200])
            await socket.send_finalize()
            await socket.send_keep_alive()
            await socket._send({"type": "Pause"})  # no such message: Deepgram answers Error
            await dg.wait_for(lambda: "Error" in dg.connections[0].sent, within=30)
            dg.inject_error("The stand-in was asked to fail.")
            await socket.send_media(speech(0.5, seed=3))
            await socket.send_close_stream()
            async with asyncio.timeout(30):
                await reader
        await dg.wait_for(lambda: dg.open_connections == 0)

    frames = dg.connections[0].frames
    assert len(parsed) == len(frames)  # the SDK skipped nothing as unknown
    for message, frame in zip(parsed, frames, strict=True):
        data = json.loads(frame)
        assert isinstance(message, MODELS[data["type"]]), (data, message)  # as the SDK saw it
        # and the frame as sent, strictly: the SDK itself turns "1.5" into 1.5 silently
        strictly(data)
    assert set(dg.connections[0].sent) == set(MODELS)
    results = [m for m in parsed if isinstance(m, ListenV1Results)]
    assert any(not r.is_final and r.channel.alternatives[0].transcript for r in results)
    assert any(r.is_final and r.speech_final for r in results)
    assert any(r.is_final and not r.speech_final and not r.from_finalize for r in results)
    assert any(r.from_finalize for r in results)
    assert parsed[-1].model_extra["model_info"]  # Metadata, with nova-3's model_info


def broken(change) -> dict[str, Any]:
    message = json.loads(
        '{"type":"Results","channel_index":[0,1],"duration":1.5,"start":0.0,"is_final":true,'
        '"speech_final":true,"channel":{"alternatives":[{"transcript":"Hi.","confidence":0.99,'
        '"words":[{"word":"hi","start":0.0,"end":0.5,"confidence":0.99,'
        '"punctuated_word":"Hi."}]}]},"metadata":{"request_id":"r","model_info":{'
        '"name":"general-nova-3","version":"2025-04-17.21547","arch":"nova-3"},'
        '"model_uuid":"u"},"from_finalize":false}'
    )
    strictly(copy.deepcopy(message))  # as it is, it passes
    change(message)
    return message


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.pop("start"),
        lambda m: m.pop("speech_final"),  # optional in the SDK, always sent by Deepgram
        lambda m: m.update(duration="1.5"),
        lambda m: m.update(is_final="true"),
        lambda m: m["channel"]["alternatives"][0]["words"][0].pop("confidence"),
        lambda m: m["channel"]["alternatives"][0]["words"][0].update(end=None),
        lambda m: m["metadata"]["model_info"].pop("version"),
        lambda m: m.update(is_finall=True),
    ],
    ids=[
        "missing start",
        "missing speech_final",
        "duration as text",
        "is_final as text",
        "word without confidence",
        "word end null",
        "model_info without version",
        "misspelt field",
    ],
)
def test_the_check_fails_on_a_missing_or_mistyped_field(change):
    with pytest.raises((AssertionError, pydantic.ValidationError)):
        strictly(broken(change))
