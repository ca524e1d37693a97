"""One captioner per stream, across processes: a lease in the shared cache.

The holder refreshes it every third of ``CAPTIONS_LEASE_SECONDS``; if its process dies, the
lease expires after ``CAPTIONS_LEASE_SECONDS`` and someone else may caption. The current
viewer-facing status travels with it, so viewers who join see whether captions are on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def ttl() -> int:
    return settings.CAPTIONS_LEASE_SECONDS


def refresh_interval() -> float:
    return ttl() / 3


def _key(stream_id: int) -> str:
    return f"captions:lease:{stream_id}"


def _status_key(stream_id: int) -> str:
    return f"captions:status:{stream_id}"


def _holder_key(stream_id: int) -> str:
    return f"captions:holder:{stream_id}"


async def acquire(stream_id: int, holder: str) -> bool:
    return await cache.aadd(_key(stream_id), holder, ttl())


async def holder(stream_id: int) -> str | None:
    return await cache.aget(_key(stream_id))


async def refresh(stream_id: int, owner: str) -> bool:
    """Extend the lease; False if it is no longer ours (it expired and was taken)."""
    current = await cache.aget(_key(stream_id))
    if current is None:
        return await acquire(stream_id, owner)
    if current != owner:
        return False
    await cache.atouch(_key(stream_id), ttl())
    await cache.atouch(_status_key(stream_id), ttl())
    await cache.atouch(_holder_key(stream_id), ttl())
    return True


async def release(stream_id: int, owner: str) -> None:
    if await cache.aget(_key(stream_id)) == owner:
        await cache.adelete_many([_key(stream_id), _status_key(stream_id), _holder_key(stream_id)])


async def set_status(stream_id: int, status: dict) -> None:
    await cache.aset(_status_key(stream_id), status, ttl())


async def get_status(stream_id: int) -> dict | None:
    return await cache.aget(_status_key(stream_id))


async def set_holder(stream_id: int, holder: dict) -> None:
    """Who captions the stream, for the people who run the event (never sent to viewers):
    ``{"by": "…", "since": "<ISO time>", "engine": "…"}``."""
    await cache.aset(_holder_key(stream_id), holder, ttl())


def holders(stream_ids: list[int]) -> dict[int, dict]:
    """Who captions each of these streams now (synchronous, for the admin)."""
    found = cache.get_many([_holder_key(stream_id) for stream_id in stream_ids])
    return {sid: found[_holder_key(sid)] for sid in stream_ids if _holder_key(sid) in found}


class LeaseKeeper:
    """Keeps a held lease: refreshes it every :func:`refresh_interval` until cancelled.

    When the lease turns out to be someone else's (it lapsed and was taken), ``held`` becomes
    False, ``on_lost`` is awaited and :meth:`run` returns. A cache that does not answer is not
    a loss: the holder keeps captioning and tries again at the next interval.
    """

    def __init__(self, stream_id: int, owner: str, on_lost: Callable[[], Awaitable[None]]) -> None:
        self.stream_id = stream_id
        self.owner = owner
        self.on_lost = on_lost
        self.held = True  # made after a successful acquire()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(refresh_interval())
            try:
                ours = await refresh(self.stream_id, self.owner)
            except Exception:
                # The cache (Redis) is unreachable: keep captioning, try again shortly.
                logger.warning(
                    "could not refresh the captioning lease of stream %s", self.stream_id
                )
                continue
            if not ours:
                logger.warning("lost the captioning lease for stream %s", self.stream_id)
                self.held = False
                await self.on_lost()
                return
