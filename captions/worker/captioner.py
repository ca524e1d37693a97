"""Captioning one stream from its own audio, for as long as this worker holds its lease.

:meth:`StreamCaptioner.run` follows the stream (:mod:`captions.worker.follow`), decodes each
new segment (:mod:`captions.worker.decode`) and feeds a :class:`StreamCaptionSession` opened
when the stream goes live and finished, every caption stored, when it goes away. Cancelling
the task stops it the same way and gives the lease back. A lease found taken (this worker
stalled past it) aborts at once instead: what the session still owed would repeat what the
new holder captions, as it starts from the end of the last stored caption.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from captions import lease
from captions.models import Caption
from captions.session import BYTES_PER_SECOND
from captions.speech import SpeechRefused, get_engine
from captions.worker.decode import AudioDecoder, Undecodable
from captions.worker.follow import Follower, Gone, Media, Skipped
from captions.worker.pacer import Pacer
from captions.worker.session import StreamCaptionSession
from captions.worker.source import StreamSource
from livestream.models import Stream

logger = logging.getLogger(__name__)

STOP_SECONDS = 10.0  # how long a stopping session may take to store what it owes
RETRY_REFUSED_SECONDS = 30.0  # after the speech engine refused to start
NOTICE_SECONDS = 6.0  # how long viewers see "skipped … to catch up" before "Captions on"
WAITING = "waiting for the stream to go live"
SKIPPED_MESSAGE = "Captions skipped {seconds:.0f} s of the stream to catch up with it."


class StreamCaptioner:
    def __init__(self, stream: Stream, worker: str) -> None:
        self.stream = stream
        self.worker = worker  # "<hostname>:<pid>"
        self.owner = f"caption-worker:{worker}:{uuid.uuid4().hex[:8]}"  # the lease's holder
        self.session: StreamCaptionSession | None = None
        self.pacer: Pacer | None = None
        self.decoder = AudioDecoder()
        self.lost_lease = False
        self._task: asyncio.Task | None = None
        self._retry_at = 0.0
        self._notice_until: float | None = None

    async def acquire(self) -> bool:
        return await lease.acquire(self.stream.pk, self.owner)

    async def run(self) -> None:
        """Caption until cancelled or the lease is lost. Call after :meth:`acquire` succeeded."""
        self._task = asyncio.current_task()
        keeper = lease.LeaseKeeper(self.stream.pk, self.owner, self._lease_lost)
        keeping = asyncio.get_running_loop().create_task(keeper.run())
        logger.info("caption worker %s captions stream %s", self.worker, self.stream.pk)
        try:
            await self._set_holder(WAITING)
            follower = Follower(StreamSource(self.stream), resume_at=await self._resume_point())
            async for event in follower.events():
                if isinstance(event, Media):
                    await self._media(event)
                elif isinstance(event, Gone):
                    await self._pause(event.reason)
                elif isinstance(event, Skipped):
                    await self._skipped(event)
        finally:
            await self._end_session(graceful=not self.lost_lease)
            keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeping
            if keeper.held:
                with contextlib.suppress(Exception):
                    await lease.release(self.stream.pk, self.owner)
            logger.info("caption worker %s let go of stream %s", self.worker, self.stream.pk)

    async def _lease_lost(self) -> None:
        self.lost_lease = True
        if self._task is not None:
            self._task.cancel()

    async def _resume_point(self) -> int | None:
        """Where the last stored caption's words ended, on the stream's clock."""
        return await database_sync_to_async(
            lambda: (
                Caption.objects.filter(stream_id=self.stream.pk, spoken_until__isnull=False)
                .order_by("-seq")
                .values_list("spoken_until", flat=True)
                .first()
            )
        )()

    async def _media(self, media: Media) -> None:
        if not media.contiguous:
            self.decoder.reset()
        try:
            decoded = await asyncio.to_thread(self.decoder.decode, media.data)
        except Undecodable as error:
            logger.warning(
                "stream %s: segment %s not decoded: %s", self.stream.pk, media.segment.seq, error
            )
            return
        pcm, at = decoded.pcm, self._stream_time(media) + round(decoded.offset * 1000)
        if media.resume_at is not None and media.resume_at > at:
            cut = (media.resume_at - at) * BYTES_PER_SECOND // 1000
            pcm, at = pcm[cut - cut % 2 :], media.resume_at
        if not pcm or not await self._ensure_session():
            return
        self.pacer.keep = max(2.0, 1.5 * media.segment.duration)  # about a segment may wait
        self.pacer.put(pcm, at)
        if self._notice_until is not None and time.monotonic() > self._notice_until:
            self._notice_until = None
            await self.session.tell_viewers("")

    def _stream_time(self, media: Media) -> int:
        """When the segment's first sample was, on the stream's clock (UTC ms)."""
        if media.segment.program_date_time is not None:
            return media.segment.program_date_time
        following = self.pacer.until if self.pacer is not None else None
        if media.contiguous and following is not None:
            return following
        # No program-date-time: the newest segment ended about when it was listed.
        return media.fetched_at - round(media.segment.duration * 1000)

    async def _ensure_session(self) -> bool:
        if self.session is not None:
            if not self.session.ended:
                return True
            await self._end_session(graceful=False)  # the engine gave up: open another
        if time.monotonic() < self._retry_at:
            return False
        try:
            engine = get_engine(self.stream.caption_engine or None)
            session = StreamCaptionSession(self.stream, engine, self._notify)
            await session.start()
        except SpeechRefused as refused:
            logger.warning("stream %s: the speech engine refused: %s", self.stream.pk, refused)
            self._retry_at = time.monotonic() + RETRY_REFUSED_SECONDS
            return False
        self.session, self.pacer = session, Pacer(session)
        await self._set_holder()
        return True

    async def _notify(self, message: dict) -> None:
        """What a microphone captioner's page would be told: the log, here."""
        logger.info(
            "stream %s: %s %s", self.stream.pk, message.get("state"), message.get("message", "")
        )

    async def _pause(self, reason: str) -> None:
        logger.info("stream %s is not live (%s): captions paused", self.stream.pk, reason)
        self.decoder.reset()
        await self._end_session(graceful=True)
        await self._set_holder(WAITING)

    async def _skipped(self, skipped: Skipped) -> None:
        logger.warning(
            "stream %s: %d segment(s) (%.1f s) behind the live edge: skipped to it",
            self.stream.pk,
            skipped.segments,
            skipped.seconds,
        )
        if self.session is not None:
            await self.session.tell_viewers(SKIPPED_MESSAGE.format(seconds=skipped.seconds))
            self._notice_until = time.monotonic() + NOTICE_SECONDS

    async def _end_session(self, *, graceful: bool) -> None:
        session, self.session = self.session, None
        pacer, self.pacer = self.pacer, None
        self._notice_until = None
        if session is None:
            return
        try:
            if graceful:
                await pacer.flush()
                if not await session.stop(within=STOP_SECONDS):
                    logger.warning(
                        "stream %s: the last captions were not all stored", session.stream.pk
                    )
            else:
                await pacer.close()
                await session.abort()
        except Exception:
            logger.exception("stream %s: the caption session failed to stop", self.stream.pk)
            with contextlib.suppress(Exception):
                await pacer.close()
                await session.abort()

    async def _set_holder(self, note: str = "") -> None:
        """Who holds the stream, for the admin: this worker, since now, and what it waits for."""
        engine = self.stream.caption_engine or settings.CAPTIONS_ENGINE
        holder = {
            "by": f"caption worker {self.worker}",
            "since": timezone.now().isoformat(),
            "engine": engine,
            "note": note,
        }
        with contextlib.suppress(Exception):
            await lease.set_holder(self.stream.pk, holder)
