"""The Deepgram live speech-to-text engine (wire protocol: ``deepgram-live.md``).

One websocket to Deepgram per caption session. Audio handed to :meth:`DeepgramSession.send`
goes into a bounded buffer and a sender task writes it out, so a slow or broken network never
blocks the captioner's socket. When the connection drops, the session reconnects with jittered
exponential backoff and replays the audio Deepgram had not finalised yet, so no final is lost
or repeated and times stay continuous. ``docs/speech-engine.md`` explains the details.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from captions.speech.audio_buffer import SAMPLE_WIDTH, AudioBuffer, Timeline
from captions.speech.base import EngineStatus, SpeechEvent, SpeechRefused, Transcript

log = logging.getLogger("captions.speech")

State = Literal["live", "reconnecting", "delayed", "skipped"]

KEEPALIVE: Final = json.dumps({"type": "KeepAlive"})
FINALIZE: Final = json.dumps({"type": "Finalize"})
CLOSE_STREAM: Final = json.dumps({"type": "CloseStream"})
TIME_EPSILON: Final = 0.005  # seconds; tolerance when comparing Deepgram's rounded times

RECONNECTING_MESSAGE: Final = "Captions paused: reconnecting to the speech service."
BUSY_MESSAGE: Final = "Captions are delayed: the speech service is busy."
LIVE_MESSAGE: Final = "Captions are back."
SKIPPED_MESSAGE: Final = (
    "Captions skipped {seconds:.0f} s of speech to catch up with you after the interruption."
)
# Deepgram reads audio at most this much faster than real time; replay stays under it.
DEEPGRAM_MAX_SPEED: Final = 1.25
# Deepgram's advice for code-switching (language=multi).
MULTI_ENDPOINTING_MS: Final = 100


class _RedactAuthorization(logging.Filter):
    """websockets logs the handshake headers at DEBUG level; hide the Authorization value."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and str(args[0]).lower() == "authorization":
            record.args = (args[0], "[redacted]")
        return True


_wire_log = logging.getLogger("captions.speech.wire")
_wire_log.addFilter(_RedactAuthorization())


@dataclass(frozen=True, slots=True)
class Tuning:
    """Knobs of the engine; the defaults suit production, tests shrink the times."""

    buffer_seconds: float = 30.0  # audio kept while Deepgram is away (and not yet finalised)
    keepalive_interval: float = 4.0  # KeepAlive after this long without audio
    backoff_base: float = 0.5  # reconnect delay doubles from here...
    backoff_cap: float = 10.0  # ...up to here (with jitter)
    busy_backoff_base: float = 5.0  # same after HTTP 429
    busy_backoff_cap: float = 60.0
    # How long finish() waits for the last results. Deepgram answers a CloseStream with what is
    # left, which takes seconds when it is behind; a captioner's explicit stop waits this long.
    finish_timeout: float = 15.0
    open_timeout: float = 10.0  # per connection attempt
    close_timeout: float = 2.0  # for our side of a closing handshake
    ping_interval: float | None = 10.0  # websocket pings notice a dead network...
    ping_timeout: float | None = 10.0  # ...sooner than TCP does
    warning_interval: float = 10.0  # at most one "buffer full" warning this often
    endpointing_ms: int = 300  # language=multi uses MULTI_ENDPOINTING_MS
    finalize_after: float = 1.0  # Finalize once the captioner's audio stalls this long
    replay_speed: float = 1.2  # audio sent at most this much faster than real time...
    replay_burst: float = 1.0  # ...after a head start of this many seconds
    latency_budget: float = 20.0  # backlog older than this is skipped, with a status
    utterance_end_ms: int = 1000
    extra_params: Mapping[str, str | bool | int | Sequence[str]] = field(default_factory=dict)


