"""The gate for websockets: the same grant as pages, read from the handshake's session, and a
per-process watcher that closes sockets whose code is revoked or expires."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils.dateparse import parse_datetime

from gate import grant as grants
from gate.models import AccessCode

logger = logging.getLogger(__name__)

OnRevoked = Callable[[], Awaitable[None]]


def scope_grant(scope: dict, stream_id: int) -> grants.Grant | None:
    """The grant admitting this websocket handshake to ``stream_id``, or None.

    Synchronous (it reads the session and the code from the database): call it from
    ``database_sync_to_async``.
    """
    session = scope.get("session")
    if session is None:
        return None
    grant, _ = grants.check(session, scope.get("user"), stream_id)
    return grant


@database_sync_to_async
def _invalid_codes(code_ids: set[int]) -> set[int]:
    still_valid = {
        code.pk for code in AccessCode.objects.filter(pk__in=code_ids) if code.is_still_valid()
    }
    return code_ids - still_valid


class GrantWatcher:
    """Re-checks, once per ``GATE_SOCKET_RECHECK`` seconds, every code that open sockets in
    this process were admitted with — one query for all of them, however many sockets — and
    closes a socket whose grant has grown older than ``GATE_GRANT_MAX_AGE``, as a page
    request would refuse it."""

    def __init__(self) -> None:
        self._watched: dict[int, dict[object, OnRevoked]] = {}
        self._expires: dict[object, float] = {}  # key -> when its grant's age runs out
        self._task: asyncio.Task | None = None

    def watch(self, key: object, grant: grants.Grant, on_revoked: OnRevoked) -> None:
        if grant.code_id is None:
            return  # staff: nothing to revoke
        self._watched.setdefault(grant.code_id, {})[key] = on_revoked
        granted = parse_datetime(grant.granted_at) if grant.granted_at else None
        if granted is not None:
            self._expires[key] = granted.timestamp() + settings.GATE_GRANT_MAX_AGE
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def unwatch(self, key: object) -> None:
        self._expires.pop(key, None)
        for code_id in list(self._watched):
            self._watched[code_id].pop(key, None)
            if not self._watched[code_id]:
                del self._watched[code_id]

    async def _run(self) -> None:
        failing = False
        while self._watched:
            await asyncio.sleep(settings.GATE_SOCKET_RECHECK)
            await self._close_expired()  # needs no database
            try:
                invalid = await _invalid_codes(set(self._watched))
            except Exception as error:
                if not failing:  # once per outage, not once a second
                    logger.warning("could not re-check access codes (%r); will retry", error)
                failing = True
                continue
            if failing:
                logger.warning("access codes re-checked again")
                failing = False
            for code_id in invalid:
                for key, on_revoked in list(self._watched.pop(code_id, {}).items()):
                    self._expires.pop(key, None)
                    await on_revoked()

    async def _close_expired(self) -> None:
        now = time.time()
        for key in [key for key, until in self._expires.items() if until <= now]:
            for code_id in list(self._watched):
                on_revoked = self._watched[code_id].get(key)
                if on_revoked is not None:
                    self.unwatch(key)
                    await on_revoked()
                    break


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GrantWatcher] = (
    weakref.WeakKeyDictionary()
)


def watcher() -> GrantWatcher:
    """This event loop's watcher (one per server process)."""
    loop = asyncio.get_running_loop()
    if loop not in _watchers:
        _watchers[loop] = GrantWatcher()
    return _watchers[loop]
