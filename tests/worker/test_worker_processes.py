"""``manage.py caption_worker`` as operators run it: separate processes sharing Redis (the lease,
the channel layer) and a database. Two workers started together: one captions. It is killed
(SIGKILL, no goodbye): the other takes over once the lease lapses, from where the last stored
caption ended, and no final is lost or repeated."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import redis_available, require
from tests.worker.checks import assert_every_utterance_captioned, assert_in_order_and_unrepeated
from tests.worker.conftest import DEEPGRAM_KEY

BASE_DIR = Path(__file__).resolve().parents[2]
# A Redis database of these tests' own (others flush database 15 when they start).
REDIS_URL = os.environ.get("WORKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
LEASE_SECONDS = 3


class Site:
    """The environment of a deployment: a SQLite file, Redis, the Deepgram stand-in."""

    def __init__(self, directory: Path, deepgram_url: str) -> None:
        self.directory = directory
        self.database = directory / "db.sqlite3"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "livestream.settings",
            "DEBUG": "true",
            "DATABASE_URL": f"sqlite:///{self.database}",
            "REDIS_URL": REDIS_URL,
            "CAPTIONS_LEASE_SECONDS": str(LEASE_SECONDS),
            "CAPTIONS_ENGINE": "deepgram",
            "DEEPGRAM_URL": deepgram_url,
            "DEEPGRAM_API_KEY": DEEPGRAM_KEY,
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        self.workers: list[tuple[subprocess.Popen, Path]] = []

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start_worker(self) -> subprocess.Popen:
        log = self.directory / f"worker-{len(self.workers) + 1}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "caption_worker", "--scan-every", "0.5"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.workers.append((process, log))
        return process

    def log(self, process: subprocess.Popen) -> str:
        return next(log for p, log in self.workers if p is process).read_text()

    def finals(self) -> list[dict]:
        with sqlite3.connect(self.database, timeout=10) as db:
            rows = db.execute(
                "SELECT seq, text, spoken_at, spoken_until FROM captions_caption ORDER BY seq"
            ).fetchall()
        return [
            dict(zip(("seq", "text", "spoken_at", "spoken_until"), r, strict=True)) for r in rows
        ]

    def stop(self) -> None:
        for process, _ in self.workers:
            if process.poll() is None:
                process.terminate()
        for process, _ in self.workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def site(deepgram, tmp_path) -> Iterator[Site]:
    import redis

    require(redis_available(REDIS_URL), f"no Redis answers at {REDIS_URL}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    site = Site(tmp_path, deepgram.url)
    site.manage("migrate", "--noinput", "-v", "0")
    yield site
    site.stop()


async def wait_for_finals(site: Site, count: int, *, within: float = 40.0) -> list[dict]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(site.finals)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"{count} finals not stored within {within} s: {site.finals()}")


def captioning(site: Site, process: subprocess.Popen) -> bool:
    return "captions stream 1" in site.log(process)


async def test_a_killed_worker_is_replaced_and_no_final_is_lost_or_repeated(site, live):
    site.manage(
        "shell",
        "-c",
        "from livestream.models import Stream; Stream.objects.create(title='Live', slug='live', "
        f"playback_url='{live.master_url}', caption_source='stream')",
    )
    first, second = site.start_worker(), site.start_worker()  # racing for the stream
    before = await wait_for_finals(site, 2)
    holder, other = (first, second) if captioning(site, first) else (second, first)
    assert captioning(site, holder)
    assert not captioning(site, other), "two workers caption the stream"

    holder.send_signal(signal.SIGKILL)  # no goodbye: its lease lapses after LEASE_SECONDS
    holder.wait()
    after = await wait_for_finals(site, len(before) + 4, within=60)
    assert captioning(site, other)
    assert "where the last caption ended" in site.log(other)
    assert_in_order_and_unrepeated(after)
    # Including what was said while nobody held the lease: the new worker began where the
    # last stored caption ended, still inside the playlist's window.
    assert_every_utterance_captioned(after, live.utterances())

    other.send_signal(signal.SIGTERM)  # as a service manager stops it
    assert other.wait(timeout=30) == 0
    log = site.log(other)
    assert "finishing the captions in progress" in log
    assert "let go of stream 1" in log


def test_without_redis_the_worker_refuses_to_start():
    done = subprocess.run(
        [sys.executable, "manage.py", "caption_worker"],
        cwd=BASE_DIR,
        env={**os.environ, "REDIS_URL": "", "DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "captions made here would reach no viewer: set REDIS_URL" in done.stderr
