"""Rows of docs/security.md about what a client sends, through a real Daphne process: flooding
viewers are closed while the others get every caption, oversized audio frames leave the
server's memory where it was, and empty or odd-length frames never reach the speech service.
"""

from __future__ import annotations

import asyncio
import contextlib

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from deepgram_standin import DeepgramDouble, speech
from tests.hostile.conftest import DEEPGRAM_KEY, PHRASES, rss_kib
from tests.hostile.probes import captioner_until_live, stored_finals
from tests.live_site import LiveSite, session_for
from tests.multiprocess.clients import (
    Viewer,
    closed_with,
    headers,
    open_captioner,
    speak,
    stop_captioner,
    wait_until,
    ws_url,
)

MIB = 1024 * 1024


async def flood_as_a_viewer(site: LiveSite, session: str, count: int = 20_000) -> int:
    """Send ``count`` 500-byte messages up a captions socket as fast as it takes them."""
    async with connect(
        ws_url(site.url, "/ws/watch/talk/captions/"), additional_headers=headers(site.url, session)
    ) as ws:
        await ws.recv()  # history
        with contextlib.suppress(ConnectionClosed):  # closed while still sending
            for _ in range(count):
                await ws.send("x" * 500)
        close_code, _ = await closed_with(ws)
        return close_code


async def test_flooding_viewers_are_closed_while_the_others_get_every_caption(single_site):
    site = single_site()
    stream = single_site.stream
    session = session_for(site.url, stream.viewer_code)
    calm = Viewer(site.url, "talk", session)
    calm.start()
    await asyncio.wait_for(calm.connected.wait(), 10)
    ws, status = await open_captioner(
        site.url, "talk", session_for(site.url, stream.captioner_code)
    )
    assert status["state"] == "live"

    speaking = asyncio.create_task(speak(ws, 4.0, seed=31))
    codes = await asyncio.gather(*(flood_as_a_viewer(site, session) for _ in range(3)))
    await speaking
    await stop_captioner(ws)  # the captioner was never disturbed either

    assert codes == [4408] * 3
    stored = stored_finals(site)
    assert stored
    await wait_until(lambda: len(calm.finals) == len(stored), within=10)
    assert list(calm.finals.items()) == stored
    assert calm.connections == 1  # every caption arrived live: none was missed and refetched
    await calm.stop()


async def test_oversized_audio_frames_leave_the_servers_memory_where_it_was(single_site):
    site = single_site()
    session = session_for(site.url, single_site.stream.captioner_code)

    async def send_oversized(size: int) -> int:
        ws, status = await captioner_until_live(site, session, within=8)
        assert status["state"] == "live"  # the last oversized frame freed the stream
        await ws.send(speech(0.2))
        with contextlib.suppress(ConnectionClosed):  # Daphne may cut it while it is sent
            await ws.send(b"\x00" * size)
        close_code, _ = await closed_with(ws)
        return close_code

    # Over Daphne's own cap (1 MiB: it drops the connection), just under it, and the row's
    # 100 KiB: both over the site's 64 KiB cap (4413).
    sizes = [2 * MIB, MIB - 1024, 100 * 1024]
    for size in sizes:  # the allocator's high-water mark: what one such frame may take, once
        await send_oversized(size)
    await asyncio.sleep(1)
    before = rss_kib(site.process.pid)
    codes = [await send_oversized(size) for size in sizes * 5]
    await asyncio.sleep(2)
    after = rss_kib(site.process.pid)

    assert all(code in (1006, 1009) for code in codes[::3])  # Daphne dropped the connection
    assert codes[1::3] + codes[2::3] == [4413] * 10
    assert after - before < 4 * 1024, f"RSS grew {before} → {after} KiB over 15 frames"


async def test_empty_and_odd_length_frames_never_reach_the_speech_service(single_site):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES) as dg:
        site = single_site(speech_url=dg.url)
        session = session_for(site.url, single_site.stream.captioner_code)
        for bad, reason in [(b"", "Empty audio frames"), (b"\x01\x02\x03", "16-bit PCM")]:
            ws, status = await captioner_until_live(site, session, within=8)
            assert status["state"] == "live"
            forwarded = dg.audio_bytes
            await ws.send(speech(0.5))
            await dg.wait_for(lambda before=forwarded: dg.audio_bytes == before + 16_000, 5)
            await ws.send(bad)
            close_code, said = await closed_with(ws)
            assert (close_code, reason in said[-1]["message"]) == (4400, True)
            assert dg.audio_bytes == forwarded + 16_000  # nothing of the bad frame went on
        assert dg.empty_frames == 0
