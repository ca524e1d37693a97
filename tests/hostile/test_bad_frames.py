"""Bad frames and floods through a real Daphne: each gets its documented close code, after a
status saying why, and frees what its socket held — the next captioner starts at once."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from deepgram_standin import speech
from tests.hostile.conftest import rss_kib
from tests.live_site import session_for
from tests.multiprocess.clients import closed_with, headers, open_captioner, ws_url

MIB = 1024 * 1024


async def send_flood_of_audio(ws) -> None:
    second = speech(1.0)
    for _ in range(15):  # 15 s of audio at once: far faster than real time
        await ws.send(second)


async def send_many_tiny_frames(ws) -> None:
    for _ in range(400):
        await ws.send(b"\x00\x00")


BAD_FRAMES = [
    pytest.param(lambda ws: ws.send(b"\x00" * (64 * 1024 + 2)), 4413, "at most", id="64KiB+2"),
    pytest.param(lambda ws: ws.send(b"\x00" * 100 * 1024), 4413, "at most", id="100KiB"),
    pytest.param(lambda ws: ws.send(b"\x00\x00\x00"), 4400, "16-bit PCM", id="odd-length"),
    pytest.param(lambda ws: ws.send("hello"), 4400, "JSON control", id="text"),
    pytest.param(lambda ws: ws.send('{"type": "go"}'), 4400, "JSON control", id="unknown-control"),
    pytest.param(lambda ws: ws.send(b""), 4400, "Empty audio", id="empty"),
    pytest.param(send_flood_of_audio, 4408, "faster than real time", id="faster-than-real-time"),
    pytest.param(send_many_tiny_frames, 4408, "Too many messages", id="message-flood"),
]


async def start_captioning(site, session: str, within: float = 2.0) -> tuple[object, dict]:
    """Open the audio socket until captions are live (a released lease lets it at once)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        ws, status = await open_captioner(site.url, "talk", session)
        if status["state"] == "live" or loop.time() > deadline:
            return ws, status
        await ws.close()
        await asyncio.sleep(0.1)


@pytest.mark.parametrize(("send_bad", "code", "reason"), BAD_FRAMES)
async def test_a_bad_frame_gets_its_close_code_and_the_next_captioner_starts(
    single_site, send_bad, code, reason
):
    site = single_site()
    session = session_for(site.url, single_site.stream.captioner_code)
    first, status = await start_captioning(site, session)
    assert status["state"] == "live"
    await first.send(speech(0.3))
    await send_bad(first)
    close_code, statuses = await closed_with(first)
    assert close_code == code
    assert statuses[-1]["state"] == "error"
    assert reason in statuses[-1]["message"]

    second, status = await start_captioning(site, session)
    assert status["state"] == "live", status  # the lease and the speech session were released
    await second.close()


async def test_a_message_over_daphnes_own_cap_frees_the_stream_too(single_site):
    site = single_site()
    session = session_for(site.url, single_site.stream.captioner_code)
    first, _ = await start_captioning(site, session)
    await first.send(b"\x00" * 2 * MIB)
    close_code, _ = await closed_with(first)
    assert close_code in (1006, 1009)  # Autobahn drops it before the consumer sees it
    second, status = await start_captioning(site, session)
    assert status["state"] == "live", status
    await second.close()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        pytest.param(b"\x01\x02", 4400, id="binary"),
        pytest.param("x" * 2048, 4413, id="large-text"),
    ],
)
async def test_a_viewer_that_sends_data_is_closed(single_site, message, code):
    site = single_site()
    session = session_for(site.url, single_site.stream.viewer_code)
    async with connect(
        ws_url(site.url, "/ws/watch/talk/captions/"), additional_headers=headers(site.url, session)
    ) as ws:
        await ws.send('{"type": "hello"}')  # a small message is ignored
        await ws.send(message)
        close_code, _ = await closed_with(ws)
    assert close_code == code


@pytest.mark.parametrize(
    ("message", "count", "code"),
    [
        pytest.param("x" * 60_000, 500, 4413, id="500x60KB"),
        pytest.param("x" * 500, 20_000, 4408, id="20000x500B"),
    ],
)
async def test_a_flooding_viewer_is_closed_and_the_memory_it_took_comes_back(
    single_site, message, count, code
):
    site = single_site()
    session = session_for(site.url, single_site.stream.viewer_code)
    url = ws_url(site.url, "/ws/watch/talk/captions/")
    calm = await connect(url, additional_headers=headers(site.url, session))
    await calm.recv()  # history

    async def flood() -> int:
        async with connect(url, additional_headers=headers(site.url, session)) as ws:
            await ws.recv()
            try:
                for _ in range(count):
                    await ws.send(message)
            except ConnectionClosed:
                pass  # the server closed it while we were still sending
            close_code, _ = await closed_with(ws)
            return close_code

    for _ in range(2):  # the allocator's high-water mark: what one flood may take, once
        await flood()
    await asyncio.sleep(1)
    before = rss_kib(site.process.pid)
    codes = [await flood() for _ in range(4)]
    await asyncio.sleep(2)
    after = rss_kib(site.process.pid)

    # Each flood is closed with its code; a flooder still busy sending when the server gives
    # up on its closing handshake may only see the connection drop (1006).
    assert set(codes) <= {code, 1006}
    assert code in codes
    assert after - before < 4 * 1024, f"RSS grew {before} → {after} KiB over four floods"
    await calm.send(json.dumps({"type": "hello"}))  # the calm viewer was never disturbed
    await calm.close()
    assert calm.close_code == 1000
