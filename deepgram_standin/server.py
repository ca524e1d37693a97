"""The stand-in's server: lifecycle, the handshake, scripted failures, counters, phrases.

See the package docstring (``deepgram_standin/__init__.py``) for what it does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from deepgram_standin import messages
from deepgram_standin.connection import Connection
from deepgram_standin.handshake import PATH, refusal, settings_problem
from deepgram_standin.records import ConnectionRecord, Drop, DropHow, Handshake, SentFinal
from deepgram_standin.timing import REALISTIC, Timing


class DeepgramStandin:
    """A websocket server that behaves like Deepgram's live API. See the package docstring."""

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        phrases: Iterable[str] = (),
        idle_timeout: float = 10.0,
        timing: Timing = REALISTIC,
        segment: float | None = None,
        interim_every: float | None = None,
        delay: float | None = None,
        intake_ratio: float | None = None,
        silence_rms: float = 200.0,
        extras: bool = False,
        keepalive_needs_audio: bool = True,
        keep_frames: bool = False,
        on_final: Callable[[SentFinal], None] | None = None,
        on_audio: Callable[[int, bytes], None] | None = None,
    ) -> None:
        overrides = {
            "segment": segment,
            "interim_every": interim_every,
            "delay": delay,
            "intake_ratio": intake_ratio,
        }
        timing = dataclasses.replace(
            timing, **{k: v for k, v in overrides.items() if v is not None}
        )
        self.api_key = api_key
        self.host = host
        self.port = port
        self.phrases: deque[str] = deque(phrases)
        self.idle_timeout = idle_timeout
        # Read when a connection opens (segment, interim_every) or when a reply is queued
        # (delay) or audio read (intake_ratio), so a test may change them as it goes.
        self.segment = timing.segment
        self.interim_every = timing.interim_every
        self.delay = timing.delay
        self.intake_ratio = timing.intake_ratio
        self.silence_rms = silence_rms
        self.extras = extras
        self.keepalive_needs_audio = keepalive_needs_audio
        self.keep_frames = keep_frames  # every frame sent, in ConnectionRecord.frames
        self.on_final = on_final
        self.on_audio = on_audio

        self.handshakes: list[Handshake] = []
        self.connections: list[ConnectionRecord] = []
        self.errors: list[str] = []
        self.drops: deque[Drop] = deque()
        self._refusals: deque[int] = deque()
        self._said: list[str] = []  # phrases taken since the queue was last refilled
        self._memo: dict[bytes, tuple[str, int]] = {}  # audio digest -> (text, connection)
        self._live: dict[int, Connection] = {}
        self._server: Server | None = None
        self._changed = asyncio.Event()

    @property
    def timing(self) -> Timing:
        return Timing(self.segment, self.interim_every, self.delay, self.intake_ratio)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{PATH}"

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            process_response=self._process_response,
            compression=None,
            close_timeout=1,
        )
        if not self.port:
            self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.go_down()

    async def go_down(self) -> None:
        """Stop listening and cut every open connection without a close frame."""
        if self._server is not None:
            self._server.close(close_connections=False)
            for connection in list(self._live.values()):
                connection.ws.transport.abort()
            await self._server.wait_closed()
            self._server = None

    async def come_up(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            await self.start()

    async def __aenter__(self) -> DeepgramStandin:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- scripting ----------------------------------------------------------------------------

    def announce(self, *texts: str) -> None:
        """Queue phrases: each following non-silent final says the next one."""
        self.phrases.extend(texts)

    def refuse(self, status: int, times: int = 1) -> None:
        """Refuse the next ``times`` handshakes with this HTTP status and a Deepgram-like body."""
        self._refusals.extend([status] * times)

    def drop_after(self, seconds: float, *, how: DropHow = "close", times: int = 1) -> None:
        """Drop the connection that next receives audio once it has received ``seconds`` of
        audio in all: ``"close"`` sends close 1011 (NET-0000), ``"undecodable"`` 1008
        (DATA-0000), ``"abort"`` resets the TCP connection without a close frame. Replies not
        yet sent are lost."""
        self.drops.extend([Drop(seconds, how)] * times)

    def inject(self, message: str | bytes | dict[str, Any]) -> None:
        """Send any frame (JSON when given a dict) on the most recent open connection, after
        the processing delay and the replies already queued."""
        if not self._live:
            raise RuntimeError("no open connection to inject into")
        text = messages.dumps(message) if isinstance(message, dict) else message
        self._live[max(self._live)].queue(text)

    def inject_error(self, description: str, *, variant: str = "ServerError") -> None:
        """Send Deepgram's ``Error`` message on the most recent open connection."""
        self.inject(messages.error(description, variant=variant))

    async def wait_for(self, predicate: Callable[[], bool], within: float = 2.0) -> None:
        """Wait until ``predicate()`` is true (checked after every event in the stand-in);
        TimeoutError after ``within`` seconds."""
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    # -- counters -----------------------------------------------------------------------------

    @property
    def audio_bytes(self) -> int:
        return sum(c.audio_bytes for c in self.connections)

    @property
    def keepalives(self) -> int:
        return sum(c.keepalives for c in self.connections)

    @property
    def empty_frames(self) -> int:
        return sum(c.empty_frames for c in self.connections)

    @property
    def controls(self) -> list[str]:
        return [t for c in self.connections for t in c.controls]

    @property
    def finals(self) -> list[SentFinal]:
        return sorted(
            (f for c in self.connections for f in c.finals), key=lambda f: f.sent_monotonic
        )

    @property
    def final_texts(self) -> list[str]:
        """Texts of the non-empty finals sent, in order."""
        return [f.text for f in self.finals if f.text]

    @property
    def open_connections(self) -> int:
        return len(self._live)

    def notify(self) -> None:
        self._changed.set()

    # -- phrases --------------------------------------------------------------------------------

    def _refill(self) -> None:
        """Phrases used up: say them again from the start (never filler words)."""
        if not self.phrases and self._said:
            self.phrases.extend(self._said)
            self._said.clear()

    def take_phrase(self) -> str | None:
        self._refill()
        if not self.phrases:
            return None
        phrase = self.phrases.popleft()
        self._said.append(phrase)
        return phrase

    def next_phrase(self) -> str | None:
        self._refill()
        return self.phrases[0] if self.phrases else None

    def give_back(self, phrases: list[str]) -> None:
        for phrase in reversed(phrases):
            self.phrases.appendleft(phrase)
            for i in range(len(self._said) - 1, -1, -1):
                if self._said[i] == phrase:
                    del self._said[i]
                    break

    def remember(self, audio: bytes, text: str, connection: int) -> None:
        self._memo[hashlib.sha256(audio).digest()] = (text, connection)

    def recall(self, audio: bytes, *, before: int) -> str | None:
        """What a final on an earlier connection said for this very audio."""
        known = self._memo.get(hashlib.sha256(audio).digest())
        return known[0] if known is not None and known[1] < before else None

    # -- handshake ----------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        headers = dict(request.headers.raw_items())
        shake = Handshake(parts.path, query, headers, str(uuid.uuid4()))
        self.handshakes.append(shake)
        connection.dg_handshake = shake  # type: ignore[attr-defined]
        self.notify()
        if parts.path != PATH:
            return refusal(shake, 404)
        if self._refusals:
            return refusal(shake, self._refusals.popleft())
        if request.headers.get("Authorization") != f"Token {self.api_key}":
            return refusal(shake, 401)
        problem = settings_problem(query)
        if problem:
            return refusal(shake, 400, problem)
        return None

    def _process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        shake: Handshake = connection.dg_handshake  # type: ignore[attr-defined]
        if "dg-request-id" not in response.headers:
            response.headers["dg-request-id"] = shake.request_id

    async def _handle(self, ws: ServerConnection) -> None:
        shake: Handshake = ws.dg_handshake  # type: ignore[attr-defined]
        record = ConnectionRecord(
            index=len(self.connections),
            query={k: v[-1] for k, v in shake.query.items()},
            headers=shake.headers,
            request_id=shake.request_id,
            opened_monotonic=time.monotonic(),
        )
        self.connections.append(record)
        self._live[record.index] = connection = Connection(self, ws, record)
        self.notify()
        try:
            await connection.run()
        finally:
            del self._live[record.index]
            self.notify()


DeepgramDouble = DeepgramStandin  # the name the tests grew up with
