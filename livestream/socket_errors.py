"""The last line for websockets: an error anywhere below this middleware (a session or user
lookup while the database is down, a consumer that failed to catch its own error) reaches the
client as a ``status`` message and close 4500, never as a bare 1011 or a handshake that dies
without an answer.

Consumers catch their own handlers' errors and release what they hold (captions/consumers.py);
this catches what happens before a consumer exists, in the middleware that prepares its scope.
"""

from __future__ import annotations

import json
import logging

from captions.closing import Close

logger = logging.getLogger(__name__)

MESSAGE = "Something went wrong on the server. Reconnecting…"


class ServerErrorGuard:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        state = {"accepted": False, "closed": False}

        async def tracking_send(message) -> None:
            if message["type"] == "websocket.accept":
                state["accepted"] = True
            elif message["type"] == "websocket.close":
                state["closed"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("websocket %s failed", scope.get("path"))
            if state["closed"]:
                return
            status = {"type": "status", "state": "error", "message": MESSAGE}
            try:
                if not state["accepted"]:
                    await send({"type": "websocket.accept"})
                await send({"type": "websocket.send", "text": json.dumps(status)})
                await send({"type": "websocket.close", "code": int(Close.SERVER_ERROR)})
            except Exception:
                logger.warning("could not tell a failed websocket why", exc_info=True)
