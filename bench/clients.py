"""Websocket clients (the ``websockets`` library, asyncio): viewers, the captioner, a direct
client of the speech double, and the floor server's trigger.

Viewers time every final caption as it arrives (``time.time()`` as soon as ``recv`` returns)
into a shared :class:`Arrivals`; the send times come from the servers, so latency is
send → arrival on the same machine clock."""

from __future__ import annotations

import asyncio
import json
import secrets
import struct
import time
from array import array
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidMessage

from deepgram_standin import speech

FRAME_SECONDS = 0.1
SAMPLE_RATE = 16000
FRAME_BYTES = int(SAMPLE_RATE * FRAME_SECONDS) * 2  # 100 ms of 16-bit mono PCM

CLIENT_OPTIONS = {
    "compression": None,  # Daphne does not negotiate permessage-deflate either
    "ping_interval": None,  # browsers do not ping; the servers ping every 20 s
    "open_timeout": 120,
    "close_timeout": 2,
}


@dataclass
class Arrivals:
    """When each final caption reached each viewer, by sequence number."""

    times: dict[int, array] = field(default_factory=lambda: defaultdict(lambda: array("d")))
    texts: dict[int, str] = field(default_factory=dict)
    disorder: int = 0  # a final that arrived again or after a later one (per viewer)

    def by_text(self) -> dict[str, array]:
        return {self.texts[seq]: times for seq, times in self.times.items()}

    def clear(self) -> None:
        self.times.clear()
        self.texts.clear()
        self.disorder = 0


async def listen(ws: ClientConnection, arrivals: Arrivals) -> None:
    last = 0
    try:
        async for message in ws:
            now = time.time()
            event = json.loads(message)
            if event["type"] == "caption" and event["is_final"]:
                seq = event["seq"]
                arrivals.times[seq].append(now)
                if seq not in arrivals.texts:
                    arrivals.texts[seq] = event["text"]
                if seq <= last:
                    arrivals.disorder += 1
                last = max(last, seq)
    except ConnectionClosed:
        pass


@dataclass(frozen=True)
class Target:
    url: str
    origin: str | None = None
    cookie: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie} if self.cookie else {}


class Viewers:
    """Many viewer sockets, opened ``concurrency`` at a time, each listening into ``arrivals``."""

    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals
        self.sockets: list[ClientConnection] = []
        self.tasks: list[asyncio.Task] = []
        self.retries = 0
        self.failed = 0

    async def open(
        self,
        targets: list[Target],
        concurrency: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        gate = asyncio.Semaphore(concurrency)
        total = len(targets)

        async def one(target: Target) -> None:
            async with gate:
                for attempt in range(4):
                    try:
                        ws = await connect(
                            target.url,
                            origin=target.origin,
                            additional_headers=target.headers(),
                            **CLIENT_OPTIONS,
                        )
                        first = json.loads(await ws.recv())
                        assert first["type"] == "history", first
                        break
                    except (OSError, TimeoutError, ConnectionClosed, InvalidMessage) as error:
                        last_error = error
                        self.retries += 1
                        await asyncio.sleep(0.5 * (attempt + 1))
                else:
                    self.failed += 1
                    print(f"    a viewer could not connect: {last_error!r}")
                    return
            self.sockets.append(ws)
            self.tasks.append(asyncio.create_task(listen(ws, self.arrivals)))
            if progress and len(self.sockets) % 500 == 0:
                progress(len(self.sockets), total)

        await asyncio.gather(*(one(t) for t in targets))

    async def close(self) -> None:
        """Drop every connection at once (a TCP reset: thousands of closing handshakes would
        take longer than the measurement)."""
        for ws in self.sockets:
            ws.transport.abort()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.sockets.clear()
        self.tasks.clear()

    def dropped(self) -> int:
        """Sockets the server closed (or that broke) since they were opened."""
        return sum(task.done() for task in self.tasks)

    def __len__(self) -> int:
        return len(self.sockets)


class Audio:
    """100 ms frames of non-silent PCM, each stamped with a unique 8-byte id at its start.

    The stamp lets the speech double's receive log be matched to the send time here, and
    keeps every frame (and so every final's audio) unique, so the double never takes audio for
    a replay and repeats an earlier phrase."""

    def __init__(self, seconds: float = 20.0) -> None:
        pcm = speech(seconds, seed=secrets.randbelow(1 << 30))
        self.pool = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
        self.nonce = secrets.randbits(32)
        self.count = 0

    def next(self) -> tuple[str, bytes]:
        self.count += 1
        stamp = struct.pack("<II", self.nonce, self.count)
        frame = self.pool[self.count % len(self.pool)]
        return stamp.hex(), stamp + frame[len(stamp) :]


async def stream_audio(
    ws: ClientConnection, audio: Audio, frames: int, sent: dict[str, float]
) -> None:
    """Send ``frames`` frames in real time (100 ms apart, against a fixed schedule)."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    for i in range(frames):
        await asyncio.sleep(max(0.0, begin + i * FRAME_SECONDS - loop.time()))
        frame_id, frame = audio.next()
        sent[frame_id] = time.time()
        await ws.send(frame)


class Captioner:
    """The captioner's socket: ``/ws/watch/<slug>/audio/``."""

    def __init__(self, target: Target, audio: Audio) -> None:
        self.target = target
        self.audio = audio
        self.ws: ClientConnection | None = None
        self.sent: dict[str, float] = {}  # frame id -> send time

    async def start(self) -> None:
        self.ws = await connect(
            self.target.url,
            origin=self.target.origin,
            additional_headers=self.target.headers(),
            **CLIENT_OPTIONS,
        )
        while True:
            status = json.loads(await self.ws.recv())
            if status.get("state") == "live":
                return
            if status.get("state") in ("busy", "error"):
                raise RuntimeError(f"the captioner was refused: {status}")

    async def send(self, frames: int) -> None:
        await stream_audio(self.ws, self.audio, frames, self.sent)

    async def stop(self) -> None:
        """``{"type": "stop"}``: the server flushes the speech service, then closes."""
        await self.ws.send(json.dumps({"type": "stop"}))
        try:
            async with asyncio.timeout(30):
                async for _ in self.ws:
                    pass
        except (ConnectionClosed, TimeoutError):
            pass
        await self.ws.close()


async def direct_to_double(url: str, key: str, audio: Audio, frames: int) -> dict[str, float]:
    """Stream to the speech double with no site in between (the bridge's baseline)."""
    sent: dict[str, float] = {}
    query = "?encoding=linear16&sample_rate=16000&channels=1"
    async with connect(
        url + query, additional_headers={"Authorization": f"Token {key}"}, **CLIENT_OPTIONS
    ) as ws:
        drain = asyncio.create_task(_drain(ws))
        await stream_audio(ws, audio, frames, sent)
        await ws.send(json.dumps({"type": "CloseStream"}))
        await drain
    return sent


async def _drain(ws: ClientConnection) -> None:
    try:
        async for _ in ws:
            pass
    except ConnectionClosed:
        pass


async def floor_burst(url: str, count: int, interval: float, prefix: str) -> list[list]:
    """Ask the floor server for ``count`` broadcasts; returns ``[[text, sent_time], ...]``."""
    async with connect(url + "control", **CLIENT_OPTIONS) as ws:
        await ws.send(json.dumps({"count": count, "interval": interval, "prefix": prefix}))
        return json.loads(await ws.recv())["sent"]
