import os
import shutil
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from gate.models import AccessCode, Role
from livestream.models import Stream

PLAYBACK_URL = "https://example.live-video.net/api/video/v1/test.m3u8"


def require(condition: bool, reason: str) -> None:
    """Skip when a tool or service is missing, except in CI where everything must run."""
    if condition:
        return
    if os.environ.get("REQUIRE_ALL_TESTS"):
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def require_program(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed")
    return path


REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
POSTGRES_TEST_URL = os.environ.get("POSTGRES_TEST_URL", "postgres://postgres@127.0.0.1:5432/test")


def redis_available(url: str = REDIS_TEST_URL) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis (database 15 by default, flushed before use)."""
    import redis

    require(redis_available(), f"no Redis answers at {REDIS_TEST_URL}")
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    return REDIS_TEST_URL


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_stream(db) -> Callable[..., Stream]:
    counter = iter(range(1, 10_000))

    def make(**fields) -> Stream:
        n = next(counter)
        fields.setdefault("title", f"Talk {n}")
        fields.setdefault("slug", f"talk-{n}")
        fields.setdefault("playback_url", PLAYBACK_URL)
        return Stream.objects.create(**fields)

    return make


@pytest.fixture
def stream(make_stream) -> Stream:
    return make_stream(title="Keynote", slug="keynote")


@pytest.fixture
def make_code(db, stream) -> Callable[..., AccessCode]:
    def make(code: str = "", **fields) -> AccessCode:
        fields.setdefault("stream", stream)
        return AccessCode.objects.create(code=code, **fields)

    return make


@pytest.fixture
def viewer_code(make_code) -> AccessCode:
    return make_code("VIEW-2024", role=Role.VIEWER)


@pytest.fixture
def captioner_code(make_code) -> AccessCode:
    return make_code("CAPT-2024", role=Role.CAPTIONER)


@pytest.fixture
def expired_code(make_code) -> AccessCode:
    return make_code("OLD-CODE-1", expires_at=timezone.now() - timedelta(minutes=1))


@pytest.fixture
def revoked_code(make_code) -> AccessCode:
    return make_code("GONE-CODE-1", is_active=False)


@pytest.fixture
def used_up_code(make_code) -> AccessCode:
    code = make_code("FULL-CODE-1", max_uses=2)
    AccessCode.objects.filter(pk=code.pk).update(use_count=2)
    return code


@pytest.fixture
def enter(client) -> Callable[..., object]:
    """POST a code to the entry page, as a browser would."""

    def post(code: str, *, next_url: str = "", ip: str = "203.0.113.7", c=None):
        return (c or client).post("/enter/", {"code": code, "next": next_url}, REMOTE_ADDR=ip)

    return post