class DeepgramEngine:
    """``SpeechEngine`` for Deepgram's live API. ``tuning`` takes the fields of :class:`Tuning`."""

    name = "deepgram"

    def __init__(self, url: str, api_key: str, model: str, **tuning: Any) -> None:
        self.url = url
        self.model = model
        self._api_key = api_key
        self.tuning = Tuning(**tuning)

    def __repr__(self) -> str:  # never show the key
        return f"DeepgramEngine(url={self.url!r}, model={self.model!r})"

    async def open(self, *, language: str, sample_rate: int = 16000) -> DeepgramSession:
        """Connect and start a session.

        Raises :class:`SpeechRefused` when Deepgram refuses the handshake for a reason that
        retrying will not fix (400, 401, 402, 403). When it is busy (429) or unreachable, the
        session is returned anyway: it buffers audio, retries in the background and reports
        ``delayed`` / ``reconnecting`` through ``results()``.
        """
        session = DeepgramSession(self, language=language, sample_rate=sample_rate)
        await session.start()
        return session

    def listen_url(self, *, language: str, sample_rate: int) -> str:
        params: list[tuple[str, str]] = [
            ("model", self.model),
            ("language", language),
            ("encoding", "linear16"),
            ("sample_rate", str(sample_rate)),
            ("channels", "1"),
            ("interim_results", "true"),
            ("smart_format", "true"),
            ("punctuate", "true"),
            ("endpointing", str(self.endpointing_ms(language))),
            ("utterance_end_ms", str(self.tuning.utterance_end_ms)),
            ("vad_events", "true"),
        ]
        for key, value in self.tuning.extra_params.items():
            values = value if isinstance(value, list | tuple) else [value]
            params.extend((key, _query_value(v)) for v in values)
        parts = urlsplit(self.url)
        query = parse_qsl(parts.query, keep_blank_values=True) + params
        return urlunsplit(parts._replace(query=urlencode(query)))

    def endpointing_ms(self, language: str) -> int:
        return MULTI_ENDPOINTING_MS if language == "multi" else self.tuning.endpointing_ms

    async def connect(self, url: str) -> ClientConnection:
        """One handshake; errors are sorted by :func:`_classify`."""
        return await connect(
            url,
            additional_headers={"Authorization": f"Token {self._api_key}"},
            open_timeout=self.tuning.open_timeout,
            close_timeout=self.tuning.close_timeout,
            ping_interval=self.tuning.ping_interval,
            ping_timeout=self.tuning.ping_timeout,
            compression=None,
            logger=_wire_log,
        )

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text


def _query_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# ---------------------------------------------------------------------------------------------
# Handshake failures


class _Retry(Exception):
    """A failure worth retrying; ``busy`` for HTTP 429."""

    def __init__(self, reason: str, *, busy: bool = False) -> None:
        super().__init__(reason)
        self.busy = busy


_REFUSALS: Final[dict[int, str]] = {
    400: (
        "The speech service rejected the caption settings (400){detail}. An administrator "
        "must check DEEPGRAM_MODEL and the stream's caption language."
    ),
    401: (
        "The speech service refused the server's credentials (401): the API key is wrong, "
        "revoked, or lacks the permission to transcribe{detail}. An administrator must fix "
        "DEEPGRAM_API_KEY or the key's permissions."
    ),
    402: (
        "The speech service account is out of credit (402). An administrator must add credit "
        "to the Deepgram project."
    ),
    403: (
        "The speech service does not allow this API key to use the model {model!r} (403). An "
        "administrator must change DEEPGRAM_MODEL or the key's permissions."
    ),
}


_CONNECT_ERRORS: Final = (OSError, TimeoutError, InvalidHandshake, InvalidURI)


def _classify(exc: BaseException, engine: DeepgramEngine) -> SpeechRefused | _Retry:
    """Turn a failed handshake into a refusal (do not retry) or a retry (maybe busy)."""
    if isinstance(exc, InvalidURI):
        log.error("DEEPGRAM_URL is not a websocket URL")
        return SpeechRefused(
            "The speech service address is not a websocket URL. An administrator must fix "
            "DEEPGRAM_URL."
        )
    if not isinstance(exc, InvalidStatus):
        return _Retry(f"{type(exc).__name__}: {engine.redact(str(exc))}")
    response = exc.response
    status = response.status_code
    err_code, err_msg = _error_body(response.body)
    if not err_msg:  # a body that is not Deepgram's JSON: the dg-error header says it too
        err_msg = response.headers.get("dg-error", "")
    request_id = response.headers.get("dg-request-id", "-")
    if status == 429:
        log.warning("Speech service busy (HTTP 429 %s, dg-request-id %s)", err_code, request_id)
        return _Retry("HTTP 429", busy=True)
    if status >= 500 or status == 408:
        return _Retry(f"HTTP {status}")
    detail = f": {engine.redact(err_msg)[:200].rstrip('. ')}" if err_msg else ""
    template = _REFUSALS.get(
        status,
        "The speech service refused the connection (HTTP {status}). An administrator must check "
        "DEEPGRAM_URL.",
    )
    message = template.format(detail=detail, model=engine.model, status=status)
    log.error(
        "Speech service refused the session: HTTP %s %s%s (dg-request-id %s)",
        status,
        err_code,
        detail,
        request_id,
    )
    return SpeechRefused(message, status=status)


