"""Who is watching, across every server process.

Each process counts the viewers connected to it, per stream and per access code, and reports
those counts to the shared cache under a key of its own that expires after ``EXPIRES`` seconds:
a process that dies stops counting by itself. A registry key lists the processes that have
reported; readers sum the reports that are still there and drop the ids whose report expired.
Registration is read-modify-write, so two processes starting at the same moment may overwrite
each other's entry; each re-registers on every report, so both are counted again within one
``REPORT_EVERY``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import weakref
from collections import Counter

from django.core.cache import cache

logger = logging.getLogger(__name__)

REPORT_EVERY = 2.0  # seconds between reports while counts change, and the refresh period
EXPIRES = 10  # a report outlives its process by at most this long
REGISTRY_KEY = "presence:processes"


def _report_key(process_id: str) -> str:
    return f"presence:process:{process_id}"


class Presence:
    """This process's counts."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex
        self.streams: Counter[int] = Counter()
        self.codes: Counter[int] = Counter()
        self._task: asyncio.Task | None = None

    def joined(self, stream_id: int, code_id: int | None) -> None:
        self.streams[stream_id] += 1
        if code_id is not None:
            self.codes[code_id] += 1
        self._ensure_reporting()

    def left(self, stream_id: int, code_id: int | None) -> None:
        self.streams[stream_id] -= 1
        if code_id is not None:
            self.codes[code_id] -= 1
        self.streams += Counter()  # drop zero counts
        self.codes += Counter()

    def _ensure_reporting(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._report_forever())

    async def _report_forever(self) -> None:
        while True:
            try:
                await self.report()
            except Exception as error:
                logger.warning("could not report viewer counts (%r)", error)
            if not self.streams:
                with contextlib.suppress(Exception):
                    await cache.adelete(_report_key(self.id))
                return
            await asyncio.sleep(REPORT_EVERY)

    async def report(self) -> None:
        report = {"streams": dict(self.streams), "codes": dict(self.codes)}
        await cache.aset(_report_key(self.id), report, EXPIRES)
        registry = await cache.aget(REGISTRY_KEY) or []
        if self.id not in registry:
            await cache.aset(REGISTRY_KEY, [*registry, self.id], None)


def counts() -> tuple[Counter[int], Counter[int]]:
    """Viewers now, summed over every live process: (per stream id, per access code id)."""
    registry = cache.get(REGISTRY_KEY) or []
    reports = cache.get_many([_report_key(process_id) for process_id in registry])
    streams: Counter[int] = Counter()
    codes: Counter[int] = Counter()
    for report in reports.values():
        streams.update({int(k): v for k, v in report["streams"].items()})
        codes.update({int(k): v for k, v in report["codes"].items()})
    alive = [p for p in registry if _report_key(p) in reports]
    if len(alive) != len(registry):
        cache.set(REGISTRY_KEY, alive, None)
    return streams, codes


_presences: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Presence] = (
    weakref.WeakKeyDictionary()
)


def presence() -> Presence:
    """This event loop's counts (one per server process)."""
    loop = asyncio.get_running_loop()
    if loop not in _presences:
        _presences[loop] = Presence()
    return _presences[loop]
