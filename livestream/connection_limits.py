"""Per-client limits on websockets, for Daphne exposed without the shipped nginx config
(deploy/nginx/livestream.conf) and as a second line behind it.

:class:`ConnectionLimits` is ASGI middleware. For each client address, in this server process:

- at most ``WS_MAX_PER_IP`` websockets open at once (a handshake in progress counts);
- handshakes at ``WS_HANDSHAKES_PER_SECOND`` on average, in bursts of up to
  ``WS_HANDSHAKE_BURST`` (a token bucket; every attempt takes a token).

A handshake over either limit is refused before it is accepted, so Daphne answers HTTP 403
and nothing reaches the database. A socket's place is given back when the application's call
for it ends, however it ends: a close by the client or by the server, an exception, or
Daphne cancelling an application that outlives its socket (``--application-close-timeout``).

The client is the address ``gate.client_ip`` would give a request: the peer, or with
``TRUSTED_PROXY_COUNT`` set, the address the outermost trusted proxy saw.

The counts live in this process's memory: with N processes a client may hold N times the cap
in all. The shipped nginx config holds the same numbers across every process. Connections
that never finish their request headers never reach an ASGI application at all: against
those, see "Header timeouts" in docs/deployment.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

from gate.client_ip import from_forwarded

logger = logging.getLogger(__name__)

REPORTED_MAX = 10_000

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def scope_client_ip(scope: Scope) -> str:
    """The client address of an ASGI connection, read as ``gate.client_ip`` reads a request."""
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    forwarded = b",".join(
        value for name, value in scope.get("headers", ()) if name.lower() == b"x-forwarded-for"
    )
    return from_forwarded(peer, forwarded.decode("latin-1") or None)


class HandshakeRate:
    """A token bucket per address: ``rate`` tokens a second, holding at most ``burst``.

    An address whose bucket has filled up again is forgotten (a full bucket and no bucket are
    the same), so the table holds only addresses seen in the last ``burst / rate`` seconds.
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when)
        self._refill_time = burst / rate if rate > 0 else 0.0
        self._next_sweep = clock() + self._refill_time

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and self.burst > 0

    def allow(self, address: str) -> bool:
        if not self.enabled:
            return True
        now = self.clock()
        if now >= self._next_sweep:
            self._sweep(now)
        tokens, when = self._buckets.get(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) * self.rate)
        allowed = tokens >= 1
        self._buckets[address] = (tokens - 1 if allowed else tokens, now)
        return allowed

    def _sweep(self, now: float) -> None:
        self._buckets = {
            address: (tokens, when)
            for address, (tokens, when) in self._buckets.items()
            if tokens + (now - when) * self.rate < self.burst
        }
        self._next_sweep = now + self._refill_time


class ConnectionLimits:
    """ASGI middleware: caps open websockets and handshakes per client address.

    Other connection types pass straight through. ``receive`` and ``send`` are handed on
    untouched: captions/frames.py recognises Daphne's own ``send``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_per_ip: int | None = None,
        handshakes_per_second: float | None = None,
        handshake_burst: int | None = None,
    ) -> None:
        self.app = app
        self.max_per_ip = settings.WS_MAX_PER_IP if max_per_ip is None else max_per_ip
        self.rate = HandshakeRate(
            settings.WS_HANDSHAKES_PER_SECOND
            if handshakes_per_second is None
            else handshakes_per_second,
            settings.WS_HANDSHAKE_BURST if handshake_burst is None else handshake_burst,
        )
        self.open: dict[str, int] = {}
        self._reported: set[str] = set()  # addresses refused since they were last admitted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        address = scope_client_ip(scope)
        refusal = self._refusal(address)
        if refusal:
            self._report(address, refusal)
            await _refuse(receive, send)
            return
        self._reported.discard(address)
        self.open[address] = self.open.get(address, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._release(address)

    def _refusal(self, address: str) -> str:
        """Why a handshake from ``address`` is refused now, or "" when it may go on."""
        if not self.rate.allow(address):
            return (
                f"over the handshake rate (WS_HANDSHAKES_PER_SECOND={self.rate.rate:g}, "
                f"WS_HANDSHAKE_BURST={self.rate.burst})"
            )
        if 0 < self.max_per_ip <= self.open.get(address, 0):
            return f"{self.max_per_ip} websockets already open (WS_MAX_PER_IP)"
        return ""

    def _release(self, address: str) -> None:
        remaining = self.open.get(address, 0) - 1
        if remaining > 0:
            self.open[address] = remaining
        else:
            self.open.pop(address, None)

    def _report(self, address: str, reason: str) -> None:
        # One line when an address starts being refused, not one per refused handshake.
        if address not in self._reported:
            if len(self._reported) >= REPORTED_MAX:
                self._reported.clear()  # many addresses at once: forget, log again
            self._reported.add(address)
            logger.warning("refusing websocket handshakes from %s: %s", address, reason)


async def _refuse(receive: Receive, send: Send) -> None:
    """Close a websocket before accepting it: the server answers the handshake with 403."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})
