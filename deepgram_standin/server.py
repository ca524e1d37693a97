"""A local stand-in for Deepgram's live speech-to-text API (``/v1/listen``).

It speaks the wire protocol described in ``deepgram-live.md`` over a real websocket, so the
Deepgram engine is tested exactly as it talks to the real service. It never recognises speech:
every transcript is derived from the audio bytes it received, so a test can check what arrived.

Transcripts
    Audio is cut into *segments* (``segment`` seconds of audio, 1.0 by default), counted from the
    start of each connection. Every ``interim_every`` seconds (0.25) inside a segment an interim
    ``Results`` (``is_final: false``) goes out when the query asked for ``interim_results=true``;
    at the end of the segment a final (``is_final`` and ``speech_final`` true). ``start`` and
    ``duration`` are seconds of audio received on *this* connection, restarting at 0 on each.

    A quarter second ("tick") of audio whose RMS is under ``silence_rms`` is silence. A segment
    of silence gives a ``Results`` with an empty transcript, as the real service does.

    Default words: one word per non-silent tick, the CRC-32 of that tick's bytes in hex
    (``"3fa2c19b"``). The same audio therefore always gives the same words, also when an engine
    replays it on a new connection after a drop. :func:`expected_finals` computes them.

    Announced phrases: ``DeepgramStandin(phrases=[...])``, ``dg.announce("Hello world")``,
    ``dg.phrases.append(...)`` or ``--phrases "a|b|c"``. Each final of a non-silent segment takes
    the next phrase (interims show its growing prefix); once they run out, the default words
    come back. A real recogniser says the same thing when it hears the same audio again, so on a
    reconnect, finals whose audio is byte-identical to a final sent on an earlier connection
    repeat that final's text instead of taking a new phrase (only at the start of the new
    connection, where an engine replays audio; feed non-periodic audio, such as :func:`speech`,
    when a test relies on this).

Control messages
    ``Finalize`` flushes the partial segment as a final with ``from_finalize: true``.
    ``CloseStream`` flushes it, sends ``Metadata`` and closes with 1000. ``KeepAlive`` gets no
    answer and counts as activity, but (as Deepgram warns) only once the connection has received
    some audio. After ``idle_timeout`` seconds without activity: ``Metadata``, then close 1011
    ``NET-0001``. An empty binary frame is counted in :attr:`DeepgramStandin.empty_frames`.

Scripted failures
    ``dg.refuse(status, times=1)``, ``dg.drop_after(seconds, how="close" | "abort")``,
    ``dg.delay = seconds``, ``await dg.go_down()`` / ``await dg.come_up()`` (stop listening and
    cut every connection, then listen again on the same port), ``dg.inject(message)``.
    ``extras=True`` also sends ``SpeechStarted``, ``UtteranceEnd`` and an unknown ``Surprise``.

Counters (for assertions)
    ``dg.handshakes`` (every upgrade, refused or not: query, headers, status, time),
    ``dg.connections`` (accepted ones: query, headers, audio bytes, controls, keepalives, empty
    frames, finals, close code), and across connections ``dg.audio_bytes``, ``dg.keepalives``,
    ``dg.empty_frames``, ``dg.controls``, ``dg.finals`` (:class:`SentFinal`, with the
    ``time.monotonic()`` and ``time.time()`` it left at), ``dg.final_texts``, ``dg.errors``,
    ``dg.open_connections``. ``await dg.wait_for(predicate, within=2.0)`` waits for a condition.
    Hooks: ``on_final(SentFinal)`` and ``on_audio(connection_index, frame)``.

Command line (for browser tests and benchmarks)::

    python -m deepgram_standin --port 8765 --key K [--phrases "a|b"] [--idle-timeout S]
        [--segment S] [--interim-every S] [--delay S] [--silence-rms N] [--extras]
        [--finals-log PATH] [--stdin-phrases]

prints ``READY ws://127.0.0.1:<port>/v1/listen`` once listening and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import datetime as dt
import hashlib
import http
import json
import math
import operator
import random
import signal
import sys
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

SAMPLE_WIDTH = 2  # linear16
PATH = "/v1/listen"
MODEL_UUID = "c0d1a568-ce81-4fea-97e7-bd45cb1fdf3c"

ERRORS: dict[int, tuple[str, str]] = {
    400: ("Bad Request", "Bad Request: the request could not be processed."),
    401: ("INVALID_AUTH", "Invalid credentials."),
    402: (
        "ASR_PAYMENT_REQUIRED",
        "Project does not have enough credits for an ASR request and does not have an "
        "overage agreement.",
    ),
    403: ("INSUFFICIENT_PERMISSIONS", "Project does not have access to the requested model."),
    404: ("NOT_FOUND", "Not found."),
    429: ("TOO_MANY_REQUESTS", "Too many requests. Please try again later."),
}

DropHow = Literal["close", "abort"]


@dataclass(frozen=True, slots=True)
class SentFinal:
    """A final ``Results`` as it left the double (times are connection-relative)."""

    text: str
    start: float
    end: float
    connection: int
    from_finalize: bool
    sent_monotonic: float
    sent_time: float


@dataclass(slots=True)
class Handshake:
    """One upgrade request, accepted (status 101) or refused."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    request_id: str
    status: int = 101
    at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class ConnectionRecord:
    """What happened on one accepted connection, for assertions."""

    index: int
    query: dict[str, str]
    headers: dict[str, str]
    request_id: str
    opened_monotonic: float
    audio_bytes: int = 0
    controls: list[str] = field(default_factory=list)
    keepalives: int = 0
    empty_frames: int = 0
    finals: list[SentFinal] = field(default_factory=list)
    messages_sent: int = 0
    close_code: int | None = None
    close_reason: str | None = None
    closed_monotonic: float | None = None

    @property
    def audio_seconds(self) -> float:
        rate = int(self.query.get("sample_rate", "16000"))
        return self.audio_bytes / (rate * SAMPLE_WIDTH)


