"""Following a live HLS stream: each new segment once, in order, from the live edge.

:meth:`Follower.events` yields what the captioner acts on:

- :class:`Media`: a segment not seen before and its bytes. A segment counts as seen by its
  program-date-time when the playlist has them (so a broadcast that restarts its sequence
  numbers is followed, and nothing is fed twice), else by its media sequence number.
- :class:`Gone`: the stream stopped: the playlist 404s, is empty, ended, or brought nothing
  new for ``stall_after`` seconds. It is polled on, with backoff, until segments come again.
- :class:`Skipped`: the worker fell more than ``max_behind`` segments behind the live edge, and
  jumped to it.

On start it begins at the live edge, or, given ``resume_at`` (where the last stored caption
ended, on the stream's clock) still inside the playlist's window, at the segment holding that
moment, so a worker taking over from one that died captions what it had not finished.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from captions.worker.playlist import MediaPlaylist, Segment
from captions.worker.source import FetchFailed, Offline, Refused, StreamSource

logger = logging.getLogger(__name__)

MAX_BEHIND = 4  # segments waiting beyond this: skip to the live edge
SEGMENT_ATTEMPTS = 3
SAME_TIME_MS = 250  # a segment starting this much before the last one's end is one seen before


@dataclass(frozen=True)
class Media:
    segment: Segment
    data: bytes
    contiguous: bool  # follows the segment before it directly: the decoder may carry on
    fetched_at: int  # UTC ms, for streams without program-date-times
    resume_at: int | None = None  # feed only the audio from this stream time on


@dataclass(frozen=True)
class Gone:
    reason: str


@dataclass(frozen=True)
class Skipped:
    segments: int
    seconds: float


Event = Media | Gone | Skipped


def _end(segment: Segment) -> int | None:
    if segment.program_date_time is None:
        return None
    return segment.program_date_time + round(segment.duration * 1000)


class Follower:
    backoff_first = 1.0
    backoff_max = 10.0

    def __init__(
        self, source: StreamSource, *, resume_at: int | None = None, max_behind: int = MAX_BEHIND
    ) -> None:
        self.source = source
        self.resume_at = resume_at
        self.max_behind = max_behind
        self.allowed_behind = max_behind
        self.last: Segment | None = None  # the last segment dealt with (handed on or not)
        self._handed: Segment | None = None  # the last segment handed on
        self.live = False
        self.started = False
        self._resume_from: int | None = None

    async def events(self) -> AsyncIterator[Event]:
        backoff = self.backoff_first
        last_new = time.monotonic()
        target = 2.0  # the playlist's target duration, once one was read
        while True:
            try:
                playlist = await self.source.playlist()
            except (Offline, Refused, FetchFailed) as error:
                # One bad answer is not the end (a playlist caught mid-write reads empty): the
                # stream is gone when nothing new came for a while.
                quiet = time.monotonic() - last_new
                patience = self._stall_after(target) / (2 if isinstance(error, Offline) else 1)
                if self.live and quiet > patience:
                    self.live = self.started = False
                    yield Gone(f"{type(error).__name__}: {error}")
                elif isinstance(error, Refused):
                    logger.warning("%s refused the caption worker: %s", self.source.where, error)
                elif not self.live:
                    logger.debug("stream %s not live: %s", self.source.stream.pk, error)
                else:
                    logger.warning("%s: %s (retrying)", self.source.where, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            target = playlist.target_duration
            new = self._new(playlist)
            if len(new) > self.allowed_behind:
                skipped, new = new[:-1], new[-1:]
                yield Skipped(len(skipped), sum(s.duration for s in skipped))
            self.allowed_behind = max(self.max_behind, min(self.allowed_behind, len(new) + 1))
            for segment in new:
                media = await self._fetch(segment)
                if media is not None:
                    self.live = True
                    yield media
                self.last = segment
            if new:
                last_new, backoff = time.monotonic(), self.backoff_first
            elif self.live and (
                playlist.ended or time.monotonic() - last_new > self._stall_after(target)
            ):
                self.live = self.started = False
                yield Gone("the broadcast ended" if playlist.ended else "the playlist stalled")
            await asyncio.sleep(max(0.25, playlist.target_duration / 2))

    @staticmethod
    def _stall_after(target: float) -> float:
        """Seconds without a new segment after which a live stream counts as gone."""
        return max(3 * target, 6.0)

    def _new(self, playlist: MediaPlaylist) -> list[Segment]:
        new = [s for s in playlist.segments if self._unseen(s, playlist)]
        if self.started:
            return new
        self.started = True  # the first playlist, or the first since the stream was gone
        resume_at, self.resume_at = self.resume_at, None
        first = new[0].program_date_time if new else None
        if resume_at is not None and first is not None and first <= resume_at:
            for index, segment in enumerate(new):
                end = _end(segment)
                if end is not None and resume_at < end:
                    self.allowed_behind = max(self.max_behind, len(new) - index)
                    self._resume_from = resume_at
                    logger.info(
                        "stream %s: starting %d segment(s) behind the live edge, where the last "
                        "caption ended",
                        self.source.stream.pk,
                        len(new) - index - 1,
                    )
                    return new[index:]
        if self.last is not None and len(new) <= self.max_behind:
            return new  # back after a pause: from where it went on
        if resume_at is not None:
            logger.info(
                "stream %s: the last caption's audio is not in the playlist: starting at the "
                "live edge",
                self.source.stream.pk,
            )
        return new[-1:]

    def _unseen(self, segment: Segment, playlist: MediaPlaylist) -> bool:
        if self.last is None:
            return True
        last_end, newest = _end(self.last), playlist.segments[-1]
        by_time = last_end is not None and all(
            s.program_date_time is not None for s in playlist.segments
        )
        if by_time and not (newest.seq > self.last.seq and _end(newest) <= last_end):
            return segment.program_date_time > last_end - SAME_TIME_MS
        if newest.seq < self.last.seq:  # numbering started again: a new broadcast
            return True
        return segment.seq > self.last.seq

    async def _fetch(self, segment: Segment) -> Media | None:
        before = self._handed
        contiguous = (
            before is not None and segment.seq == before.seq + 1 and not segment.discontinuity
        )
        for attempt in range(1, SEGMENT_ATTEMPTS + 1):
            try:
                data = await self.source.segment(segment)
            except Offline:
                break  # gone from the server already
            except (Refused, FetchFailed) as error:
                logger.warning(
                    "stream %s: segment %s failed (%s), attempt %d",
                    self.source.stream.pk,
                    segment.seq,
                    error,
                    attempt,
                )
                await asyncio.sleep(0.5 * attempt)
                continue
            resume, self._resume_from = self._resume_from, None
            self._handed = segment
            return Media(segment, data, contiguous, round(time.time() * 1000), resume)
        logger.warning(
            "stream %s: segment %s skipped: it could not be fetched",
            self.source.stream.pk,
            segment.seq,
        )
        return None
