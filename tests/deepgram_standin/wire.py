"""A raw websocket client's view of the stand-in, shared by its tests."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

KEY = "standin-key"
AUTH = {"Authorization": f"Token {KEY}"}
RAW = "encoding=linear16&sample_rate=16000&channels=1"
QUERY = f"?model=nova-3&{RAW}&interim_results=true"
# what the site's engine asks for
SITE_QUERY = f"{QUERY}&endpointing=300&utterance_end_ms=1000&vad_events=true"
BPS = 32000


async def refusal(url: str, headers: dict[str, str] | None = None) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=AUTH if headers is None else headers):
            pass
    return refused.value


async def send_audio(ws: ClientConnection, audio: bytes, chunk: int = 3200) -> None:
    for begin in range(0, len(audio), chunk):
        await ws.send(audio[begin : begin + chunk])


async def read_all(ws: ClientConnection, *, within: float = 30) -> list[dict]:
    """Every message until the connection ends, however it ends."""
    messages = []
    async with asyncio.timeout(within):
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                messages.append(json.loads(message))
    return messages


async def transcribe(url: str, audio: bytes, query: str = QUERY, **send: int) -> list[dict]:
    """Send ``audio`` at once, then CloseStream; every message the stand-in sent."""
    async with connect(url + query, additional_headers=AUTH) as ws:
        await send_audio(ws, audio, **send)
        await ws.send(json.dumps({"type": "CloseStream"}))
        return await read_all(ws)


def results(messages: list[dict]) -> list[tuple[bool, float, float, str]]:
    """``(is_final, start, duration, transcript)`` of each ``Results``."""
    return [
        (m["is_final"], m["start"], m["duration"], m["channel"]["alternatives"][0]["transcript"])
        for m in messages
        if m["type"] == "Results"
    ]


def finals(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["type"] == "Results" and m["is_final"]]


def spans(messages: list[dict]) -> list[tuple[float, float, bool]]:
    """``(start, end, speech_final)`` of each final."""
    return [
        (m["start"], round(m["start"] + m["duration"], 6), m["speech_final"])
        for m in finals(messages)
    ]
