"""Attempt counters in the shared cache (Redis in production), so every process agrees.

Fixed windows of ``GATE_RATE_WINDOW`` seconds. Two counters:

- per client IP: every failed attempt counts (someone guessing codes);
- per client IP + code: every attempt counts, success included, so one client cannot burn a
  code's use limit by entering it again and again.

A code itself is never locked: everyone who shares it keeps getting in from other addresses.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    allowed: int


def _window() -> tuple[int, int]:
    size = settings.GATE_RATE_WINDOW
    now = int(time.time())
    start = now - now % size
    return start, start + size - now


def _key(*parts: str) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    start, _ = _window()
    return f"gate:attempts:{digest}:{start}"


def ip_limit(ip: str) -> Limit:
    return Limit(_key("ip", ip), settings.GATE_RATE_LIMIT_PER_IP)


def ip_code_limit(ip: str, normalized_code: str) -> Limit:
    return Limit(_key("ip+code", ip, normalized_code), settings.GATE_RATE_LIMIT_PER_CODE)


def retry_after(*limits: Limit) -> int | None:
    """Seconds until the window ends if any limit is used up, else None."""
    counts = cache.get_many([limit.key for limit in limits])
    if any(counts.get(limit.key, 0) >= limit.allowed for limit in limits):
        return max(1, _window()[1])
    return None


def hit(limit: Limit) -> None:
    timeout = settings.GATE_RATE_WINDOW + 5
    cache.add(limit.key, 0, timeout)
    try:
        cache.incr(limit.key)
    except ValueError:  # expired between add and incr
        cache.set(limit.key, 1, timeout)