@dataclass(slots=True)
class _Drop:
    seconds: float
    how: DropHow

    @property
    def close(self) -> tuple[int, str]:
        return (1011, "NET-0000") if self.how == "close" else (1006, "aborted")


@dataclass(slots=True)
class _Out:
    due: float
    text: str | bytes
    final: tuple[str, float, float, bool, bytes] | None = None  # text, start, end, flush, audio
    phrase: str | None = None  # phrase consumed by this final, given back if never sent


@dataclass(slots=True)
class _Stream:
    """Per-connection state of the fake recogniser."""

    record: ConnectionRecord
    bytes_per_second: int
    segment_bytes: int
    tick_bytes: int
    interim: bool
    outbound: asyncio.Queue[_Out] = field(default_factory=asyncio.Queue)
    in_flight: _Out | None = None
    segment: bytearray = field(default_factory=bytearray)
    segment_start: int = 0  # connection bytes where the current segment began
    received: int = 0  # audio bytes processed on this connection
    last_activity: float = field(default_factory=time.monotonic)
    sha256: Any = field(default_factory=hashlib.sha256)
    replaying: bool = False  # still at the start of a reconnection (see module docstring)
    words: list[tuple[str, int, int]] = field(default_factory=list)  # loud ticks so far
    ticked: int = 0  # segment bytes already cut into ticks
    drop: _Drop | None = None

    def seconds(self, n_bytes: int) -> float:
        return round(n_bytes / self.bytes_per_second, 6)


# ---------------------------------------------------------------------------------------------
# Audio helpers, shared by tests


