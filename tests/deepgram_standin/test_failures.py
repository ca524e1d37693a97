"""The stand-in fails as Deepgram does: the idle timeout, drops, outages; and a reconnecting
client hears the same words for the same audio."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from deepgram_standin import DeepgramStandin, silence, speech
from deepgram_standin.messages import CLOSE_REASONS
from tests.deepgram_standin.wire import (
    AUTH,
    BPS,
    KEY,
    QUERY,
    SITE_QUERY,
    finals,
    read_all,
    send_audio,
)

NET_0001 = (
    "Deepgram did not receive audio data or a text message within the timeout window. "
    "See https://dpgr.am/net0001"
)


async def test_keepalive_alone_does_not_keep_a_connection_that_never_got_audio():
    async with (
        DeepgramStandin(api_key=KEY, idle_timeout=0.3) as dg,
        connect(dg.url + QUERY, additional_headers=AUTH) as ws,
    ):
        with contextlib.suppress(ConnectionClosed):
            for _ in range(6):
                await ws.send(json.dumps({"type": "KeepAlive"}))
                await asyncio.sleep(0.1)
        messages = await read_all(ws)

    assert messages[-1]["type"] == "Metadata"
    assert (ws.close_code, ws.close_reason) == (1011, NET_0001)  # Deepgram's own sentence
    assert dg.keepalives >= 2


async def test_keepalive_keeps_a_connection_that_got_audio():
    async with (
        DeepgramStandin(api_key=KEY, idle_timeout=0.3) as dg,
        connect(dg.url + QUERY, additional_headers=AUTH) as ws,
    ):
        await ws.send(silence(0.02))
        for _ in range(8):
            await ws.send(json.dumps({"type": "KeepAlive"}))
            await asyncio.sleep(0.1)
        assert dg.open_connections == 1
    await dg.wait_for(lambda: dg.open_connections == 0)
    assert dg.connections[0].close_code == 1000  # closed by the client, not timed out


@pytest.mark.parametrize(
    ("how", "code", "reason"),
    [
        ("close", 1011, CLOSE_REASONS["NET-0000"][1]),
        ("undecodable", 1008, CLOSE_REASONS["DATA-0000"][1]),
        ("abort", 1006, ""),
    ],
)
async def test_a_scripted_drop_cuts_the_connection(dg, how, code, reason):
    dg.drop_after(1.5, how=how)
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        await send_audio(ws, speech(3.0, seed=8))
        await read_all(ws)

    assert ws.close_code == code
    assert ws.close_reason == reason
    if reason:
        assert "https://dpgr.am/" in reason
    await dg.wait_for(lambda: dg.open_connections == 0)
    assert dg.connections[0].close_code == code
    assert dg.connections[0].audio_bytes >= 1.5 * BPS


async def test_replayed_audio_gets_the_same_phrases_again(dg):
    dg.announce("one", "two", "three")
    phrase = [speech(0.7, seed=n) + silence(0.5) for n in (11, 12, 13)]
    audio = b"".join(phrase)
    async with connect(dg.url + SITE_QUERY, additional_headers=AUTH) as ws:
        await send_audio(ws, phrase[0] + phrase[1])
        await dg.wait_for(lambda: len(dg.final_texts) == 2, within=10)  # "one" and "two" sent
        dg.drop_after(len(audio) / BPS - 0.2, how="abort")
        await send_audio(ws, phrase[2])
        await dg.wait_for(lambda: dg.open_connections == 0, within=10)
    # as an engine would: resend from the end of the first final (0.7 s + 300 ms of pause)
    async with connect(dg.url + SITE_QUERY, additional_headers=AUTH) as ws:
        await send_audio(ws, audio[BPS:])
        await ws.send(json.dumps({"type": "CloseStream"}))
        messages = await read_all(ws)

    said = [m["channel"]["alternatives"][0]["transcript"] for m in finals(messages)]
    assert [text for text in said if text] == ["two", "three"]


async def test_go_down_and_come_up(dg):
    await dg.go_down()
    with pytest.raises(ConnectionRefusedError):
        async with connect(dg.url + QUERY, additional_headers=AUTH):
            pass
    await dg.come_up()
    async with connect(dg.url + QUERY, additional_headers=AUTH):
        assert len(dg.connections) == 1
