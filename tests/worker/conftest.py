"""Fixtures for the caption worker: a live HLS stream with speech, a stream captioned from it,
a viewer's session, the Deepgram stand-in, and workers running in the test's event loop.

``clip`` (session) the speech loop (tests/worker/live.py); ``live`` a LiveStream of it, started;
``stream_of(live, **fields)`` a Stream captioned from its own audio; ``viewer_of(stream)`` the
session key of a viewer's grant; ``deepgram`` the stand-in at Deepgram's timing saying the
clip's phrases; ``workers(n)`` starts caption workers (``captions.worker.runner.Worker``) in
this loop, stopped (gracefully) at teardown unless the test stopped them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from asgiref.sync import sync_to_async

from captions.worker.runner import Worker
from deepgram_standin import DeepgramDouble
from gate.models import AccessCode, Role
from livestream.models import Stream
from tests.captions.conftest import session_for
from tests.conftest import require_program
from tests.worker.live import PHRASES, Clip, LiveStream, make_clip

DEEPGRAM_KEY = "dg-worker-test-7c2e"


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    require_program("espeak-ng")
    require_program("ffmpeg")
    return make_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture
def live(clip, tmp_path) -> Iterator[LiveStream]:
    directory = tmp_path / "hls"
    directory.mkdir()
    stream = LiveStream(clip, directory)
    stream.start()
    yield stream
    stream.close()


@pytest.fixture
def short_lease(settings):
    settings.CAPTIONS_LEASE_SECONDS = 3


@pytest.fixture
def stream_of(transactional_db) -> Callable[..., object]:
    counter = iter(range(1, 1000))

    async def make(live: LiveStream | None, **fields) -> Stream:
        n = next(counter)
        if live is not None:
            fields.setdefault("playback_url", live.master_url)
        fields.setdefault("caption_source", "stream")
        return await Stream.objects.acreate(title=f"Live {n}", slug=f"live-{n}", **fields)

    return make


@pytest.fixture
def viewer_of(transactional_db) -> Callable[..., object]:
    async def make(stream: Stream) -> str:
        code = await AccessCode.objects.acreate(stream=stream, role=Role.VIEWER)
        return await sync_to_async(session_for)(code)

    return make


@pytest.fixture
async def deepgram(settings) -> AsyncIterator[DeepgramDouble]:
    async with DeepgramDouble(api_key=DEEPGRAM_KEY, idle_timeout=20.0) as double:
        double.phrases.extend(PHRASES)
        settings.DEEPGRAM_URL = double.url
        settings.DEEPGRAM_API_KEY = DEEPGRAM_KEY
        settings.CAPTIONS_ENGINE = "deepgram"
        yield double


@pytest.fixture
async def workers() -> AsyncIterator[Callable[..., list[tuple[Worker, asyncio.Task]]]]:
    started: list[tuple[Worker, asyncio.Task]] = []

    def start(count: int = 1, *, scan_every: float = 0.3) -> list[tuple[Worker, asyncio.Task]]:
        made = []
        for _ in range(count):
            worker = Worker(name=f"test-host:{len(started) + 1}", scan_every=scan_every)
            made.append((worker, asyncio.get_running_loop().create_task(worker.run())))
        started.extend(made)
        return made

    yield start
    for _, task in started:
        task.cancel()
    for _, task in started:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)
