"""A private stream, served by the IVS stand-in (which checks tokens as IVS does): the worker
fetches its multivariant playlist with a token of its own viewer id, a fresh one each time it
starts a playback session, and captions reach viewers."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from ivs import keys
from ivs.models import PlaybackGrant
from ivs_standin import IvsStandin
from tests.captions.test_consumers import finals, open_viewer
from tests.conftest import require_program
from tests.worker.checks import assert_in_order_and_unrepeated, receive_finals
from tests.worker.live import PHRASES

pytestmark = pytest.mark.django_db(transaction=True)

CHANNEL_ARN = "arn:aws:ivs:us-west-2:123456789012:channel/WorkerCh4nnel"


def record(clip, directory: Path) -> Path:
    """Two loops of the clip as an HLS recording (1 s segments) for the stand-in to play live."""
    directory.mkdir()
    command = [
        require_program("ffmpeg"),
        *("-hide_banner", "-loglevel", "error"),
        *("-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10"),
        *("-stream_loop", "1", "-i", str(clip.path)),
        *("-map", "0:v", "-map", "1:a", "-shortest"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-b:v", "60k"),
        *("-c:a", "aac", "-ar", "48000", "-ac", "1"),
        *("-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod"),
        *("-hls_segment_filename", str(directory / "seg%03d.ts"), str(directory / "index.m3u8")),
    ]
    subprocess.run(command, check=True, timeout=60)
    return directory


@pytest.fixture
def standin(settings, clip, tmp_path) -> Iterator[IvsStandin]:
    key = keys.generate()
    settings.IVS_PLAYBACK_PRIVATE_KEY = keys.private_pem(key).decode()
    settings.IVS_REVOCATION_WORKER = "off"
    with IvsStandin() as standin:
        standin.import_key(keys.public_pem(key))
        standin.add_channel(CHANNEL_ARN, record(clip, tmp_path / "recording"), private=True)
        yield standin


async def test_a_private_streams_playlist_is_fetched_with_the_workers_own_token(
    deepgram, standin, stream_of, viewer_of, workers
):
    stream = await stream_of(
        None,
        playback_url=standin.playback_url(CHANNEL_ARN),
        is_private=True,
        channel_arn=CHANNEL_ARN,
    )
    viewer, *_ = await open_viewer(stream.slug, await viewer_of(stream))
    workers(1)
    seen = await receive_finals(viewer, 2)

    # The broadcast restarts: IVS ends every playback session, the worker starts a new one.
    assert standin.end_sessions(CHANNEL_ARN) == 1
    seen += await receive_finals(viewer, 2)
    got = finals(seen)
    assert [c["text"] for c in got] == [*PHRASES, PHRASES[0]]
    assert_in_order_and_unrepeated(got)

    worker = await sync_to_async(PlaybackGrant.objects.get)(stream=stream)
    assert worker.code_id is None  # the worker's own viewer id, nobody's access code
    starts = [r for r in standin.requests if r.path.startswith("/api/video/v1/")]
    assert [(r.status, r.viewer_id) for r in starts] == [(200, worker.viewer_id)] * 2
    assert all(r.origin == "" for r in starts)  # not a browser: no Origin to check
    await viewer.disconnect()


async def test_without_a_token_the_private_stream_is_refused_and_nothing_is_captioned(
    deepgram, standin, stream_of, viewer_of, workers
):
    stream = await stream_of(
        None, playback_url=standin.playback_url(CHANNEL_ARN), channel_arn=CHANNEL_ARN
    )  # marked public by mistake: the worker sends no token
    viewer, *_ = await open_viewer(stream.slug, await viewer_of(stream))
    workers(1)
    assert await viewer.receive_nothing(timeout=4)
    refused = [r for r in standin.requests if r.path.startswith("/api/video/v1/")]
    assert refused
    assert {(r.status, r.reason) for r in refused} == {(403, "no token")}
    await viewer.disconnect()
