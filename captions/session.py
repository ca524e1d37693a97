"""A caption session: one captioner's audio → the speech engine → stored finals → viewers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.utils import timezone

from captions import lease
from captions.events import VIEWER_MESSAGES, CaptionMessage, StatusMessage, status_message
from captions.finals import FinalsWriter
from captions.models import Caption
from captions.outbox import Outbox
from captions.speech import EngineStatus, SpeechEngine, SpeechRefused, Transcript
from livestream.metrics import CAPTIONS, SPEECH_EVENTS, SPEECH_SESSIONS
from livestream.models import Stream

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
BYTES_PER_SECOND = SAMPLE_RATE * 2
# Interim captions reach viewers at most this often; the latest one wins.
INTERIM_INTERVAL = 0.2
# After the engine finished, how long its last results may take to be stored and sent.
DRAIN_SECONDS = 10.0

DATABASE_DELAYED = (
    "Captions are delayed: the database is not answering. Nothing is lost; they are saved "
    "and sent as soon as it answers."
)

Notify = Callable[[dict], Awaitable[None]]


class CaptionSession:
    def __init__(self, stream: Stream, engine: SpeechEngine, notify: Notify) -> None:
        self.stream = stream
        self.engine = engine
        self.notify = notify  # status messages for the captioner
        self.started_at = timezone.now()
        self._speech = None
        self._pump: asyncio.Task | None = None
        self._interim_task: asyncio.Task | None = None
        self._pending_interim: CaptionMessage | None = None
        self._last_interim_at = 0.0
        self._outbox = Outbox(stream.group_name)
        self._finals = FinalsWriter(
            stream, self.started_at, on_stored=self._on_stored, on_delayed=self._on_db_delayed
        )
        self.finals = 0
        self.refused = False  # the speech service refused us for good (the captioner was told)
        self._counted = False  # in the open-sessions gauge
        # When the first sample of this session's audio was captured, in UTC milliseconds on
        # the server's clock: told by the captioner's page, else estimated on arrival.
        self.capture_started_at: int | None = None
        self._arrival_estimate: int | None = None
        self.timeline_offset = 0.0  # this session's start on the stream's transcript timeline
        self._origin = self.started_at

    @property
    def engine_state(self) -> str:
        """``live`` once the speech service listens; ``delayed``/``reconnecting`` before."""
        return getattr(self._speech, "state", "live")

    async def start(self) -> None:
        """Open the speech engine. Raises SpeechRefused when the service refuses us."""
        origin = await database_sync_to_async(Caption.objects.timeline_origin)(self.stream.pk)
        if origin is not None:
            self._origin = origin
            self.timeline_offset = (self.started_at - origin).total_seconds()
        try:
            self._speech = await self.engine.open(
                language=self.stream.caption_language, sample_rate=SAMPLE_RATE
            )
        except SpeechRefused:
            await self._tell_viewers("unavailable", captioning=False)
            raise
        self._pump = asyncio.get_running_loop().create_task(self._pump_results())
        SPEECH_SESSIONS.inc()
        self._counted = True
        if self.engine_state != "live":
            SPEECH_EVENTS.labels(kind=self.engine_state).inc()
        await self._tell_viewers(self.engine_state, captioning=True)

    async def feed(self, pcm: bytes) -> None:
        if pcm and self._speech is not None:
            if self._arrival_estimate is None:  # its first sample: one frame's length ago
                now = round(time.time() * 1000)
                self._arrival_estimate = now - round(len(pcm) * 1000 / BYTES_PER_SECOND)
            await self._speech.send(pcm)

    def spoken(self, seconds: float) -> int | None:
        """UTC milliseconds at which the audio ``seconds`` into this session was captured."""
        base = self.capture_started_at or self._arrival_estimate
        return None if base is None else base + round(seconds * 1000)

    async def stop(self, within: float | None = None) -> bool:
        """Flush the engine, store and deliver its last results, tell viewers captions paused.

        ``within`` bounds the wait for the engine (else the engine's own limit). Returns False
        when something was given up: results the engine never sent, finals never stored.
        """
        complete = await self._finish_engine(within)
        if self._pump is not None:
            done, _ = await asyncio.wait({self._pump}, timeout=within or DRAIN_SECONDS)
            complete = complete and bool(done)
        await self._cancel_tasks()
        unsaved = await self._finals.flush(within=within or DRAIN_SECONDS)
        await self._tell_viewers("stopped", captioning=False)
        await self._outbox.close(within=min(5.0, within or 5.0))
        return complete and not unsaved

    async def abort(self) -> None:
        """Stop at once, without waiting for the engine's last results."""
        await self._close_engine()
        await self._cancel_tasks()
        await self._finals.flush(within=0)
        with contextlib.suppress(Exception):
            await self._tell_viewers("stopped", captioning=False)
        await self._outbox.close(within=0)

    async def wait_done(self) -> None:
        """Returns when the engine's results end (it finished, or gave up on us)."""
        if self._pump is not None:
            await asyncio.wait({self._pump})

    async def _finish_engine(self, within: float | None) -> bool:
        if self._speech is None:
            return True
        try:
            async with asyncio.timeout(within):
                return await self._speech.finish() is not False
        except TimeoutError:
            logger.warning("speech engine did not finish within %.1f s", within)
        except Exception:
            logger.exception("speech engine failed while finishing")
        await self._close_engine()
        return False

    async def _close_engine(self) -> None:
        close = getattr(self._speech, "close", None)
        if close is not None:
            try:
                await close()
            except Exception:
                logger.exception("speech engine failed while closing")

    async def _cancel_tasks(self) -> None:
        if self._counted:
            self._counted = False
            SPEECH_SESSIONS.dec()
        await self._cancel_interim()
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump

    async def _pump_results(self) -> None:
        try:
            async for event in self._speech.results():
                if isinstance(event, Transcript):
                    await self._on_transcript(event)
                elif isinstance(event, EngineStatus):
                    await self._on_engine_status(event)
        except SpeechRefused as refused:
            logger.warning("speech service refused stream %s: %s", self.stream.pk, refused)
            self.refused = True
            SPEECH_EVENTS.labels(kind="refused").inc()
            await self.notify({"type": "status", "state": "error", "message": str(refused)})
            await self._tell_viewers("unavailable", captioning=False)

    async def _on_engine_status(self, status: EngineStatus) -> None:
        if status.state != "live":
            SPEECH_EVENTS.labels(kind="busy" if status.state == "delayed" else status.state).inc()
        await self.notify({"type": "status", "state": status.state, "message": status.message})
        await self._tell_viewers(status.state, captioning=True)

    async def _on_db_delayed(self, delayed: bool) -> None:
        state = "delayed" if delayed else "live"
        message = DATABASE_DELAYED if delayed else "Captions are live."
        await self.notify({"type": "status", "state": state, "message": message})
        await self._tell_viewers(state, captioning=True)

    async def _on_transcript(self, transcript: Transcript) -> None:
        text = transcript.text.strip()
        if not text:
            return
        if transcript.is_final:
            await self._cancel_interim()
            await self._finals.add(
                text,
                transcript.start,
                transcript.end,
                self.spoken(transcript.start),
                self.spoken(transcript.end),
            )
            return
        self._pending_interim = {
            "type": "caption",
            "seq": None,
            "text": text,
            "is_final": False,
            "start": round(self.timeline_offset + transcript.start, 3),
            "end": round(self.timeline_offset + transcript.end, 3),
            "spoken_at": self.spoken(transcript.start),
            "spoken_until": self.spoken(transcript.end),
        }
        if self._interim_task is None or self._interim_task.done():
            self._interim_task = asyncio.get_running_loop().create_task(self._send_interim())

    async def _on_stored(self, caption: Caption) -> None:
        self.finals += 1
        CAPTIONS.labels(stream=self.stream.slug, kind="final").inc()
        await self._outbox.send(caption.as_message(self._origin))

    async def _send_interim(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._last_interim_at + INTERIM_INTERVAL - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        message, self._pending_interim = self._pending_interim, None
        if message is not None:
            self._last_interim_at = loop.time()
            CAPTIONS.labels(stream=self.stream.slug, kind="interim").inc()
            await self._outbox.send(message)

    async def _cancel_interim(self) -> None:
        self._pending_interim = None
        if self._interim_task is not None and not self._interim_task.done():
            self._interim_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._interim_task

    async def _tell_viewers(self, state: str, *, captioning: bool) -> None:
        status: StatusMessage = status_message(
            captioning=captioning,
            engine=self.engine.name,
            message=VIEWER_MESSAGES.get(state, ""),
            last_seq=self.stream.last_caption_seq,
        )
        if captioning:
            try:
                await lease.set_status(self.stream.pk, status)
            except Exception:
                logger.warning("could not store the caption status of stream %s", self.stream.pk)
        await self._outbox.send(status)
