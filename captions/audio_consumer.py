"""``/ws/watch/<slug>/audio/``: the captioner's microphone, as 16 kHz 16-bit mono PCM.

One captioner per stream: the socket holds the stream's captioning lease from accept to
release. Whatever ends the socket, :meth:`AudioConsumer.release` gives the lease back, finishes
(or, when that takes too long, aborts) the speech session and cancels the background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from captions import lease, limits
from captions.closing import Close
from captions.consumers import GatedConsumer
from captions.session import CaptionSession
from captions.speech import SpeechRefused, get_engine
from gate.grant import Grant
from gate.models import AccessCode

logger = logging.getLogger(__name__)

# How long a socket that ends in error still waits for the speech service's last results
# before giving up on them: the next captioner should not wait behind a broken client.
ERROR_FINISH_SECONDS = 1.0
# The same for a socket that vanished (a closed tab, a lost network): below Daphne's
# application close timeout (10 s), after which it would cancel the clean-up half-way.
GONE_FINISH_SECONDS = 6.0
# A capture time further than this from the server's now is refused (a broken clock, or a lie).
MAX_CLOCK_SKEW_MS = 120_000


def now_ms() -> int:
    return round(time.time() * 1000)


class AudioConsumer(GatedConsumer):
    server_error_message = "Something went wrong on the server: captions stopped. Start again."
    session: CaptionSession | None = None
    tasks: tuple[asyncio.Task, ...] = ()
    holder: str = ""
    has_lease = False
    finish_within: float | None = GONE_FINISH_SECONDS  # None: as long as the engine needs

    def allowed(self, grant: Grant) -> bool:
        return grant.can_caption

    async def connect(self) -> None:
        self.holder = uuid.uuid4().hex  # who holds the captioning lease
        await self.admit()
        await self.accept()
        if not await lease.acquire(self.stream.pk, self.holder):
            await self.end(Close.BUSY, "Someone else is already captioning this stream.", "busy")
        self.has_lease = True
        await lease.set_holder(self.stream.pk, await self._holder_info())
        self.bytes_in = limits.TokenBucket(limits.AUDIO_BYTES_PER_SECOND, limits.AUDIO_BYTES_BURST)
        self.frames_in = limits.TokenBucket(
            limits.AUDIO_MESSAGES_PER_SECOND, limits.AUDIO_MESSAGES_BURST
        )
        loop = asyncio.get_running_loop()
        keeper = lease.LeaseKeeper(self.stream.pk, self.holder, self._lease_lost)
        self.tasks = (loop.create_task(keeper.run()),)
        await self.say("connecting", "Connecting to the speech service…")
        try:
            engine = get_engine(self.stream.caption_engine or None)
            session = CaptionSession(self.stream, engine, self.send_json)
            await session.start()
        except SpeechRefused as refused:
            logger.warning("captions for stream %s refused: %s", self.stream.pk, refused)
            await self.end(Close.SERVER_ERROR, str(refused))
        self.session = session
        self.tasks += (loop.create_task(self._watch_session(session)),)
        if session.engine_state == "live":
            await self.say("live", "Captions are live.")
        # Otherwise the engine is still connecting (busy, unreachable): its own status went to
        # the captioner, and "live" follows when it connects.

    async def _holder_info(self) -> dict:
        if self.grant.code_id is None:
            user = self.scope.get("user")
            by = f"staff user {getattr(user, 'username', '?')}"
        else:
            label = await database_sync_to_async(
                lambda: (
                    AccessCode.objects.filter(pk=self.grant.code_id)
                    .values_list("label", flat=True)
                    .first()
                )
            )()
            by = f"captioner code {label or self.grant.code_id}"
        engine = self.stream.caption_engine or settings.CAPTIONS_ENGINE
        return {"by": by, "since": timezone.now().isoformat(), "engine": engine}

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.frames_in.take():
            await self._error(Close.FLOOD, "Too many messages: captions stopped.")
        if text_data is not None:
            await self._control(text_data)
            return
        if len(bytes_data) > limits.MAX_AUDIO_FRAME:
            await self._error(
                Close.TOO_LARGE, f"Audio frames may be at most {limits.MAX_AUDIO_FRAME} bytes."
            )
        if not bytes_data:
            # Never forwarded: an empty frame would end the speech service's stream.
            await self._error(Close.UNSUPPORTED, "Empty audio frames are not allowed.")
        if len(bytes_data) % 2:
            await self._error(
                Close.UNSUPPORTED, "Audio must be 16-bit PCM (an even number of bytes)."
            )
        if not self.bytes_in.take(len(bytes_data)):
            await self._error(Close.FLOOD, "Audio arrived faster than real time: captions stopped.")
        await self.session.feed(bytes_data)

    async def _control(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "clock":
            await self._clock(message)
            return
        if kind == "capture":
            await self._capture(message)
            return
        if kind != "stop":
            await self._error(
                Close.UNSUPPORTED,
                'Text frames must be JSON control messages such as {"type": "stop"}.',
            )
        await self.say("stopping", "Finishing the last captions…")
        self.finish_within = None  # the captioner asked: wait for the engine's last results
        complete = await self._finish()
        if complete:
            await self.end(Close.NORMAL, "Captions stopped.", "stopped")
        await self.end(
            Close.NORMAL,
            "Captions stopped. The last few seconds could not be captioned in time.",
            "stopped",
        )

    async def _clock(self, message: dict) -> None:
        """One NTP-style exchange: the page measures its clock's offset from the server's."""
        t0 = message.get("t0")
        if not isinstance(t0, int | float) or isinstance(t0, bool):
            await self._error(Close.UNSUPPORTED, "A clock message needs a numeric t0.")
        await self.send_json({"type": "clock", "t0": t0, "server": now_ms()})

    async def _capture(self, message: dict) -> None:
        """When this socket's audio began, on the server's clock: captions carry it on."""
        started = message.get("started_at")
        plausible = (
            isinstance(started, int | float)
            and not isinstance(started, bool)
            and abs(started - now_ms()) <= MAX_CLOCK_SKEW_MS
        )
        if not plausible:
            await self._error(
                Close.UNSUPPORTED,
                "The capture time is not plausible: check this computer's clock.",
            )
        self.session.capture_started_at = round(started)

    async def _error(self, code: Close, message: str) -> None:
        self.finish_within = ERROR_FINISH_SECONDS
        await self.end(code, message)

    async def _watch_session(self, session: CaptionSession) -> None:
        """The speech session ended without being asked to: close and say why."""
        await session.wait_done()
        if self.session is not session:
            return  # it was asked to stop
        if session.refused:  # the captioner was told why already
            await self.close_with(Close.SERVER_ERROR)
        else:
            await self.close_with(
                Close.SERVER_ERROR, "The speech service stopped unexpectedly: captions stopped."
            )

    async def _lease_lost(self) -> None:
        self.has_lease = False
        await self.close_with(Close.BUSY, "Another captioner took over this stream.")

    async def _finish(self) -> bool:
        """End the speech session; True when every result it owed arrived."""
        session, self.session = self.session, None
        if session is None:
            return True
        try:
            return await session.stop(within=self.finish_within)
        except Exception:
            logger.exception("the caption session of stream %s failed to stop", self.stream.pk)
            await session.abort()
            return False

    async def release(self) -> None:
        current = asyncio.current_task()
        if self.closing_code not in (None, Close.NORMAL):
            # Ending in error: the next captioner should not wait for this one's last words.
            self.finish_within = ERROR_FINISH_SECONDS
        try:
            await self._finish()
        finally:
            for task in self.tasks:
                if task is not current:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            if self.has_lease:
                self.has_lease = False
                await lease.release(self.stream.pk, self.holder)
