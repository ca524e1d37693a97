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
import time
import weakref
from typing import Protocol

from channels.layers import get_channel_layer
from django.conf import settings

from captions import lease
from captions.events import VIEWER_MESSAGES, BroadcastEvent, encode, status_message
from captions.frames import Outgoing
from livestream.metrics import FANOUT_LATENCY
from livestream.models import group_name

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
    """This process's member of one stream's group.

    It also notices a captioner whose server process died: that process can no longer say
    captions stopped, but its lease (and the status stored with it) expires. While the last
    status this relay passed on said captions were on, it checks the stored status once per
    lease refresh interval; when that is gone, it tells its viewers captions stopped.
    """

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id
        self.group = group_name(stream_id)
        self.viewers: dict[Viewer, None] = {}  # an ordered set
        self.captioning = False
        self._tasks: list[asyncio.Task] = []
        self._channel: str | None = None
        self._layer = get_channel_layer()
        self.ready = asyncio.Event()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run()), loop.create_task(self._watch_lease())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._channel is not None:
            with contextlib.suppress(Exception):
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

    async def _watch_lease(self) -> None:
        with contextlib.suppress(Exception):
            self.captioning = bool((await lease.get_status(self.stream_id) or {}).get("captioning"))
        while True:
            await asyncio.sleep(lease.refresh_interval())
            if not self.captioning:
                continue
            try:
                status = await lease.get_status(self.stream_id)
            except Exception:
                logger.debug("caption status of stream %s unreadable", self.stream_id)
                continue  # the cache is unreachable: nothing can be concluded
            if status is None and self.captioning:
                logger.warning(
                    "captions of stream %s stopped without a word (lease expired); "
                    "telling this process's viewers",
                    self.stream_id,
                )
                self.captioning = False
                stopped = status_message(
                    captioning=False,
                    engine=settings.CAPTIONS_ENGINE,
                    message=VIEWER_MESSAGES["stopped"],
                )
                await self._deliver(Outgoing(encode(stopped)))

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
                if event.get("captioning") is not None:
                    self.captioning = event["captioning"]
                await self._deliver(Outgoing(event["payload"], event.get("seq")))
                if "sent_at" in event:
                    FANOUT_LATENCY.observe(max(0.0, time.time() - event["sent_at"]))

    async def _deliver(self, message: Outgoing) -> None:
        for count, viewer in enumerate(list(self.viewers), 1):
            try:
                if not viewer.offer(message):
                    await viewer.deliver(message)
            except Exception:
                # Its socket is going away; its consumer leaves the relay as it ends.
                logger.info("a viewer of %s failed to receive", self.group, exc_info=True)
                self.viewers.pop(viewer, None)
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)


class Fanout:
    def __init__(self) -> None:
        self._relays: dict[int, StreamRelay] = {}
        self._lock = asyncio.Lock()

    async def join(self, stream_id: int, viewer: Viewer) -> None:
        async with self._lock:
            relay = self._relays.get(stream_id)
            if relay is None:
                relay = self._relays[stream_id] = StreamRelay(stream_id)
                relay.start()
            relay.viewers[viewer] = None
        await relay.ready.wait()

    async def leave(self, stream_id: int, viewer: Viewer) -> None:
        async with self._lock:
            relay = self._relays.get(stream_id)
            if relay is None:
                return
            relay.viewers.pop(viewer, None)
            if not relay.viewers:
                del self._relays[stream_id]
                await relay.stop()

    def viewer_count(self, stream_id: int) -> int:
        relay = self._relays.get(stream_id)
        return len(relay.viewers) if relay else 0


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout] = weakref.WeakKeyDictionary()


def fanout() -> Fanout:
    """This event loop's fan-out (one per server process)."""
    loop = asyncio.get_running_loop()
    if loop not in _fanouts:
        _fanouts[loop] = Fanout()
    return _fanouts[loop]
