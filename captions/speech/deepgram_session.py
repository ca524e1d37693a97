"""One caption session's stream to Deepgram (made by ``DeepgramEngine.open``).

Audio handed to :meth:`DeepgramSession.send` goes into a bounded buffer and a sender task writes
it out, paced, so a slow or broken network never blocks the captioner's socket. When the
connection drops, the session reconnects with jittered exponential backoff and replays the
audio Deepgram had not finalised yet, so no final is lost or repeated and times stay
continuous. ``docs/speech-engine.md`` explains the details.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from typing import TYPE_CHECKING, Final, Literal

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from captions.speech.audio_buffer import SAMPLE_WIDTH, AudioBuffer, Timeline
from captions.speech.base import EngineStatus, SpeechRefused, Transcript
from captions.speech.deepgram_refusals import CONNECT_ERRORS, Retry, classify
from captions.speech.queued_session import QueuedSession

if TYPE_CHECKING:
    from captions.speech.deepgram import DeepgramEngine

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


class DeepgramSession(QueuedSession):
    """One caption session's stream to Deepgram. Made by :meth:`DeepgramEngine.open`."""

    name = "Speech service"

    def __init__(self, engine: DeepgramEngine, *, language: str, sample_rate: int) -> None:
        super().__init__(finish_timeout=engine.tuning.finish_timeout)
        self._engine = engine
        self._tuning = engine.tuning
        self._url = engine.listen_url(language=language, sample_rate=sample_rate)
        self._bps = sample_rate * SAMPLE_WIDTH
        cap = round(self._tuning.buffer_seconds * self._bps)
        self._buffer = AudioBuffer(max(SAMPLE_WIDTH, cap - cap % SAMPLE_WIDTH))
        self._state: State = "live"
        self._streak = 0  # failed attempts, and connections that died before any Results
        self._heard = False  # the current connection delivered Results
        self._last_final_end = 0.0
        self._last_warning = -float("inf")
        self.skipped_seconds = 0.0  # audio skipped to stay within the latency budget

    # -- public API ---------------------------------------------------------------------------

    async def start(self) -> None:
        """First connection: a refusal raises here, anything else is retried in the background."""
        ws = await self._connect()
        ws = None if isinstance(ws, Retry) else ws
        self._runner = asyncio.create_task(self._run(ws), name="deepgram-session")

    async def send(self, pcm: bytes) -> None:
        """Queue 16-bit mono PCM. Never waits for the network; never forwards empty audio."""
        data = self._whole_samples(pcm)
        if not data:
            return
        dropped = self._buffer.add(data)
        if dropped:
            self._warn_dropped()
        self._wake.set()

    # finish(): send what is buffered, then CloseStream; wait (bounded) for the last results.
    # close(): stop at once; results(): transcripts and status changes (QueuedSession).

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
            ws = await self._connect()
            if isinstance(ws, Retry):
                busy = ws.busy
                self._streak += 1
                continue
            if self._buffer.dropped:
                log.warning(
                    "Speech service back; %.1f s of audio got no captions in all",
                    self.dropped_seconds,
                )
            self._set_state("live", LIVE_MESSAGE)
            return ws

    async def _connect(self) -> ClientConnection | Retry:
        """One handshake: the connection, or the failure to retry (reported); a refusal
        raises :class:`SpeechRefused`."""
        try:
            return await self._engine.connect(self._url)
        except CONNECT_ERRORS as exc:
            problem = classify(exc, model=self._engine.model, redact=self._engine.redact)
            if isinstance(problem, SpeechRefused):
                raise problem from None
            self._report_retry(problem)
            return problem

    def _backoff(self, attempt: int, *, busy: bool) -> float:
        """Exponential with 'equal jitter': between half and all of base * 2**attempt."""
        base = self._tuning.busy_backoff_base if busy else self._tuning.backoff_base
        cap = self._tuning.busy_backoff_cap if busy else self._tuning.backoff_cap
        delay = min(cap, base * 2 ** max(0, attempt))
        return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not crypto

    def _report_retry(self, problem: Retry) -> None:
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
