"""Websocket consumers: the gate every socket passes, and the viewers' captions socket.

The captioner's audio socket is in :mod:`captions.audio_consumer`.

However a socket ends — the client closes it, the server closes it for a bad frame or a flood,
a handler raises, or the connection simply vanishes — :meth:`GatedConsumer.release` runs once
and frees what the socket held. A handler that raises is caught here: left to Channels, the
exception would end the application while Daphne never tells the consumer it disconnected.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from captions import lease, limits
from captions.closing import Close
from captions.events import encode, status_message
from captions.fanout import fanout
from captions.frames import SCOPE_KEY, Outgoing, report_write_failure
from captions.models import Caption
from captions.presence import presence
from gate.grant import Grant
from gate.sockets import scope_grant, watcher
from livestream.metrics import VIEWERS, WEBSOCKET_CLOSES
from livestream.models import Stream

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 200


@database_sync_to_async
def _admission(scope: dict, slug: str) -> tuple[Stream | None, Grant | None]:
    """The stream and the grant admitting this handshake to it: one trip to the database
    thread, which every consumer in the process shares."""
    stream = Stream.objects.filter(slug=slug).first()
    return stream, scope_grant(scope, stream.pk) if stream else None


@database_sync_to_async
def _history(stream_id: int, after: int | None) -> list[dict]:
    captions = Caption.objects.for_stream(stream_id)
    if after is not None:
        rows = list(captions.after(after)[:HISTORY_LIMIT])
    else:
        rows = list(captions.order_by("-seq")[:HISTORY_LIMIT])[::-1]
    origin = Caption.objects.timeline_origin(stream_id) if rows else None
    return [caption.as_message(origin) for caption in rows]


def _after(scope: dict) -> int | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("after")
    try:
        return max(0, int(values[0])) if values else None
    except ValueError:
        return None


class GatedConsumer(AsyncWebsocketConsumer):
    """Admits a handshake only with a grant for the stream in the URL; closes on revocation;
    ends every way a socket can end in :meth:`release`.

    No consumer has a channel of its own on the channel layer (an alias that names no layer):
    viewers are fed by this process's relay (captions/fanout.py), and the captioner only sends.
    Thousands of idle per-viewer channels would each cost a Redis subscription or poll.
    """

    channel_layer_alias = "no-per-connection-channel"
    # Sent before close 4500: the viewers' page reconnects by itself; the captioner's does not.
    server_error_message = "Something went wrong on the server. Reconnecting…"
    stream: Stream
    accepted = False
    closing_code: Close | None = None  # set when the server ends the socket itself
    ending = False  # a close was sent: what the client still sends is dropped unread
    _released = False

    async def __call__(self, scope, receive, send) -> None:
        self._receive = receive  # Daphne's queue of what the client sent (see _stop_listening)
        await super().__call__(scope, receive, send)

    async def admit(self) -> bool:
        try:
            stream, grant = await _admission(self.scope, self.scope["url_route"]["kwargs"]["slug"])
        except Exception:
            # The database is unreachable: say so and let the page retry, rather than refuse.
            logger.exception("could not check a websocket's grant")
            await self.accept()
            await self.end(Close.SERVER_ERROR, self.server_error_message)
        if grant is None or not self.allowed(grant):
            await self.close()  # before accept: the handshake gets HTTP 403
            raise StopConsumer
        self.stream, self.grant = stream, grant
        watcher().watch(self, grant, self.revoked)
        return True

    def allowed(self, grant: Grant) -> bool:
        return True

    async def accept(self, subprotocol: str | None = None, headers=None) -> None:
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def dispatch(self, message: dict) -> None:
        if self.ending and message["type"] != "websocket.disconnect":
            return
        try:
            await super().dispatch(message)
        except (StopConsumer, asyncio.CancelledError):
            raise
        except Exception:
            logger.exception("websocket %s failed in %s", self.scope["path"], message["type"])
            await self.end(Close.SERVER_ERROR, self.server_error_message)

    async def end(self, code: Close, message: str = "", state: str = "error") -> None:
        """From a handler: release everything, tell the client why (a status message), close
        with ``code`` and stop consuming. What the client sent meanwhile is dropped.

        Released first: by the time the client sees the close, whoever comes next (another
        captioner) finds the stream free."""
        self.closing_code = code
        try:
            self._stop_listening()
        except Exception:
            logger.exception("could not stop reading websocket %s", self.scope["path"])
        await self._release_once()
        await self.close_with(code, message, state)
        raise StopConsumer

    def _stop_listening(self) -> None:
        """Drop what the client sent and still sends: a flood must not outlive its socket.

        Daphne queues every incoming message for the application without bound; once this
        consumer stops, nothing would read that queue until the connection is gone.
        """
        socket = self.scope.get(SCOPE_KEY)
        if socket is not None:
            socket.protocol.muted = True  # Daphne's own switch: incoming frames are dropped
        queue = getattr(getattr(self, "_receive", None), "__self__", None)
        if isinstance(queue, asyncio.Queue):
            while not queue.empty():
                queue.get_nowait()

    async def close_with(self, code: Close, message: str = "", state: str = "error") -> None:
        """Send the status and the close, once. From a background task, call this (not
        :meth:`end`): the disconnect that follows the closing handshake releases the rest."""
        if self.ending:
            return
        self.ending = True
        WEBSOCKET_CLOSES.labels(code=str(int(code)), by="server").inc()
        if message:
            await self.say(state, message)
        try:
            await self.close(code=int(code))
        except Exception:
            logger.warning("could not close a websocket with %s", int(code), exc_info=True)

    async def say(self, state: str, message: str) -> None:
        await self.send_json({"type": "status", "state": state, "message": message})

    async def send_json(self, message: dict) -> None:
        try:
            await self.send(text_data=encode(message))
        except Exception:
            logger.debug("could not send to a closing websocket", exc_info=True)

    async def revoked(self) -> None:
        await self.close_with(Close.REVOKED, "Your access code no longer works.")

    async def disconnect(self, code: int) -> None:
        if not self.ending:
            WEBSOCKET_CLOSES.labels(code=str(code), by="client").inc()
        await self._release_once()

    async def _release_once(self) -> None:
        if self._released:
            return
        self._released = True
        watcher().unwatch(self)
        if hasattr(self, "stream"):
            try:
                await self.release()
            except Exception:
                logger.exception("error while releasing websocket %s", self.scope["path"])

    async def release(self) -> None:
        """Free what this socket holds. Runs once, whatever ended it."""


class CaptionsConsumer(GatedConsumer):
    """``/ws/watch/<slug>/captions/``: history, then live captions and status."""

    async def connect(self) -> None:
        await self.admit()
        self.ups = limits.TokenBucket(
            limits.VIEWER_MESSAGES_PER_SECOND, limits.VIEWER_MESSAGES_BURST
        )
        self.backlog: list[Outgoing] | None = []  # live events held until history is sent
        self.socket = self.scope.get(SCOPE_KEY)  # under Daphne: write prepared frames to it
        await self.accept()
        await fanout().join(self.stream.pk, self)
        presence().joined(self.stream.pk, self.grant.code_id)
        VIEWERS.labels(stream=self.stream.slug).inc()
        self.counted = True
        history = await _history(self.stream.pk, _after(self.scope))
        await self.send(text_data=encode({"type": "history", "captions": history}))
        last_seq = history[-1]["seq"] if history else (_after(self.scope) or 0)
        status = await lease.get_status(self.stream.pk) or status_message(
            captioning=False,
            engine=self.stream.caption_engine or settings.CAPTIONS_ENGINE,
            message="",
        )
        await self.send(text_data=encode(status))
        backlog, self.backlog = self.backlog, None
        for message in backlog:
            if message.seq is None or message.seq > last_seq:
                await self.send(text_data=message.text)

    def offer(self, message: Outgoing) -> bool:
        if self.backlog is not None or self.socket is None or self.ending:
            return False
        try:
            self.socket.write(message)
        except Exception as error:
            report_write_failure(error)
            self.socket = None  # this viewer goes through ASGI from now on
            return False
        return True

    async def deliver(self, message: Outgoing) -> None:
        if self.backlog is not None:
            self.backlog.append(message)
        elif not self.ending:
            await self.send(text_data=message.text)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Viewers have nothing to say: anything but a few small messages closes the socket.
        if bytes_data is not None:
            await self.end(Close.UNSUPPORTED, "Viewers send no binary data.")
        if len(text_data.encode()) > limits.VIEWER_MAX_MESSAGE:
            await self.end(Close.TOO_LARGE, "Message too large.")
        if not self.ups.take():
            await self.end(Close.FLOOD, "Too many messages.")

    async def release(self) -> None:
        if getattr(self, "counted", False):
            presence().left(self.stream.pk, self.grant.code_id)
            VIEWERS.labels(stream=self.stream.slug).dec()
        await fanout().leave(self.stream.pk, self)
