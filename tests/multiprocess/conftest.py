"""Several real Daphne processes sharing a real PostgreSQL and a real Redis.

``cluster(layer, processes=2, redis_url=None, **env) -> list[LiveSite]`` starts them on a fresh
PostgreSQL database (created and migrated for the test, dropped after) and the Redis at
``REDIS_TEST_URL`` (or ``redis_url``, e.g. a ``private_redis`` the test may restart), with the
Deepgram double (a subprocess) as the speech service. ``cluster.stream`` has the stream and its
codes. ``private_redis`` is a redis-server of the test's own on a free port, with ``restart()``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_TEST_URL, require, require_program
from tests.live_site import (
    SITE_ENV,
    DoubleProcess,
    LiveSite,
    SiteStream,
    free_port,
    start_daphne,
    start_deepgram_double,
)

CORE = "channels_redis.core.RedisChannelLayer"
PUBSUB = "channels_redis.pubsub.RedisPubSubChannelLayer"
DEEPGRAM_KEY = "dg-cluster-secret-5d1e"
PHRASES = [f"Caption number {n}." for n in range(1, 41)]
LEASE_SECONDS = 3


def _postgres_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_TEST_URL, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@pytest.fixture
def postgres_database() -> Iterator[str]:
    import psycopg

    require(_postgres_available(), f"no PostgreSQL answers at {POSTGRES_TEST_URL}")
    name = f"livestream_mp_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_TEST_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_TEST_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(POSTGRES_TEST_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class PrivateRedis:
    port: int
    directory: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self, down_for: float = 1.0) -> None:
        """Kill it (it keeps nothing on disk) and start it again on the same port."""
        self.stop()
        time.sleep(down_for)
        self.start()


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    require_program("redis-server")
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


class Cluster:
    def __init__(self, request: pytest.FixtureRequest, database: str, tmp_path: Path) -> None:
        self.request = request
        self.database = database
        self.tmp_path = tmp_path
        self.sites: list[LiveSite] = []
        self.double: DoubleProcess | None = None
        self.stream: SiteStream | None = None

    def __call__(
        self, layer: str, processes: int = 2, redis_url: str | None = None, **env: str
    ) -> list[LiveSite]:
        from tests.conftest import REDIS_TEST_URL, redis_available

        redis_url = redis_url or REDIS_TEST_URL
        require(redis_available(redis_url), f"no Redis answers at {redis_url}")
        if redis_url == REDIS_TEST_URL:
            import redis

            redis.Redis.from_url(redis_url).flushdb()
        self.double = start_deepgram_double(DEEPGRAM_KEY, phrases=PHRASES)
        full_env = {
            **os.environ,
            **SITE_ENV,
            "IVS_PLAYER_SCRIPT_URL": "https://player.live-video.net/1.56.1/amazon-ivs-player.min.js",
            "DATABASE_URL": self.database,
            "REDIS_URL": redis_url,
            "CHANNEL_LAYER_BACKEND": layer,
            "DEEPGRAM_URL": self.double.url,
            "DEEPGRAM_API_KEY": DEEPGRAM_KEY,
            "CAPTIONS_LEASE_SECONDS": str(LEASE_SECONDS),
            "GATE_RATE_LIMIT_PER_CODE": "1000",
            **env,
        }
        for n in range(processes):
            directory = self.tmp_path / f"process-{n}"
            directory.mkdir()
            site = start_daphne(full_env, directory) if n else self._first(full_env, directory)
            self.sites.append(site)
        return self.sites

    def _first(self, env: dict[str, str], directory: Path) -> LiveSite:
        probe = LiveSite("", env, directory, directory / "none.log", None)  # type: ignore[arg-type]
        probe.manage("migrate", "--noinput", "-v", "0")
        site = start_daphne(env, directory)
        self.stream = site.create_stream(
            "https://example.live-video.net/api/video/v1/test.m3u8", slug="talk", title="Talk"
        )
        return site

    def logs(self) -> str:
        return "\n".join(f"--- {site.url}\n{site.log()}" for site in self.sites)

    def stop(self) -> None:
        for site in self.sites:
            site.stop()
        if self.double:
            self.double.stop()


@pytest.fixture
def cluster(request, postgres_database, tmp_path) -> Iterator[Callable[..., list[LiveSite]]]:
    running = Cluster(request, postgres_database, tmp_path)
    yield running
    print(running.logs())  # noqa: T201  (pytest shows it only when the test failed)
    running.stop()
    assert "invalid close code" not in running.logs()