def rms(pcm: bytes) -> float:
    """Root mean square of signed 16-bit little-endian samples."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH])
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return 0.0
    return math.sqrt(sum(map(operator.mul, samples, samples)) / len(samples))


def speech(seconds: float, *, seed: int = 0, sample_rate: int = 16000, level: int = 3000) -> bytes:
    """Deterministic noise loud enough to count as speech; never periodic."""
    rng = random.Random(seed)  # noqa: S311 - test audio, not secrets
    count = round(seconds * sample_rate)
    samples = array.array("h", (rng.randint(-level, level) for _ in range(count)))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def silence(seconds: float, *, sample_rate: int = 16000) -> bytes:
    return bytes(round(seconds * sample_rate) * SAMPLE_WIDTH)


def tick_word(tick: bytes, silence_rms: float) -> str | None:
    """The default word of one tick of audio, or None for silence."""
    return format(zlib.crc32(tick), "08x") if rms(tick) >= silence_rms else None


def tick_words(pcm: bytes, tick_bytes: int, silence_rms: float) -> list[tuple[str, int, int]]:
    """Default words of a stretch of audio: ``(word, start_byte, end_byte)`` per loud tick."""
    words = []
    for begin in range(0, len(pcm), tick_bytes):
        tick = pcm[begin : begin + tick_bytes]
        if word := tick_word(tick, silence_rms):
            words.append((word, begin, begin + len(tick)))
    return words


def expected_finals(
    pcm: bytes,
    *,
    sample_rate: int = 16000,
    segment: float = 1.0,
    interim_every: float = 0.25,
    silence_rms: float = 200.0,
) -> list[str]:
    """Texts of the non-empty finals the double sends for ``pcm`` in default-words mode,
    streamed on one connection and closed with CloseStream."""
    bps = sample_rate * SAMPLE_WIDTH
    seg, tick = _aligned(segment * bps), _aligned(interim_every * bps)
    texts = []
    for begin in range(0, len(pcm), seg):
        words = tick_words(pcm[begin : begin + seg], tick, silence_rms)
        if words:
            texts.append(" ".join(w for w, _, _ in words))
    return texts


def _aligned(n_bytes: float) -> int:
    return max(SAMPLE_WIDTH, round(n_bytes) // SAMPLE_WIDTH * SAMPLE_WIDTH)


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------


class DeepgramStandin:
    """A websocket server that behaves like Deepgram's live API. See the module docstring."""

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        phrases: Iterable[str] = (),
        idle_timeout: float = 10.0,
        segment: float = 1.0,
        interim_every: float = 0.25,
        silence_rms: float = 200.0,
        delay: float = 0.0,
        extras: bool = False,
        keepalive_needs_audio: bool = True,
        on_final: Callable[[SentFinal], None] | None = None,
        on_audio: Callable[[int, bytes], None] | None = None,
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.port = port
        self.phrases: deque[str] = deque(phrases)
        self.idle_timeout = idle_timeout
        self.segment = segment
        self.interim_every = interim_every
        self.silence_rms = silence_rms
        self.delay = delay
        self.extras = extras
        self.keepalive_needs_audio = keepalive_needs_audio
        self.on_final = on_final
        self.on_audio = on_audio

        self.handshakes: list[Handshake] = []
        self.connections: list[ConnectionRecord] = []
        self.errors: list[str] = []
        self._refusals: deque[int] = deque()
        self._drops: deque[_Drop] = deque()
        self._memo: dict[bytes, tuple[str, int]] = {}  # audio digest -> (text, connection)
        self._live: dict[int, tuple[ServerConnection, _Stream]] = {}
        self._server: Server | None = None
        self._changed = asyncio.Event()

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
            for ws, _ in list(self._live.values()):
                ws.transport.abort()
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
        audio in all: ``"close"`` sends close 1011 ``NET-0000``, ``"abort"`` resets the TCP
        connection without a close frame. Replies not yet sent are lost."""
        self._drops.extend([_Drop(seconds, how)] * times)

    def inject(self, message: str | bytes | dict[str, Any]) -> None:
        """Send any frame (JSON when given a dict) on the most recent open connection."""
        if not self._live:
            raise RuntimeError("no open connection to inject into")
        _, stream = self._live[max(self._live)]
        self._queue(stream, json.dumps(message) if isinstance(message, dict) else message)

    async def wait_for(self, predicate: Callable[[], bool], within: float = 2.0) -> None:
        """Wait until ``predicate()`` is true (checked after every event in the double);
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

    def _notify(self) -> None:
        self._changed.set()

    # -- handshake ----------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        headers = dict(request.headers.raw_items())
        shake = Handshake(parts.path, query, headers, str(uuid.uuid4()))
        self.handshakes.append(shake)
        connection.dg_handshake = shake  # type: ignore[attr-defined]
        self._notify()
        if parts.path != PATH:
            return self._refusal(shake, 404)
        if self._refusals:
            return self._refusal(shake, self._refusals.popleft())
        if request.headers.get("Authorization") != f"Token {self.api_key}":
            return self._refusal(shake, 401)
        problem = self._query_problem(query)
        if problem:
            return self._refusal(shake, 400, problem)
        return None

    @staticmethod
    def _query_problem(query: dict[str, list[str]]) -> str | None:
        encoding, rate = query.get("encoding"), query.get("sample_rate")
        if bool(encoding) != bool(rate):
            return "Bad Request: encoding and sample_rate must be given together for raw audio."
        if not encoding or encoding != ["linear16"]:
            return "Bad Request: this double only accepts encoding=linear16."
        if not rate[0].isdigit() or int(rate[0]) <= 0:
            return "Bad Request: sample_rate must be a positive integer."
        if query.get("channels", ["1"]) != ["1"]:
            return "Bad Request: this double only accepts channels=1."
        return None

    def _refusal(self, shake: Handshake, status: int, message: str | None = None) -> Response:
        shake.status = status
        code, default = ERRORS.get(status, ("ERROR", http.HTTPStatus(status).phrase))
        err_msg = message or default
        body = json.dumps(
            {"err_code": code, "err_msg": err_msg, "request_id": shake.request_id},
            separators=(",", ":"),
        ).encode()
        headers = Headers(
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
                ("dg-request-id", shake.request_id),
                ("dg-error", err_msg),
            ]
        )
        return Response(status, http.HTTPStatus(status).phrase, headers, body)

    def _process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        shake: Handshake = connection.dg_handshake  # type: ignore[attr-defined]
        if "dg-request-id" not in response.headers:
            response.headers["dg-request-id"] = shake.request_id

    # -- connection -------------------------------------------------------------------------

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
        stream = self._new_stream(record)
        self._live[record.index] = (ws, stream)
        self._notify()
        pump = asyncio.create_task(self._pump(ws, stream))
        idle = asyncio.create_task(self._watch_idle(ws, stream))
        drop = None
        try:
            drop = await self._read(ws, stream)
        except ConnectionClosed:
            pass
        finally:
            for task in (pump, idle):
                task.cancel()
            await asyncio.gather(pump, idle, return_exceptions=True)
            self._give_back_phrases(stream)
            if drop is not None:
                await self._drop(ws, drop)
            del self._live[record.index]
            record.close_code = ws.close_code
            record.close_reason = ws.close_reason
            if drop is not None:  # what the double did, whatever the client managed to answer
                record.close_code, record.close_reason = drop.close
            elif record.close_code is None:  # reset without a close frame
                record.close_code, record.close_reason = 1006, "aborted"
            record.closed_monotonic = time.monotonic()
            self._notify()

    def _new_stream(self, record: ConnectionRecord) -> _Stream:
        bps = int(record.query["sample_rate"]) * SAMPLE_WIDTH
        return _Stream(
            record=record,
            bytes_per_second=bps,
            segment_bytes=_aligned(self.segment * bps),
            tick_bytes=_aligned(self.interim_every * bps),
            interim=record.query.get("interim_results") == "true",
            replaying=record.index > 0,
        )

    async def _read(self, ws: ServerConnection, stream: _Stream) -> _Drop | None:
        """Read until the client closes, CloseStream, or a scripted drop (returned)."""
        async for message in ws:
            if isinstance(message, bytes):
                drop = self._on_audio(stream, message)
                if drop is not None:
                    return drop
            elif await self._on_text(ws, stream, message):
                return None
            self._notify()
        return None

    def _on_audio(self, stream: _Stream, data: bytes) -> _Drop | None:
        record = stream.record
        if self.on_audio is not None:
            self.on_audio(record.index, data)
        if not data:
            record.empty_frames += 1
            self.errors.append(f"connection {record.index}: empty binary frame")
            return None
        record.audio_bytes += len(data)
        stream.last_activity = time.monotonic()
        if stream.drop is None and self._drops:
            stream.drop = self._drops.popleft()
        if stream.drop is not None:
            limit = _aligned(stream.drop.seconds * stream.bytes_per_second)
            if stream.received + len(data) >= limit:
                self._feed(stream, data[: max(0, limit - stream.received)])
                return stream.drop
        self._feed(stream, data)
        return None

    async def _on_text(self, ws: ServerConnection, stream: _Stream, text: str) -> bool:
        """Handle a control message; True when the connection is done."""
        record = stream.record
        try:
            kind = json.loads(text).get("type", "?")
        except (ValueError, AttributeError):
            kind = "?"
        record.controls.append(kind)
        if kind == "KeepAlive":
            record.keepalives += 1
            if stream.received or not self.keepalive_needs_audio:
                stream.last_activity = time.monotonic()
        elif kind == "Finalize":
            stream.last_activity = time.monotonic()
            self._flush(stream, from_finalize=True)
        elif kind == "CloseStream":
            self._flush(stream, from_finalize=False)
            self._queue(stream, self._metadata(stream))
            await self._drain(ws, stream)
            await ws.close(1000)
            return True
        else:
            self.errors.append(f"connection {record.index}: unexpected text frame {text[:80]!r}")
        return False

    @staticmethod
    async def _drop(ws: ServerConnection, drop: _Drop) -> None:
        if drop.how == "abort":
            ws.transport.abort()
        else:
            await ws.close(*drop.close)

    async def _watch_idle(self, ws: ServerConnection, stream: _Stream) -> None:
        while True:
            remaining = stream.last_activity + self.idle_timeout - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.sleep(remaining)
        self._queue(stream, self._metadata(stream))
        await self._drain(ws, stream)
        await ws.close(1011, "NET-0001")

    # -- replies ------------------------------------------------------------------------------

    def _queue(self, stream: _Stream, text: str | bytes, out: _Out | None = None) -> None:
        out = out or _Out(0.0, text)
        out.due = time.monotonic() + self.delay
        out.text = text
        stream.outbound.put_nowait(out)

    @staticmethod
    async def _drain(ws: ServerConnection, stream: _Stream) -> None:
        """Wait until every queued reply is sent, or the connection is gone."""
        drained = asyncio.ensure_future(stream.outbound.join())
        closed = asyncio.ensure_future(ws.wait_closed())
        try:
            await asyncio.wait({drained, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in (drained, closed):
                future.cancel()

    async def _pump(self, ws: ServerConnection, stream: _Stream) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self._pump_forever(ws, stream)

    async def _pump_forever(self, ws: ServerConnection, stream: _Stream) -> None:
        while True:
            out = await stream.outbound.get()
            stream.in_flight = out
            wait = out.due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await ws.send(out.text)
            finally:
                stream.in_flight = None
                stream.outbound.task_done()
            stream.record.messages_sent += 1
            if out.final is not None:
                self._sent_final(stream, out)
            self._notify()

    def _sent_final(self, stream: _Stream, out: _Out) -> None:
        assert out.final is not None
        text, start, end, flush, audio = out.final
        sent = SentFinal(
            text, start, end, stream.record.index, flush, time.monotonic(), time.time()
        )
        stream.record.finals.append(sent)
        if out.phrase is not None:
            self._memo[hashlib.sha256(audio).digest()] = (text, stream.record.index)
        if self.on_final is not None:
            self.on_final(sent)

    def _give_back_phrases(self, stream: _Stream) -> None:
        """Replies never sent are lost; phrases their finals took go back to the queue."""
        lost = [stream.in_flight] if stream.in_flight else []
        stream.in_flight = None
        while not stream.outbound.empty():
            lost.append(stream.outbound.get_nowait())
            stream.outbound.task_done()
        self.phrases.extendleft(reversed([o.phrase for o in lost if o.phrase is not None]))

    def _metadata(self, stream: _Stream) -> str:
        return json.dumps(
            {
                "type": "Metadata",
                "transaction_key": "deprecated",
                "request_id": stream.record.request_id,
                "sha256": stream.sha256.hexdigest(),
                "created": _now_iso(),
                "duration": stream.seconds(stream.received),
                "channels": 1,
            }
        )

    # -- the fake recogniser --------------------------------------------------------------------

    def _feed(self, stream: _Stream, data: bytes) -> None:
        """Add audio, emitting interims at tick boundaries and a final at segment end."""
        stream.sha256.update(data)
        while data:
            filled = len(stream.segment)
            next_tick = (filled // stream.tick_bytes + 1) * stream.tick_bytes
            boundary = min(next_tick, stream.segment_bytes)
            take = min(boundary - filled, len(data))
            stream.segment += data[:take]
            stream.received += take
            data = data[take:]
            if len(stream.segment) < boundary:
                continue
            self._close_tick(stream)
            if len(stream.segment) >= stream.segment_bytes:
                self._final(stream, from_finalize=False)
            elif stream.interim:
                self._interim(stream)

    def _flush(self, stream: _Stream, *, from_finalize: bool) -> None:
        if stream.segment:
            self._close_tick(stream)
            self._final(stream, from_finalize=from_finalize)

    def _close_tick(self, stream: _Stream) -> None:
        """Give the audio since the last tick its word (once), and say when speech starts."""
        begin, end = stream.ticked, len(stream.segment)
        if begin == end:
            return
        stream.ticked = end
        word = tick_word(bytes(stream.segment[begin:end]), self.silence_rms)
        if word is None:
            return
        if self.extras and not stream.words:
            timestamp = stream.seconds(stream.segment_start + begin)
            self._queue(
                stream,
                json.dumps({"type": "SpeechStarted", "channel": [0, 1], "timestamp": timestamp}),
            )
        stream.words.append((word, begin, end))

    def _interim(self, stream: _Stream) -> None:
        audio = bytes(stream.segment)
        words = stream.words
        if words and self.phrases:
            fraction = len(audio) / stream.segment_bytes
            phrase = self.phrases[0].split()
            text = " ".join(phrase[: max(1, math.ceil(len(phrase) * fraction))])
            word_list = self._spread(text, stream, len(audio))
        else:
            text, word_list = self._default_words(stream, words)
        self._queue(stream, self._results(stream, text, word_list, len(audio), final=None))

    def _final(self, stream: _Stream, *, from_finalize: bool) -> None:
        audio = bytes(stream.segment)
        words = stream.words
        phrase = None
        if not words:
            text, word_list = "", []
        else:
            text, phrase = self._final_text(stream, audio)
            if text is None:
                text, word_list = self._default_words(stream, words)
            else:
                word_list = self._spread(text, stream, len(audio))
        start = stream.seconds(stream.segment_start)
        end = stream.seconds(stream.segment_start + len(audio))
        message = self._results(
            stream, text, word_list, len(audio), final="flush" if from_finalize else "end"
        )
        out = _Out(0.0, message, final=(text, start, end, from_finalize, audio), phrase=phrase)
        self._queue(stream, message, out)
        if self.extras and text:
            self._queue(
                stream,
                json.dumps({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": end}),
            )
            self._queue(stream, json.dumps({"type": "Surprise", "note": "not a Deepgram type"}))
        stream.segment_start += len(audio)
        stream.segment = bytearray()
        stream.words = []
        stream.ticked = 0

    def _final_text(self, stream: _Stream, audio: bytes) -> tuple[str | None, str | None]:
        """The text of a non-silent final: a repeat, the next phrase, or None (default words).
        The second value is the phrase taken from the queue, if any."""
        if stream.replaying:
            known = self._memo.get(hashlib.sha256(audio).digest())
            if known is not None and known[1] < stream.record.index:
                return known[0], None
            stream.replaying = False
        if self.phrases:
            phrase = self.phrases.popleft()
            return phrase, phrase
        return None, None

    def _default_words(
        self, stream: _Stream, words: list[tuple[str, int, int]]
    ) -> tuple[str, list[dict[str, Any]]]:
        base = stream.segment_start
        word_list = [
            self._word(w, w, stream.seconds(base + b), stream.seconds(base + e))
            for w, b, e in words
        ]
        return " ".join(w for w, _, _ in words), word_list

    def _spread(self, text: str, stream: _Stream, length: int) -> list[dict[str, Any]]:
        tokens = text.split()
        if not tokens:
            return []
        step = length / len(tokens)
        base = stream.segment_start
        return [
            self._word(
                token.strip(".,!?;:").lower() or token,
                token,
                stream.seconds(base + round(i * step)),
                stream.seconds(base + round((i + 1) * step)),
            )
            for i, token in enumerate(tokens)
        ]

    @staticmethod
    def _word(word: str, punctuated: str, start: float, end: float) -> dict[str, Any]:
        return {
            "word": word,
            "start": start,
            "end": end,
            "confidence": 0.99,
            "punctuated_word": punctuated,
        }

    def _results(
        self,
        stream: _Stream,
        text: str,
        words: list[dict[str, Any]],
        length: int,
        *,
        final: Literal["end", "flush"] | None,
    ) -> str:
        record = stream.record
        return json.dumps(
            {
                "type": "Results",
                "channel_index": [0, 1],
                "duration": stream.seconds(length),
                "start": stream.seconds(stream.segment_start),
                "is_final": final is not None,
                "speech_final": final == "end",
                "from_finalize": final == "flush",
                "channel": {
                    "alternatives": [
                        {"transcript": text, "confidence": 0.99 if text else 0.0, "words": words}
                    ]
                },
                "metadata": {
                    "request_id": record.request_id,
                    "model_info": {
                        "name": "2-general-nova",
                        "version": "2024-01-18.26916",
                        "arch": record.query.get("model", "nova-3"),
                    },
                    "model_uuid": MODEL_UUID,
                },
            }
        )


DeepgramDouble = DeepgramStandin  # the name the tests grew up with


# ---------------------------------------------------------------------------------------------
# Command line


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A local double of Deepgram's live API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default="test-key", help="the API key it accepts")
    parser.add_argument("--phrases", default="", help='phrases to announce, "a|b|c"')
    parser.add_argument("--idle-timeout", type=float, default=10.0)
    parser.add_argument("--segment", type=float, default=1.0, help="seconds of audio per final")
    parser.add_argument("--interim-every", type=float, default=0.25)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--silence-rms", type=float, default=200.0)
    parser.add_argument("--extras", action="store_true", help="also send SpeechStarted etc.")
    parser.add_argument("--finals-log", help="append one JSON line per final sent to this file")
    parser.add_argument(
        "--stdin-phrases", action="store_true", help="announce each line read on stdin"
    )
    return parser.parse_args(argv)


async def _serve_cli(args: argparse.Namespace, log_file: TextIO | None) -> None:
    def log_final(final: SentFinal) -> None:
        if log_file is not None:
            row = {"text": final.text, "start": final.start, "end": final.end,
                   "connection": final.connection, "sent_time": final.sent_time,
                   "sent_monotonic": final.sent_monotonic}  # fmt: skip
            log_file.write(json.dumps(row) + "\n")
            log_file.flush()

    double = DeepgramStandin(
        args.key,
        host=args.host,
        port=args.port,
        phrases=[p.strip() for p in args.phrases.split("|") if p.strip()],
        idle_timeout=args.idle_timeout,
        segment=args.segment,
        interim_every=args.interim_every,
        silence_rms=args.silence_rms,
        delay=args.delay,
        extras=args.extras,
        on_final=log_final,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with double:
        sys.stdout.write(f"READY {double.url}\n")
        sys.stdout.flush()
        reader = asyncio.create_task(_read_phrases(double)) if args.stdin_phrases else None
        await stop.wait()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def _read_phrases(double: DeepgramStandin) -> None:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if text := line.decode().strip():
            double.announce(text)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    if args.finals_log:
        with open(args.finals_log, "a", encoding="utf-8") as log_file:
            asyncio.run(_serve_cli(args, log_file))
    else:
        asyncio.run(_serve_cli(args, None))


if __name__ == "__main__":
    main()
