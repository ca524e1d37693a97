"""Attempt counters in the shared cache (Redis in production), so every process agrees.

Fixed windows of ``GATE_RATE_WINDOW`` seconds. Two counters:

- per client IP: failed attempts (someone guessing codes). A venue behind one NAT address
  must not be locked out by its own successful entries, so an attempt reserves a failure
  first and gives it back when it turns out not to be one;
- per client IP + code: every attempt counts, success included, so one client cannot burn a
  code's use limit by entering it again and again.

Counting comes first and the decision is made from the number the increment returned
(``cache.add`` + ``cache.incr``, atomic in Redis and in the local-memory cache): of many
simultaneous attempts, each gets its own number, and only those within the limit are checked.
Checking the count and then counting would let every attempt in flight read the same count.

A code itself is never locked: everyone who shares it keeps getting in from other addresses.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

# A counter outlives its window a little, so a late refund still finds it.
_EXPIRY_MARGIN = 60


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    allowed: int
    resets_at: int  # Unix time at which this window's counter stops applying

    def retry_after(self) -> int:
        """Seconds until the window ends (at least 1), for the ``Retry-After`` header."""
        return max(1, self.resets_at - int(time.time()))


def _limit(allowed: int, *parts: str) -> Limit:
    size = settings.GATE_RATE_WINDOW
    now = int(time.time())
    start = now - now % size
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    return Limit(f"gate:attempts:{digest}:{start}", allowed, start + size)


def ip_limit(ip: str) -> Limit:
    return _limit(settings.GATE_RATE_LIMIT_PER_IP, "ip", ip)


def ip_code_limit(ip: str, normalized_code: str) -> Limit:
    return _limit(settings.GATE_RATE_LIMIT_PER_CODE, "ip+code", ip, normalized_code)


def take(limit: Limit) -> int:
    """Count one attempt and return the count including it (1 for the first)."""
    timeout = settings.GATE_RATE_WINDOW + _EXPIRY_MARGIN
    cache.add(limit.key, 0, timeout)
    try:
        return cache.incr(limit.key)
    except ValueError:  # the counter expired between add and incr: this is a new one
        cache.add(limit.key, 0, timeout)
        return cache.incr(limit.key)


def give_back(limit: Limit) -> None:
    """Undo one ``take`` of ``limit`` (an attempt that did not count after all)."""
    # When the window is over and its counter gone, there is nothing to give back.
    with contextlib.suppress(ValueError):
        cache.decr(limit.key)
