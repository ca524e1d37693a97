"""One caption, many sockets: frame it once and write the frame to every viewer's socket.

Through ASGI, each ``websocket.send`` to each viewer walks the middleware's send wrappers,
Daphne's reply handler and Autobahn's framing: at a thousand viewers that per-socket walk was
most of a caption's delay. Under Daphne, :class:`DirectSockets` (the outermost ASGI
middleware) finds the Autobahn protocol behind each websocket, and a viewer's consumer writes a
message framed once (Autobahn's ``PreparedMessage``) straight to it. Under any other server,
and in tests that drive the application in-process, there is no such socket in the scope and
consumers send through ASGI as usual.

The fast path reads attributes of Twisted and Autobahn that are not their public API. It fails
loudly and safely: the first websocket checks that every attribute it relies on is there, and
when one is missing the fast path switches itself off with one WARNING; an error while writing
is logged at ERROR once per process, and that viewer falls back to the ASGI send.

A viewer that stops reading is not the relay's concern: Daphne pings every socket and drops
one that has not answered within its ping timeout, so a stalled viewer's unsent captions are
bounded by that half minute or so.
"""

from __future__ import annotations

import logging
import sys
from functools import partial

from autobahn.websocket.protocol import PreparedMessage
from twisted.internet import tcp

logger = logging.getLogger(__name__)

SCOPE_KEY = "livestream.direct_socket"

# What DirectSocket and write_through read, beyond the libraries' public API.
PROTOCOL_ATTRIBUTES = (
    "muted",
    "state",
    "STATE_OPEN",
    "send_queue",
    "_perMessageCompress",
    "sendPreparedMessage",
    "transport",
)
TRANSPORT_ATTRIBUTES = (
    "TLS",
    "connected",
    "disconnecting",
    "_writeDisconnected",
    "offset",
    "dataBuffer",
    "_tempDataLen",
    "writeSomeData",
    "write",
)
_write_failed = False


def report_write_failure(error: BaseException) -> None:
    """Log the first failed direct write at ERROR (the caller falls back to ASGI)."""
    global _write_failed
    if not _write_failed:
        _write_failed = True
        logger.error(
            "writing a caption straight to a socket failed; that viewer falls back to the "
            "ASGI send (further failures are not logged)",
            exc_info=error,
        )


def missing_attributes(protocol) -> list[str]:
    """What the fast path needs but this Daphne websocket lacks (after an upgrade)."""
    missing = [f"protocol.{name}" for name in PROTOCOL_ATTRIBUTES if not hasattr(protocol, name)]
    transport = getattr(protocol, "transport", None)
    missing += [
        f"transport.{name}" for name in TRANSPORT_ATTRIBUTES if not hasattr(transport, name)
    ]
    probe = Outgoing("")
    try:
        probe.prepared.payloadHybi  # noqa: B018
    except Exception:
        missing.append("PreparedMessage.payloadHybi")
    return missing


class Outgoing:
    """A message for many sockets: its JSON text and, built on first use, its frame."""

    __slots__ = ("_prepared", "seq", "text")

    def __init__(self, text: str, seq: int | None = None) -> None:
        self.text = text
        self.seq = seq
        self._prepared: PreparedMessage | None = None

    @property
    def prepared(self) -> PreparedMessage:
        if self._prepared is None:
            # A server's frames are not masked; captions are too short to be worth compressing.
            self._prepared = PreparedMessage(
                self.text.encode(), isBinary=False, applyMask=False, doNotCompress=True
            )
        return self._prepared


class DirectSocket:
    """Writes prepared frames to one Daphne websocket."""

    __slots__ = ("protocol",)

    def __init__(self, protocol) -> None:
        self.protocol = protocol

    def write(self, message: Outgoing) -> None:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return  # closing or closed: its consumer is about to leave the relay
        if protocol.send_queue or protocol._perMessageCompress is not None:
            protocol.sendPreparedMessage(message.prepared)  # Autobahn's own ordering applies
        else:
            write_through(protocol.transport, message.prepared.payloadHybi)


def write_through(transport, data: bytes) -> None:
    """Send at once what the socket takes when nothing is queued before it, as asyncio's
    transports do; queue the rest with Twisted as usual.

    Twisted's ``write`` only queues: the bytes leave on a later turn of the event loop, after
    one more selector registration and wake-up per socket, which made up a third of a
    caption's cost at a thousand viewers. Plain TCP only; anything else (TLS) is left to
    ``write``.
    """
    if (
        type(transport) is tcp.Server
        and not transport.TLS
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and transport.offset == len(transport.dataBuffer)
        and not transport._tempDataLen
    ):
        sent = transport.writeSomeData(data)
        if isinstance(sent, int) and sent > 0:
            data = data[sent:]
        if not data:
            return
    transport.write(data)


def daphne_protocol(send) -> object | None:
    """The Autobahn protocol behind a Daphne websocket's ASGI ``send``, else None.

    Daphne hands each connection ``partial(server.handle_reply, protocol)``. The check reads
    the modules Daphne has already imported, so that importing nothing here installs a reactor.
    """
    server_module = sys.modules.get("daphne.server")
    protocol_module = sys.modules.get("daphne.ws_protocol")
    if server_module is None or protocol_module is None or not isinstance(send, partial):
        return None
    server = getattr(send.func, "__self__", None)
    if not isinstance(server, server_module.Server) or len(send.args) != 1:
        return None
    protocol = send.args[0]
    return protocol if isinstance(protocol, protocol_module.WebSocketProtocol) else None


class DirectSockets:
    """ASGI middleware: puts a :class:`DirectSocket` in a websocket's scope under Daphne."""

    def __init__(self, app) -> None:
        self.app = app
        self.checked = False
        self.enabled = True

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and self.enabled:
            protocol = daphne_protocol(send)
            if protocol is not None and self._supported(protocol):
                scope = {**scope, SCOPE_KEY: DirectSocket(protocol)}
        return await self.app(scope, receive, send)

    def _supported(self, protocol) -> bool:
        if not self.checked:
            self.checked = True
            missing = missing_attributes(protocol)
            if missing:
                self.enabled = False
                logger.warning(
                    "captions go through ASGI, not straight to Daphne's sockets: this Daphne "
                    "lacks %s (pinned versions: see requirements.txt)",
                    ", ".join(missing),
                )
            else:
                logger.info("captions are written to Daphne's sockets directly")
        return self.enabled
