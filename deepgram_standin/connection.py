"""One accepted connection: audio in (at most ``intake_ratio``x real time), control
messages, results out after the processing delay, the idle timeout, scripted drops."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from deepgram_standin import messages
from deepgram_standin.audio import SAMPLE_WIDTH, aligned
from deepgram_standin.handshake import model_for
from deepgram_standin.recogniser import Cut, Recogniser, endpointing_ms
from deepgram_standin.records import ConnectionRecord, Drop, SentFinal
from deepgram_standin.timing import DEFAULT_ENDPOINTING_MS, INTAKE_BURST_SECONDS
from deepgram_standin.wording import Wording

if TYPE_CHECKING:
    from deepgram_standin.server import DeepgramStandin

EXTRAS_UTTERANCE_END_MS = 1000


@dataclass(slots=True)
class _Out:
    due: float
    text: str | bytes
    kind: str
    final: tuple[Cut, str] | None = None  # the cut and the text said for it
    phrase: str | None = None  # phrase this final took from the queue, given back if unsent


class Connection:
    def __init__(self, server: DeepgramStandin, ws: ServerConnection, record: ConnectionRecord):
        self.server = server
        self.ws = ws
        self.record = record
        query = record.query
        self.bytes_per_second = int(query["sample_rate"]) * SAMPLE_WIDTH
        self.model = model_for(query.get("model"))
        interim = query.get("interim_results") == "true"
        utterance_end = query.get("utterance_end_ms")
        if utterance_end is None and server.extras:
            utterance_end = str(EXTRAS_UTTERANCE_END_MS)
        self.recogniser = Recogniser(
            self.bytes_per_second,
            segment=server.segment,
            interim_every=server.interim_every,
            endpointing_ms=endpointing_ms(query.get("endpointing"), DEFAULT_ENDPOINTING_MS),
            utterance_end_ms=int(utterance_end) if utterance_end else None,
            interim_results=interim,
            vad_events=query.get("vad_events") == "true" or server.extras,
            silence_rms=server.silence_rms,
        )
        self.outbound: asyncio.Queue[_Out] = asyncio.Queue()
        self.in_flight: _Out | None = None
        self.last_activity = time.monotonic()
        self.created = messages.now_iso()
        self.sha256 = hashlib.sha256()
        self.wording = Wording(server, record.index, self.bytes_per_second, self.recogniser)
        self.drop: Drop | None = None
        self._credit = INTAKE_BURST_SECONDS  # seconds of audio it may read ahead of the cap
        self._credit_at = time.monotonic()

    def seconds(self, n_bytes: int) -> float:
        return round(n_bytes / self.bytes_per_second, 6)

    # -- the connection's life --------------------------------------------------------------

    async def run(self) -> None:
        pump = asyncio.create_task(self._pump())
        idle = asyncio.create_task(self._watch_idle())
        drop = None
        try:
            drop = await self._read()
        except ConnectionClosed:
            pass
        finally:
            for task in (pump, idle):
                task.cancel()
            await asyncio.gather(pump, idle, return_exceptions=True)
            self._give_back_phrases()
            if drop is not None:
                await self._cut(drop)
            record = self.record
            record.close_code, record.close_reason = self.ws.close_code, self.ws.close_reason
            if drop is not None:  # what the stand-in did, whatever the client managed to answer
                record.close_code, record.close_reason = self._drop_close(drop)
            elif record.close_code is None:  # reset without a close frame
                record.close_code, record.close_reason = 1006, "aborted"
            record.closed_monotonic = time.monotonic()

    async def _read(self) -> Drop | None:
        """Read until the client closes, CloseStream, or a scripted drop (returned)."""
        async for message in self.ws:
            if isinstance(message, bytes):
                drop = self._on_audio(message)
                if drop is not None:
                    return drop
                await self._hold_back(len(message))
            elif await self._on_text(message):
                return None
            self.server.notify()
        return None

    async def _hold_back(self, n_bytes: int) -> None:
        """Stop reading while the client is ahead of ``intake_ratio``x real time: its frames
        wait in the socket buffers, and once those are full its sends wait, as with TCP."""
        ratio = self.server.intake_ratio
        if not ratio:
            return
        now = time.monotonic()
        self._credit = min(INTAKE_BURST_SECONDS, self._credit + (now - self._credit_at) * ratio)
        self._credit_at = now
        self._credit -= n_bytes / self.bytes_per_second
        if self._credit < 0:
            wait = -self._credit / ratio
            self.record.held_back_seconds += wait
            await asyncio.sleep(wait)

    def _on_audio(self, data: bytes) -> Drop | None:
        record, server = self.record, self.server
        if server.on_audio is not None:
            server.on_audio(record.index, data)
        if not data:
            record.empty_frames += 1
            server.errors.append(f"connection {record.index}: empty binary frame")
            return None
        before = record.audio_bytes
        record.audio_bytes += len(data)
        record.intake.append((time.monotonic(), record.audio_bytes))
        self.last_activity = time.monotonic()
        self.sha256.update(data)
        if self.drop is None and server.drops:
            self.drop = server.drops.popleft()
        if self.drop is not None:
            limit = aligned(self.drop.seconds * self.bytes_per_second)
            if record.audio_bytes >= limit:
                self._results(self.recogniser.feed(data[: max(0, limit - before)]))
                return self.drop
        self._results(self.recogniser.feed(data))
        return None

    async def _on_text(self, text: str) -> bool:
        """Handle a control message; True when the connection is done."""
        record = self.record
        try:
            kind = json.loads(text).get("type", "?")
        except (ValueError, AttributeError):
            kind = "?"
        record.controls.append(kind)
        if kind == "KeepAlive":
            record.keepalives += 1
            if record.audio_bytes or not self.server.keepalive_needs_audio:
                self.last_activity = time.monotonic()
        elif kind == "Finalize":
            self.last_activity = time.monotonic()
            self._results(self.recogniser.flush(from_finalize=True))
        elif kind == "CloseStream":
            self._results(self.recogniser.flush(from_finalize=False))
            self.queue(self._metadata())
            await self._drain()
            await self.ws.close(1000)
            return True
        else:
            self.server.errors.append(f"connection {record.index}: unexpected text {text[:80]!r}")
            description = f"Could not parse the client message as a known type ({kind!r})."
            self.queue(messages.error(description, variant="SchemaError", message=text))
        return False

    async def _watch_idle(self) -> None:
        while True:
            remaining = self.last_activity + self.server.idle_timeout - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.sleep(remaining)
        self.queue(self._metadata())
        await self._drain()
        await self.ws.close(*messages.CLOSE_REASONS["NET-0001"])

    async def _cut(self, drop: Drop) -> None:
        if drop.how == "abort":
            self.ws.transport.abort()
        else:
            await self.ws.close(*self._drop_close(drop))

    @staticmethod
    def _drop_close(drop: Drop) -> tuple[int, str]:
        if drop.how == "abort":
            return 1006, "aborted"
        return messages.CLOSE_REASONS["DATA-0000" if drop.how == "undecodable" else "NET-0000"]

    # -- replies ------------------------------------------------------------------------------

    def queue(self, text: str | bytes, out: _Out | None = None) -> None:
        """Send after the processing delay, in order."""
        if out is None:
            kind = "?"
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                kind = json.loads(text).get("type", "?")
            out = _Out(0.0, text, kind)
        out.text = text
        out.due = time.monotonic() + self.server.delay
        self.outbound.put_nowait(out)

    async def _drain(self) -> None:
        """Wait until every queued reply is sent, or the connection is gone."""
        drained = asyncio.ensure_future(self.outbound.join())
        closed = asyncio.ensure_future(self.ws.wait_closed())
        try:
            await asyncio.wait({drained, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in (drained, closed):
                future.cancel()

    async def _pump(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                out = await self.outbound.get()
                self.in_flight = out
                wait = out.due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    await self.ws.send(out.text)
                finally:
                    self.in_flight = None
                    self.outbound.task_done()
                self.record.sent.append(out.kind)
                if self.server.keep_frames:
                    self.record.frames.append(out.text)
                if out.final is not None:
                    self._sent_final(out)
                self.server.notify()

    def _sent_final(self, out: _Out) -> None:
        assert out.final is not None
        cut, text = out.final
        sent = SentFinal(
            text,
            self.seconds(cut.start),
            self.seconds(cut.end),
            self.record.index,
            cut.from_finalize,
            time.monotonic(),
            time.time(),
            cut.speech_final,
        )
        self.record.finals.append(sent)
        if out.phrase is not None:
            self.server.remember(cut.audio, text, self.record.index)
        if self.server.on_final is not None:
            self.server.on_final(sent)

    def _give_back_phrases(self) -> None:
        """Replies never sent are lost; phrases their finals took go back to the queue."""
        lost = [self.in_flight] if self.in_flight else []
        self.in_flight = None
        while not self.outbound.empty():
            lost.append(self.outbound.get_nowait())
            self.outbound.task_done()
        self.server.give_back([o.phrase for o in lost if o.phrase is not None])

    def _metadata(self) -> str:
        return messages.metadata(
            request_id=self.record.request_id,
            sha256=self.sha256.hexdigest(),
            created=self.created,
            duration=self.seconds(self.record.audio_bytes),
            model=self.model,
        )

    # -- what each result says ---------------------------------------------------------------

    def _results(self, cuts: list[Cut]) -> None:
        for cut in cuts:
            if cut.kind == "speech_started":
                self.queue(messages.speech_started(self.seconds(cut.start)))
            elif cut.kind == "utterance_end":
                self.queue(messages.utterance_end(self.seconds(cut.end)))
            elif cut.kind == "interim":
                text, words = self.wording.interim(cut)
                self.queue(self._message(cut, text, words), _Out(0.0, "", "Results"))
            else:
                text, words, phrase = self.wording.final(cut)
                out = _Out(0.0, "", "Results", final=(cut, text), phrase=phrase)
                self.queue(self._message(cut, text, words), out)
                if self.server.extras and text:
                    self.queue(json.dumps({"type": "Surprise", "note": "not a Deepgram type"}))

    def _message(self, cut: Cut, text: str, words: list[dict[str, Any]]) -> str:
        return messages.results(
            start=self.seconds(cut.start),
            duration=self.seconds(cut.end - cut.start),
            transcript=text,
            words=words,
            is_final=cut.kind == "final",
            speech_final=cut.speech_final,
            from_finalize=cut.from_finalize,
            request_id=self.record.request_id,
            model=self.model,
        )
