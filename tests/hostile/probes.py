"""What the security-row tests do to a live site and read back from it: the status of a
websocket handshake, the finals it stored, an admin signed in, a captioner opening the audio
socket until captions are live and speaking like a person, every frame a socket receives."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from deepgram_standin import silence, speech
from tests.hostile.test_gate import _CREATE_ADMIN, ADMIN, ADMIN_PASSWORD, Browser
from tests.live_site import LiveSite
from tests.multiprocess.clients import open_captioner, ws_url

# Runs first in a site's preamble (code run before Daphne starts).
SETUP = "import django\ndjango.setup()\n"

STORED = "from captions.models import Caption\nresult = list(Caption.objects.order_by('seq')"
STORED += ".values_list('seq', 'text'))"

STORE_CAPTION = """
from django.utils import timezone
from captions.models import Caption
from livestream.models import Stream
stream = Stream.objects.get(slug=params["slug"])
Caption.store(stream, text=params["text"], start=0.0, end=1.0, session_started_at=timezone.now())
"""


def stored_finals(site: LiveSite) -> list[tuple[int, str]]:
    return [tuple(row) for row in site.django(STORED)]


async def handshake_status(site: LiveSite, path: str, session: str | None) -> int:
    """The HTTP status of a websocket handshake to ``path`` (101 when accepted)."""
    sent = {"Origin": site.url}
    if session:
        sent["Cookie"] = f"sessionid={session}"
    try:
        async with connect(ws_url(site.url, path), additional_headers=sent, open_timeout=10):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def signed_in_admin(site: LiveSite) -> Browser:
    site.django(_CREATE_ADMIN, name=ADMIN, password=ADMIN_PASSWORD)
    admin = Browser(site.url)
    admin.load_form("/admin/login/")
    assert admin.post("/admin/login/", username=ADMIN, password=ADMIN_PASSWORD)[0] == 302
    return admin


async def captioner_until_live(site: LiveSite, session: str, within: float):
    """Open the audio socket until captions are live; the last attempt's socket and status."""
    deadline = time.monotonic() + within
    while True:
        ws, status = await open_captioner(site.url, "talk", session)
        if status["state"] == "live" or time.monotonic() > deadline:
            return ws, status
        await ws.close()
        await asyncio.sleep(0.2)


async def say(ws, phrases: int, seed: int) -> None:
    """Speak like a person: ``phrases`` stretches of speech, each followed by a pause (the
    speech service sends a final at each pause), in 100 ms frames at about real time."""
    for n in range(phrases):
        pcm = speech(0.8, seed=seed + n) + silence(0.6)
        for start in range(0, len(pcm), 3200):
            await ws.send(pcm[start : start + 3200])
            await asyncio.sleep(0.08)


class Frames:
    """Every text frame a socket receives, read in the background until it closes."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.texts: list[str] = []
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                self.texts.append(frame if isinstance(frame, str) else frame.decode("latin-1"))

    def messages(self) -> list[dict]:
        return [json.loads(text) for text in self.texts]

    async def close(self) -> None:
        await self.ws.close()
        await self.task
