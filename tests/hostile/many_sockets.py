"""Viewers' captions sockets by the hundred, for the connection-exhaustion tests: opened from one
loopback address or another, and closed all at once.

Loopback has the whole of 127.0.0.0/8: ``127.0.0.2`` is a second client address. The
``many_descriptors`` fixture (tests/hostile/conftest.py) lets this process hold thousands.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.multiprocess.clients import headers, ws_url

OTHER_ADDRESS = "127.0.0.2"
CAPTIONS = "/ws/watch/talk/captions/"


async def open_captions(
    base_url: str, session: str, source: str = "127.0.0.1"
) -> tuple[int, ClientConnection | None]:
    """Open a viewer's captions socket from ``source``: (101, the socket) or (status, None)."""
    try:
        ws = await connect(
            ws_url(base_url, CAPTIONS),
            additional_headers=headers(base_url, session),
            open_timeout=20,
            local_addr=(source, 0),
        )
    except InvalidStatus as refused:
        return refused.response.status_code, None
    return 101, ws


async def close_all(sockets: list[ClientConnection | None]) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets if ws is not None))
