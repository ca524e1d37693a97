"""Messages to a stream's viewers, through the channel layer, in order, never lost to a short
outage of the layer's backend (e.g. Redis restarting).

Finals and statuses the layer refused are resent in order once it answers again. Past
``MAX_UNSENT`` the oldest go: viewers refetch finals by sequence number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from channels.layers import get_channel_layer

from captions.events import BroadcastEvent, CaptionMessage, StatusMessage, broadcast_event

logger = logging.getLogger(__name__)

MAX_UNSENT = 500
RESEND_INTERVAL = 1.0


class Outbox:
    def __init__(self, group: str) -> None:
        self.group = group
        self._layer = get_channel_layer()
        self._unsent: list[BroadcastEvent] = []
        self._resend: asyncio.Task | None = None
        self._sending = asyncio.Lock()

    async def send(self, message: CaptionMessage | StatusMessage) -> None:
        if message["type"] == "caption" and not message["is_final"] and self._unsent:
            return  # a stale interim is not worth queueing behind undelivered finals
        self._unsent.append(broadcast_event(message))
        del self._unsent[:-MAX_UNSENT]
        await self._flush()

    async def close(self, within: float) -> None:
        """Give undelivered messages a last chance, then let viewers refetch by seq."""
        if self._resend is None:
            return
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._resend), timeout=within)
        self._resend.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._resend

    async def _flush(self) -> bool:
        async with self._sending:
            while self._unsent:
                try:
                    await self._layer.group_send(self.group, self._unsent[0])
                except Exception:
                    logger.warning(
                        "channel layer unavailable; %d message(s) for %s wait",
                        len(self._unsent),
                        self.group,
                    )
                    if self._resend is None or self._resend.done():
                        self._resend = asyncio.get_running_loop().create_task(self._retry())
                    return False
                self._unsent.pop(0)
            return True

    async def _retry(self) -> None:
        while self._unsent:
            await asyncio.sleep(RESEND_INTERVAL)
            if await self._flush():
                return
