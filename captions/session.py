"""A caption session: one captioner's audio → the speech engine → stored finals → viewers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from captions import lease
from captions.events import (
    BroadcastEvent,
    CaptionMessage,
    StatusMessage,
    broadcast_event,
    status_message,
)
from captions.models import Caption
from captions.speech import EngineStatus, SpeechEngine, SpeechRefused, Transcript
from livestream.models import Stream

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# Interim captions reach viewers at most this often; the latest one wins.
INTERIM_INTERVAL = 0.2
# Finals and statuses the channel layer refused (e.g. Redis restarting), resent in order once it
# answers again. Past this many the oldest go: viewers refetch them by sequence number.
MAX_UNSENT = 500
RESEND_INTERVAL = 1.0

VIEWER_MESSAGES = {
    "live": "",
    "reconnecting": "",
    "delayed": "Captions are delayed.",
    "stopped": "Captions are paused.",
    "unavailable": "Captions are unavailable right now.",
}

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
        self._layer = get_channel_layer()
        self._unsent: list[BroadcastEvent] = []
        self._resend: asyncio.Task | None = None
        self._sending = asyncio.Lock()
        self.finals = 0

    async def start(self) -> None:
        """Open the speech engine. Raises SpeechRefused when the service refuses us."""
        try:
            self._speech = await self.engine.open(
                language=self.stream.caption_language, sample_rate=SAMPLE_RATE
            )
        except SpeechRefused:
            await self._tell_viewers("unavailable", captioning=False)
            raise
        self._pump = asyncio.get_running_loop().create_task(self._pump_results())
        await self._tell_viewers("live", captioning=True)

    async def feed(self, pcm: bytes) -> None:
        if pcm and self._speech is not None:
            await self._speech.send(pcm)

    async def stop(self) -> None:
        """Flush the engine, deliver its last results, and tell viewers captions paused."""
        if self._speech is not None:
            try:
                await self._speech.finish()
            except Exception:
                logger.exception("speech engine failed while finishing")
        if self._pump is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._pump, timeout=10)
        await self._cancel_interim()
        await self._tell_viewers("stopped", captioning=False)
        if self._resend is not None:
            # Give undelivered messages a last chance, then let viewers refetch by seq.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._resend), timeout=5)
            self._resend.cancel()

    async def abort(self) -> None:
        """Stop without waiting for the engine (the consumer is going away)."""
        for task in (self._pump, self._interim_task, self._resend):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    @property
    def done(self) -> bool:
        return self._pump is not None and self._pump.done()

    async def _pump_results(self) -> None:
        try:
            async for event in self._speech.results():
                if isinstance(event, Transcript):
                    await self._on_transcript(event)
                elif isinstance(event, EngineStatus):
                    await self._on_engine_status(event)
        except SpeechRefused as refused:
            logger.warning("speech service refused stream %s: %s", self.stream.pk, refused)
            await self.notify({"type": "status", "state": "error", "message": str(refused)})
            await self._tell_viewers("unavailable", captioning=False)
            raise

    async def _on_engine_status(self, status: EngineStatus) -> None:
        await self.notify({"type": "status", "state": status.state, "message": status.message})
        await self._tell_viewers(status.state, captioning=True)

    async def _on_transcript(self, transcript: Transcript) -> None:
        text = transcript.text.strip()
        if not text:
            return
        if transcript.is_final:
            await self._cancel_interim()
            caption = await database_sync_to_async(Caption.store)(
                self.stream,
                text=text,
                start=transcript.start,
                end=transcript.end,
                session_started_at=self.started_at,
            )
            self.finals += 1
            await self._broadcast(caption.as_message())
            return
        self._pending_interim = {
            "type": "caption",
            "seq": None,
            "text": text,
            "is_final": False,
            "start": round(transcript.start, 3),
            "end": round(transcript.end, 3),
        }
        if self._interim_task is None or self._interim_task.done():
            self._interim_task = asyncio.get_running_loop().create_task(self._send_interim())

    async def _send_interim(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._last_interim_at + INTERIM_INTERVAL - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        message, self._pending_interim = self._pending_interim, None
        if message is not None:
            self._last_interim_at = loop.time()
            await self._broadcast(message)

    async def _cancel_interim(self) -> None:
        self._pending_interim = None
        if self._interim_task is not None and not self._interim_task.done():
            self._interim_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._interim_task

    async def _tell_viewers(self, state: str, *, captioning: bool) -> None:
        status: StatusMessage = status_message(
            captioning=captioning, engine=self.engine.name, message=VIEWER_MESSAGES.get(state, "")
        )
        if captioning:
            await lease.set_status(self.stream.pk, status)
        await self._broadcast(status)

    async def _broadcast(self, message: CaptionMessage | StatusMessage) -> None:
        if message["type"] == "caption" and not message["is_final"] and self._unsent:
            return  # a stale interim is not worth queueing behind undelivered finals
        self._unsent.append(broadcast_event(message))
        del self._unsent[:-MAX_UNSENT]
        await self._flush()

    async def _flush(self) -> bool:
        async with self._sending:
            return await self._send_unsent()

    async def _send_unsent(self) -> bool:
        while self._unsent:
            try:
                await self._layer.group_send(self.stream.group_name, self._unsent[0])
            except Exception:
                logger.warning(
                    "channel layer unavailable; %d message(s) for stream %s wait",
                    len(self._unsent),
                    self.stream.pk,
                )
                if self._resend is None or self._resend.done():
                    self._resend = asyncio.get_running_loop().create_task(self._resend_later())
                return False
            self._unsent.pop(0)
        return True

    async def _resend_later(self) -> None:
        while self._unsent:
            await asyncio.sleep(RESEND_INTERVAL)
            if await self._flush():
                return
