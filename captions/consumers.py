"""Websocket consumers: viewers receive captions; one captioner sends audio."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from captions import lease, limits
from captions.events import encode, status_message
from captions.fanout import fanout
from captions.frames import SCOPE_KEY, Outgoing
from captions.models import Caption
from captions.session import CaptionSession
from captions.speech import SpeechRefused, get_engine
from gate.grant import Grant
from gate.sockets import scope_grant, watcher
from livestream.models import Stream

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 200

CLOSE_REVOKED = 4403
CLOSE_BUSY = 4409
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_UNSUPPORTED = 1003


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
    return [caption.as_message() for caption in rows]


def _after(scope: dict) -> int | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("after")
    try:
        return max(0, int(values[0])) if values else None
    except ValueError:
        return None


class GatedConsumer(AsyncWebsocketConsumer):
    """Admits a handshake only with a grant for the stream in the URL; closes on revocation.

    No consumer has a channel of its own on the channel layer (an alias that names no layer):
    viewers are fed by this process's relay (captions/fanout.py), and the captioner only sends.
    Thousands of idle per-viewer channels would each cost a Redis subscription or poll.
    """

    channel_layer_alias = "no-per-connection-channel"
    stream: Stream

    async def admit(self) -> bool:
        stream, grant = await _admission(self.scope, self.scope["url_route"]["kwargs"]["slug"])
        if grant is None or not self.allowed(grant):
            await self.close()  # before accept: the handshake gets HTTP 403
            return False
        self.stream, self.grant = stream, grant
        watcher().watch(self, grant, self.revoked)
        return True

    def allowed(self, grant) -> bool:
        return True

    async def revoked(self) -> None:
        await self.close(code=CLOSE_REVOKED)

    async def disconnect(self, code: int) -> None:
        watcher().unwatch(self)


class CaptionsConsumer(GatedConsumer):
    """``/ws/watch/<slug>/captions/``: history, then live captions and status."""

    async def connect(self) -> None:
        if not await self.admit():
            return
        self.ups = limits.TokenBucket(
            limits.VIEWER_MESSAGES_PER_SECOND, limits.VIEWER_MESSAGES_BURST
        )
        self.backlog: list[Outgoing] | None = []  # live events held until history is sent
        self.socket = self.scope.get(SCOPE_KEY)  # under Daphne: write prepared frames to it
        await self.accept()
        await fanout().join(self.stream.group_name, self)
        history = await _history(self.stream.pk, _after(self.scope))
        await self.send(text_data=encode({"type": "history", "captions": history}))
        last_seq = history[-1]["seq"] if history else (_after(self.scope) or 0)
        status = await lease.get_status(self.stream.pk) or status_message(
            captioning=False, engine=settings.CAPTIONS_ENGINE, message=""
        )
        await self.send(text_data=encode(status))
        backlog, self.backlog = self.backlog, None
        for message in backlog:
            if message.seq is None or message.seq > last_seq:
                await self.send(text_data=message.text)

    def offer(self, message: Outgoing) -> bool:
        if self.backlog is not None or self.socket is None:
            return False
        self.socket.write(message)
        return True

    async def deliver(self, message: Outgoing) -> None:
        if self.backlog is not None:
            self.backlog.append(message)
            return
        await self.send(text_data=message.text)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Viewers have nothing to say; a flood closes the socket.
        if not self.ups.take():
            await self.close(code=CLOSE_POLICY)

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if hasattr(self, "stream"):
            await fanout().leave(self.stream.group_name, self)


class AudioConsumer(GatedConsumer):
    """``/ws/watch/<slug>/audio/``: the captioner's microphone, as 16 kHz 16-bit mono PCM."""

    session: CaptionSession | None = None

    def allowed(self, grant) -> bool:
        return grant.can_caption

    async def connect(self) -> None:
        self.session = None
        self.refresher = None
        self.holder = uuid.uuid4().hex  # who holds the captioning lease
        if not await self.admit():
            return
        await self.accept()
        if not await lease.acquire(self.stream.pk, self.holder):
            await self.status("busy", "Someone else is already captioning this stream.")
            await self.close(code=CLOSE_BUSY)
            return
        self.bytes_in = limits.TokenBucket(limits.AUDIO_BYTES_PER_SECOND, limits.AUDIO_BYTES_BURST)
        self.frames_in = limits.TokenBucket(
            limits.AUDIO_MESSAGES_PER_SECOND, limits.AUDIO_MESSAGES_BURST
        )
        self.refresher = asyncio.get_running_loop().create_task(self._keep_lease())
        await self.status("connecting", "Connecting to the speech service…")
        try:
            session = CaptionSession(self.stream, get_engine(), self.send_json)
            await session.start()
        except SpeechRefused as refused:
            logger.warning("captions for stream %s refused: %s", self.stream.pk, refused)
            await self.status("error", str(refused))
            await self.close(code=1011)
            return
        except Exception:
            logger.exception("could not start captions for stream %s", self.stream.pk)
            await self.status("error", "Captions could not start. Try again in a moment.")
            await self.close(code=1011)
            return
        self.session = session
        await self.status("live", "Captions are live.")

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.frames_in.take():
            await self.status("error", "Too many messages: captions stopped.")
            await self.close(code=CLOSE_POLICY)
            return
        if text_data is not None:
            await self._control(text_data)
            return
        if len(bytes_data) > limits.MAX_AUDIO_FRAME:
            await self.status(
                "error", f"Audio frames may be at most {limits.MAX_AUDIO_FRAME} bytes."
            )
            await self.close(code=CLOSE_TOO_BIG)
            return
        if not self.bytes_in.take(len(bytes_data)):
            await self.status("error", "Audio arrived faster than real time: captions stopped.")
            await self.close(code=CLOSE_POLICY)
            return
        if not bytes_data:
            return  # never forwarded: an empty frame would end the speech service's stream
        if len(bytes_data) % 2:
            await self.status("error", "Audio must be 16-bit PCM (an even number of bytes).")
            await self.close(code=CLOSE_UNSUPPORTED)
            return
        if self.session is None:
            return
        if self.session.done:  # the speech service gave up on us; the captioner was told why
            await self.close(code=1011)
            return
        await self.session.feed(bytes_data)

    async def _control(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict) or message.get("type") != "stop":
            await self.status(
                "error", 'Text frames must be JSON control messages such as {"type": "stop"}.'
            )
            await self.close(code=CLOSE_UNSUPPORTED)
            return
        await self._finish()
        await self.status("stopped", "Captions stopped.")
        await self.close(code=1000)

    async def _finish(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            await session.stop()
        await self._release()

    async def _release(self) -> None:
        if self.refresher is not None:
            self.refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.refresher
            self.refresher = None
            await lease.release(self.stream.pk, self.holder)

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(lease.refresh_interval())
            try:
                ours = await lease.refresh(self.stream.pk, self.holder)
            except Exception:
                # The cache (Redis) is unreachable: keep captioning, try again shortly.
                logger.warning(
                    "could not refresh the captioning lease of stream %s", self.stream.pk
                )
                continue
            if not ours:
                logger.warning("lost the captioning lease for stream %s", self.stream.pk)
                await self.status("error", "Another captioner took over this stream.")
                await self.close(code=CLOSE_BUSY)
                return

    async def status(self, state: str, message: str = "") -> None:
        await self.send_json({"type": "status", "state": state, "message": message})

    async def send_json(self, message: dict) -> None:
        with contextlib.suppress(Exception):
            await self.send(text_data=encode(message))

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        try:
            await self._finish()
        except Exception:
            logger.exception("error while ending the caption session")
