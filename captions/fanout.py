"""Per-process fan-out of a stream's captions to the viewers connected to this process.

Instead of one channel-layer member per viewer (N layer messages per caption), each process
joins the stream's group once and relays every event, already JSON-encoded by the sender, to
its local viewers: one layer message per process per caption, and one encoding in all. Under
Daphne the relay also frames each message once and writes the frame to each socket
(captions/frames.py), handing the event loop back every ``YIELD_EVERY`` viewers so that
handshakes and other sockets are not kept waiting behind a large audience.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Protocol

from channels.layers import get_channel_layer

from captions.events import BroadcastEvent
from captions.frames import Outgoing

logger = logging.getLogger(__name__)


class Viewer(Protocol):
    def offer(self, message: Outgoing) -> bool:
        """Write the message at once if this viewer can; False if it needs :meth:`deliver`."""

    async def deliver(self, message: Outgoing) -> None:
        """Send the message through ASGI."""


# Group membership is renewed this often: channels_redis expires it after a day, and a
# restarted Redis (which keeps nothing on disk) has forgotten it altogether.
GROUP_RENEW_SECONDS = 15
# Viewers written to between two turns of the event loop.
YIELD_EVERY = 64


class StreamRelay:
    """This process's member of one stream's group."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.viewers: dict[Viewer, None] = {}  # an ordered set
        self._task: asyncio.Task | None = None
        self._channel: str | None = None
        self._layer = get_channel_layer()
        self.ready = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._channel is not None:
            await self._layer.group_discard(self.group, self._channel)

    async def _run(self) -> None:
        self._channel = await self._layer.new_channel("relay.")
        await self._layer.group_add(self.group, self._channel)
        self.ready.set()
        renewal = asyncio.get_running_loop().create_task(self._renew())
        try:
            await self._receive_forever()
        finally:
            renewal.cancel()

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(GROUP_RENEW_SECONDS)
            try:
                await self._layer.group_add(self.group, self._channel)
            except Exception:
                logger.warning("could not renew %s in the channel layer", self.group)

    async def _receive_forever(self) -> None:
        while True:
            try:
                event: BroadcastEvent = await self._layer.receive(self._channel)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # The layer's backend went away (e.g. Redis restarted): rejoin and carry on;
                # viewers notice the gap in sequence numbers and refetch.
                logger.warning(
                    "relay for %s lost its channel layer (%r); rejoining", self.group, error
                )
                await asyncio.sleep(1)
                try:
                    await self._layer.group_add(self.group, self._channel)
                except Exception:
                    logger.debug("rejoin of %s failed", self.group, exc_info=True)
                continue
            if event.get("type") == "stream.broadcast":
                await self._deliver(Outgoing(event["payload"], event.get("seq")))

    async def _deliver(self, message: Outgoing) -> None:
        for count, viewer in enumerate(list(self.viewers), 1):
            try:
                if not viewer.offer(message):
                    await viewer.deliver(message)
            except Exception:
                logger.debug("dropping a viewer that failed to receive", exc_info=True)
                self.viewers.pop(viewer, None)
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)


class Fanout:
    def __init__(self) -> None:
        self._relays: dict[str, StreamRelay] = {}
        self._lock = asyncio.Lock()

    async def join(self, group: str, viewer: Viewer) -> None:
        async with self._lock:
            relay = self._relays.get(group)
            if relay is None:
                relay = self._relays[group] = StreamRelay(group)
                relay.start()
            relay.viewers[viewer] = None
        await relay.ready.wait()

    async def leave(self, group: str, viewer: Viewer) -> None:
        async with self._lock:
            relay = self._relays.get(group)
            if relay is None:
                return
            relay.viewers.pop(viewer, None)
            if not relay.viewers:
                del self._relays[group]
                await relay.stop()

    def viewer_count(self, group: str) -> int:
        relay = self._relays.get(group)
        return len(relay.viewers) if relay else 0


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout] = weakref.WeakKeyDictionary()


def fanout() -> Fanout:
    """This event loop's fan-out (one per server process)."""
    loop = asyncio.get_running_loop()
    if loop not in _fanouts:
        _fanouts[loop] = Fanout()
    return _fanouts[loop]
