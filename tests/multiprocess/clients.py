"""Websocket clients that behave like the site's pages (static/js/captions.js, captioner.js)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from deepgram_standin import sentences, speech


def ws_url(site_url: str, path: str) -> str:
    return site_url.replace("http://", "ws://", 1) + path


def headers(site_url: str, session: str) -> dict[str, str]:
    return {"Origin": site_url, "Cookie": f"sessionid={session}"}


class Viewer:
    """Keeps a captions socket open like the page does: reconnects after a drop and resumes
    with ``?after=<last seq>``; a gap in sequence numbers makes it resync the same way."""

    def __init__(self, site_url: str, slug: str, session: str) -> None:
        self.site_url, self.slug, self.session = site_url, slug, session
        self.finals: dict[int, str] = {}
        self.order: list[int] = []  # seqs in the order they were shown
        self.statuses: list[dict] = []
        self.connections = 0
        self.connected = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def last_seq(self) -> int:
        return max(self.finals, default=0)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            query = f"?after={self.last_seq}" if self.last_seq else ""
            path = f"/ws/watch/{self.slug}/captions/{query}"
            try:
                async with connect(
                    ws_url(self.site_url, path),
                    additional_headers=headers(self.site_url, self.session),
                    open_timeout=5,
                ) as ws:
                    self.connections += 1
                    await self._listen(ws)
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError):
                pass
            self.connected.clear()
            await asyncio.sleep(0.2)

    async def _listen(self, ws: ClientConnection) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "history":
                for caption in message["captions"]:
                    self._add(caption)
            elif message["type"] == "status":
                self.statuses.append(message)
                self.connected.set()
            elif message["type"] == "caption" and message["is_final"]:
                if message["seq"] > self.last_seq + 1 and self.last_seq:
                    return  # a gap: reconnect and fetch it from the record
                self._add(message)

    def _add(self, caption: dict) -> None:
        if caption["seq"] not in self.finals:
            self.finals[caption["seq"]] = caption["text"]
            self.order.append(caption["seq"])


async def open_captioner(site_url: str, slug: str, session: str) -> tuple[ClientConnection, dict]:
    """Open the audio socket; returns it and the first status that is not 'connecting'."""
    ws = await connect(
        ws_url(site_url, f"/ws/watch/{slug}/audio/"),
        additional_headers=headers(site_url, session),
        open_timeout=5,
    )
    while True:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except ConnectionClosed:
            return ws, {"state": "closed", "code": ws.close_code}
        if message.get("state") != "connecting":
            return ws, message


async def closed_with(ws: ClientConnection, within: float = 10) -> tuple[int, list[dict]]:
    """Read until the server closes the socket: its close code and the statuses it sent."""
    statuses = []
    try:
        async with asyncio.timeout(within):
            async for raw in ws:
                if isinstance(raw, str) and json.loads(raw).get("type") == "status":
                    statuses.append(json.loads(raw))
    except ConnectionClosed:
        pass
    return ws.close_code, statuses


async def speak(ws: ClientConnection, seconds: float, seed: int) -> None:
    """Send 100 ms frames, a little faster than real time: a phrase and a pause per whole second
    (a final each, as Deepgram's endpointing ends a phrase at a pause), then any fraction of a
    second spoken through."""
    whole, rest = divmod(seconds, 1)
    pcm = sentences(int(whole), seed=seed) + (speech(rest, seed=seed) if rest else b"")
    for start in range(0, len(pcm), 3200):
        await ws.send(pcm[start : start + 3200])
        await asyncio.sleep(0.05)


async def stop_captioner(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "stop"}))
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            if json.loads(raw).get("state") == "stopped":
                break
    await ws.close()


async def wait_until(predicate, within: float, step: float = 0.05) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(step)