def _error_body(body: bytes | bytearray) -> tuple[str, str]:
    try:
        data = json.loads(body)
    except ValueError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("err_code", "")), str(data.get("err_msg", ""))


# ---------------------------------------------------------------------------------------------
# The session

_END: Final = object()


class DeepgramSession:
    """One caption session's stream to Deepgram. Made by :meth:`DeepgramEngine.open`."""

    def __init__(self, engine: DeepgramEngine, *, language: str, sample_rate: int) -> None:
        self._engine = engine
        self._tuning = engine.tuning
        self._url = engine.listen_url(language=language, sample_rate=sample_rate)
        self._bps = sample_rate * SAMPLE_WIDTH
        cap = round(self._tuning.buffer_seconds * self._bps)
        self._buffer = AudioBuffer(max(SAMPLE_WIDTH, cap - cap % SAMPLE_WIDTH))
        self._carry = b""  # odd byte kept so frames stay sample-aligned
        self._events: asyncio.Queue[object] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._state: State = "live"
        self._streak = 0  # failed attempts, and connections that died before any Results
        self._heard = False  # the current connection delivered Results
        self._last_final_end = 0.0
        self._finishing = False
        self._ended = False
        self._runner: asyncio.Task[None] | None = None
        self._last_warning = -float("inf")
        self.skipped_seconds = 0.0  # audio skipped to stay within the latency budget

    # -- public API ---------------------------------------------------------------------------

    async def start(self) -> None:
        """First connection: a refusal raises here, anything else is retried in the background."""
        ws: ClientConnection | None = None
        try:
            ws = await self._engine.connect(self._url)
        except _CONNECT_ERRORS as exc:
            problem = _classify(exc, self._engine)
            if isinstance(problem, SpeechRefused):
                raise problem from None
            self._report_retry(problem)
        self._runner = asyncio.create_task(self._run(ws), name="deepgram-session")

    async def send(self, pcm: bytes) -> None:
        """Queue 16-bit mono PCM. Never waits for the network; never forwards empty audio."""
        if self._finishing or self._ended:
            return
        data = self._carry + pcm
        self._carry = data[len(data) - len(data) % SAMPLE_WIDTH :]
        data = data[: len(data) - len(self._carry)]
        if not data:
            return
        dropped = self._buffer.add(data)
        if dropped:
            self._warn_dropped()
        self._wake.set()

    async def finish(self) -> bool:
        """Send what is buffered, then CloseStream; wait (bounded) for the last results.

        False when the service did not send them within ``finish_timeout``.
        """
        self._finishing = True
        self._wake.set()
        runner = self._runner
        complete = True
        if runner is not None and not runner.done():
            done, _ = await asyncio.wait({runner}, timeout=self._tuning.finish_timeout)
            if not done:
                complete = False
                log.warning(
                    "Speech service did not finish within %.1f s; closing anyway",
                    self._tuning.finish_timeout,
                )
        await self.close()
        return complete

    async def close(self) -> None:
        """Stop at once: cancel and await every background task, close the connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.wait({runner})  # unlike `await runner`, never eats our own cancel
        self._end()

    async def results(self) -> AsyncIterator[SpeechEvent]:
        """Transcripts and status changes until finish()/close(); raises SpeechRefused."""
        while True:
            item = await self._events.get()
            if item is _END:
                self._events.put_nowait(_END)  # later calls end too
                return
            if isinstance(item, SpeechRefused):
                raise item
            assert isinstance(item, Transcript | EngineStatus)
            yield item

    @property
    def state(self) -> State:
        """``live`` while connected; ``delayed`` (busy) or ``reconnecting`` until it is."""
        return self._state

    @property
    def buffered_seconds(self) -> float:
        """Audio held in memory (waiting to be sent, or sent but not yet finalised)."""
        return self._buffer.size / self._bps

    @property
    def buffer_cap_seconds(self) -> float:
        return self._buffer.cap / self._bps

    @property
    def dropped_seconds(self) -> float:
        """Audio thrown away because the buffer was full; it got no captions."""
        return self._buffer.dropped / self._bps

    # -- connection loop ----------------------------------------------------------------------

    async def _run(self, ws: ClientConnection | None) -> None:
        try:
            while True:
                if ws is None:
                    ws = await self._reconnect()
                self._heard = False
                if await self._serve(ws):
                    return
                ws = None
                # a connection that dies before saying anything does not reset the backoff
                self._streak = 0 if self._heard else self._streak + 1
                self._set_state("reconnecting", RECONNECTING_MESSAGE)
        except SpeechRefused as exc:
            self._events.put_nowait(exc)
        except Exception:
            log.exception("Speech session failed")
        finally:
            self._end()

    async def _reconnect(self) -> ClientConnection:
        """Connect again after a backoff; a refusal propagates, anything else is retried."""
        busy = self._state == "delayed"
        while True:
            await asyncio.sleep(self._backoff(self._streak, busy=busy))
            try:
                ws = await self._engine.connect(self._url)
            except _CONNECT_ERRORS as exc:
                problem = _classify(exc, self._engine)
                if isinstance(problem, SpeechRefused):
                    raise problem from None
                self._report_retry(problem)
                busy = problem.busy
                self._streak += 1
                continue
            if self._buffer.dropped:
                log.warning(
                    "Speech service back; %.1f s of audio got no captions in all",
                    self.dropped_seconds,
                )
            self._set_state("live", LIVE_MESSAGE)
            return ws

    def _backoff(self, attempt: int, *, busy: bool) -> float:
        """Exponential with 'equal jitter': between half and all of base * 2**attempt."""
        base = self._tuning.busy_backoff_base if busy else self._tuning.backoff_base
        cap = self._tuning.busy_backoff_cap if busy else self._tuning.backoff_cap
        delay = min(cap, base * 2 ** max(0, attempt))
        return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not crypto

    def _report_retry(self, problem: _Retry) -> None:
        if problem.busy:
            self._set_state("delayed", BUSY_MESSAGE)
        else:
            level = logging.INFO if self._state == "reconnecting" else logging.WARNING
            log.log(level, "Speech service unreachable (%s); retrying", problem)
            self._set_state("reconnecting", RECONNECTING_MESSAGE)

    async def _serve(self, ws: ClientConnection) -> bool:
        """Stream on one connection until it closes; True when the stream ended for good."""
        self._buffer.rewind()
        timeline = Timeline(self._bps)
        sender = asyncio.create_task(self._send_loop(ws, timeline), name="deepgram-sender")
        try:
            return await self._receive_loop(ws, timeline)
        finally:
            sender.cancel()
            await asyncio.wait({sender})
            await ws.close()

    async def _send_loop(self, ws: ClientConnection, timeline: Timeline) -> None:
        """Write buffered audio, paced under Deepgram's intake speed; Finalize when the
        captioner's audio stalls; KeepAlive during silence; Finalize + CloseStream to finish."""
        loop = asyncio.get_running_loop()
        tuning = self._tuning
        started = last_audio = last_sent = loop.time()
        finalized = True  # no audio sent since the last Finalize
        try:
            while True:
                self._wake.clear()
                self._skip_stale_backlog()
                if self._buffer.has_unsent:
                    ahead = self._ahead_of_pace(timeline, loop.time() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                        continue
                    chunk = self._buffer.take()
                    timeline.note(chunk.pos, len(chunk.data))
                    await ws.send(chunk.data)
                    last_audio = last_sent = loop.time()
                    finalized = False
                    continue
                if self._finishing:
                    if not finalized:
                        await ws.send(FINALIZE)
                    await ws.send(CLOSE_STREAM)
                    await asyncio.Future()  # nothing more to say; wait to be cancelled
                now = loop.time()
                if not finalized and now - last_audio >= tuning.finalize_after:
                    # The captioner went quiet (or their audio stalled): ask for the words
                    # still pending, which would otherwise stay interim until audio resumes.
                    await ws.send(FINALIZE)
                    finalized = True
                    continue
                if now - last_sent >= tuning.keepalive_interval:
                    await self._keep_alive(ws, timeline)
                    last_sent = loop.time()
                    continue
                due = last_sent + tuning.keepalive_interval
                if not finalized:
                    due = min(due, last_audio + tuning.finalize_after)
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(due):
                        await self._wake.wait()
        except ConnectionClosed:
            return  # the receive loop sees the close and decides what next

    def _ahead_of_pace(self, timeline: Timeline, elapsed: float) -> float:
        """Seconds to wait before the next chunk so this connection's audio stays within
        ``replay_speed`` times real time (after ``replay_burst`` seconds of head start).
        Live audio never waits; a replayed backlog is sent as fast as Deepgram takes it."""
        tuning = self._tuning
        after_next = (timeline.sent + self._buffer.next_size()) / self._bps
        return (after_next - tuning.replay_burst) / tuning.replay_speed - elapsed

    def _skip_stale_backlog(self) -> None:
        """Audio that would be captioned later than the latency budget is skipped, and the
        captioner is told, rather than captioned long after it was said."""
        budget = round(self._tuning.latency_budget * self._bps)
        oldest = self._buffer.unsent_from
        if self._buffer.end - oldest <= budget:
            return
        target = self._buffer.end - budget
        skipped = self._buffer.skip_unsent(target - target % SAMPLE_WIDTH)
        if skipped:
            seconds = skipped / self._bps
            self.skipped_seconds += seconds
            log.warning("Speech backlog over %.0f s: skipped %.1f s", budget / self._bps, seconds)
            self._events.put_nowait(
                EngineStatus("skipped", SKIPPED_MESSAGE.format(seconds=max(1, seconds)))
            )

    async def _keep_alive(self, ws: ClientConnection, timeline: Timeline) -> None:
        """Deepgram ignores KeepAlive on a connection that never got audio, so the first one
        on a connection is 20 ms of silence instead (mapped to no session time)."""
        if timeline.sent:
            await ws.send(KEEPALIVE)
            return
        filler = bytes(self._bps // 50 - self._bps // 50 % SAMPLE_WIDTH)
        timeline.note_filler(self._buffer.end, len(filler))
        await ws.send(filler)

    async def _receive_loop(self, ws: ClientConnection, timeline: Timeline) -> bool:
        try:
            async for message in ws:
                self._on_message(message, timeline)
        except ConnectionClosed:
            pass
        code, reason = ws.close_code, ws.close_reason or ""
        if code == 1000 and self._finishing:
            return True
        if code in (1002, 1008):  # 1002: older servers' "could not decode the audio"
            log.error("Speech service could not decode the audio (close %s %s)", code, reason)
            raise SpeechRefused(
                f"The speech service could not decode the audio ({code}). The caption settings "
                "need fixing.",
                status=None,
            )
        log.warning("Speech service connection closed (%s %s); reconnecting", code, reason)
        return False

    def _on_message(self, message: str | bytes, timeline: Timeline) -> None:
        if isinstance(message, bytes):
            log.debug("Ignoring a binary message from the speech service")
            return
        try:
            data = json.loads(message)
        except ValueError:
            log.debug("Ignoring a non-JSON message from the speech service: %.80r", message)
            return
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "Error":
            log.warning(
                "Speech service error: %s",
                self._engine.redact(str(data.get("description") or data.get("message", "")))[:300],
            )
            return
        if kind != "Results":
            log.debug("Ignoring speech service message of type %r", kind)
            return
        try:
            start = float(data["start"])
            duration = float(data["duration"])
            text = str(data["channel"]["alternatives"][0]["transcript"]).strip()
        except (KeyError, IndexError, TypeError, ValueError):
            log.debug("Ignoring a malformed Results message: %.200r", message)
            return
        self._on_results(text, bool(data.get("is_final")), start, duration, timeline)

    def _on_results(
        self, text: str, is_final: bool, start: float, duration: float, timeline: Timeline
    ) -> None:
        """Offset times to the session, forget finalised audio, drop replayed duplicates."""
        self._heard = True
        session_start = timeline.to_session(start)
        end_pos = timeline.to_session_bytes(start + duration)
        session_end = end_pos / self._bps
        stale = session_start < self._last_final_end - TIME_EPSILON
        if is_final:
            self._buffer.confirm(end_pos - end_pos % SAMPLE_WIDTH)
            if not stale:
                self._last_final_end = max(self._last_final_end, session_end)
        if text and not stale:
            self._events.put_nowait(Transcript(text, is_final, session_start, session_end))

    # -- helpers --------------------------------------------------------------------------------

    def _set_state(self, state: State, message: str) -> None:
        if state != self._state:
            self._state = state
            self._events.put_nowait(EngineStatus(state, message))

    def _warn_dropped(self) -> None:
        now = time.monotonic()
        if now - self._last_warning >= self._tuning.warning_interval:
            self._last_warning = now
            log.warning(
                "Speech buffer full (%.1f s): dropping the oldest audio, which gets no "
                "captions (%.1f s so far)",
                self.buffer_cap_seconds,
                self.dropped_seconds,
            )

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._events.put_nowait(_END)
