"""``make run``'s offline demo, as a newcomer meets it: on a fresh database ``manage.py rundemo``
(what ``make run`` serves with) prints a viewer code; with it a viewer's page gets the live
stream made on this machine (program-date-times, from this very server) and captions with
words of the committed speech clip, made by the local engine from the stream's own audio;
Ctrl-C stops the server, the caption worker and ffmpeg. Nothing beyond 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.live_site import session_for
from tests.multiprocess.clients import headers, ws_url
from tests.worker.demo_site import TELLING_WORDS, DemoSite, start_demo


def get(url: str, *, within: float = 20) -> tuple[int, str]:
    """GET, waiting up to ``within`` seconds for it to exist (ffmpeg's first segments)."""
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            if error.code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


@pytest.fixture
def demo(tmp_path) -> Iterator[DemoSite]:
    site = start_demo(tmp_path)
    yield site
    site.stop()


async def test_the_offline_demo_plays_and_captions_its_own_speech_and_ctrl_c_stops_it(demo):
    site, code = demo.url, demo.viewer_code
    ffmpeg_pid = int(demo.wait_for(r"ffmpeg \(pid (\d+)\)")[1])

    session = await asyncio.to_thread(session_for, site, code)
    path = "/ws/watch/offline-demo/captions/"
    async with connect(ws_url(site, path), additional_headers=headers(site, session)) as ws:
        status, master = await asyncio.to_thread(get, f"{site}/demo-live/master.m3u8")
        assert status == 200
        assert "#EXT-X-STREAM-INF" in master
        media = (await asyncio.to_thread(get, f"{site}/demo-live/index.m3u8"))[1]
        assert "#EXT-X-PROGRAM-DATE-TIME:" in media
        heard = ""
        async with asyncio.timeout(60):
            while not (set(re.findall(r"[a-z]+", heard.lower())) & TELLING_WORDS):
                message = json.loads(await ws.recv())
                if message["type"] == "caption" and message["is_final"]:
                    heard = message["text"]
                    assert message["spoken_at"] is not None
                elif message["type"] == "status" and message["captioning"]:
                    assert message["engine"] == "local"

    demo.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert demo.process.wait(timeout=30) is not None
    await asyncio.sleep(0.5)
    assert not alive(ffmpeg_pid), "ffmpeg outlived the demo"
