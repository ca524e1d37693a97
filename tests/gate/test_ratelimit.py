"""The attempt counters (tests/hostile/test_gate.py sends the simultaneous attempts through
real Daphne processes)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache
from django.test import Client

from gate import ratelimit


def test_simultaneous_takes_each_get_their_own_count(settings):
    settings.GATE_RATE_LIMIT_PER_IP = 10
    limit = ratelimit.ip_limit("198.51.100.1")
    barrier = threading.Barrier(40)

    def take() -> int:
        barrier.wait()
        return ratelimit.take(limit)

    with ThreadPoolExecutor(max_workers=40) as pool:
        counts = list(pool.map(lambda _: take(), range(40)))
    assert sorted(counts) == list(range(1, 41))


def test_giving_back_after_the_counter_expired_is_harmless():
    limit = ratelimit.ip_limit("198.51.100.2")
    ratelimit.take(limit)
    cache.delete(limit.key)
    ratelimit.give_back(limit)
    assert ratelimit.take(limit) == 1


@pytest.mark.django_db
def test_an_attempt_refused_by_the_per_code_limit_costs_the_address_nothing(settings, viewer_code):
    settings.GATE_RATE_LIMIT_PER_IP = 2
    settings.GATE_RATE_LIMIT_PER_CODE = 1
    ip = "198.51.100.3"

    def post(code: str) -> int:
        return Client().post("/enter/", {"code": code}, REMOTE_ADDR=ip).status_code

    assert [post("VIEW-2024"), post("VIEW-2024"), post("VIEW-2024")] == [302, 429, 429]
    assert [post("WRONG-1"), post("WRONG-2"), post("WRONG-3")] == [200, 200, 429]
