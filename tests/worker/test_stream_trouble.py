"""The caption worker when the stream misbehaves: it goes offline and comes back, restarts with
a discontinuity, stalls, loses segments, or the worker falls behind the live edge. Captions
resume, at the stream's own time, and no final is lost or repeated."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from captions.worker import captioner as captioner_module
from captions.worker.decode import AudioDecoder
from tests.captions.conftest import receive_until
from tests.captions.test_consumers import finals, open_viewer
from tests.worker.checks import (
    assert_every_utterance_captioned,
    assert_in_order_and_unrepeated,
    is_status,
    receive_finals,
)
from tests.worker.live import Faults

pytestmark = pytest.mark.django_db(transaction=True)
DATE_OFFSET_MS = Faults.date_offset_ms

TOLERANCE_MS = 300


def now_ms() -> int:
    """The stream's clock now (the test stream's dates are Faults.date_offset_ms off ours)."""
    return round(time.time() * 1000) + DATE_OFFSET_MS


def assert_at_the_streams_time(got: list[dict], utterances) -> None:
    """Each final (after the first, which may start mid-word) holds the words it came from."""
    for caption in got:
        onset, end, _ = min(utterances, key=lambda u: abs(u[1] - caption["spoken_until"]))
        assert caption["spoken_at"] - TOLERANCE_MS <= onset < end <= caption["spoken_until"], (
            caption,
            onset,
            end,
        )


async def test_a_stream_that_goes_offline_and_comes_back_is_captioned_again(
    deepgram, live, stream_of, viewer_of, workers
):
    stream = await stream_of(live)
    viewer, *_ = await open_viewer(stream.slug, await viewer_of(stream))
    workers(1)
    before = finals(await receive_finals(viewer, 2))

    live.stop()  # the broadcast ends: its playlist 404s
    seen = await receive_until(viewer, is_status(False), timeout=20)
    assert seen[-1]["message"] == "Captions are paused."
    await asyncio.sleep(3)
    live.start()  # a new broadcast: sequence numbers from 0, new program-date-times
    seen = await receive_until(viewer, is_status(True), timeout=30)
    after = finals(await receive_finals(viewer, 3))
    assert_in_order_and_unrepeated(before + finals(seen) + after)
    assert_at_the_streams_time(after[1:], live.utterances(run=1))
    assert_every_utterance_captioned(after, live.utterances(run=1))
    await viewer.disconnect()


async def test_a_restart_with_a_discontinuity_keeps_the_captions_going(
    deepgram, live, stream_of, viewer_of, workers
):
    stream = await stream_of(live)
    viewer, *_ = await open_viewer(stream.slug, await viewer_of(stream))
    workers(1)
    seen = await receive_finals(viewer, 2)

    live.stop(clear=False)  # the encoder restarts 2.5 s later; the playlist carries on after
    await asyncio.sleep(2.5)  # a discontinuity, its timestamps and dates starting afresh
    live.start(append=True)
    seen += await receive_finals(viewer, 3)
    # Finals of the speech before the stop may come first on a loaded machine: wait, bounded,
    # for two from the restarted broadcast.
    for _ in range(6):
        if len([c for c in finals(seen) if c["spoken_at"] >= live.runs[1][0]]) >= 2:
            break
        seen += await receive_finals(viewer, 1)
    assert not [m for m in seen if m["type"] == "status" and not m["captioning"]]
    got = finals(seen)
    assert_in_order_and_unrepeated(got)
    restarted = [c for c in got if c["spoken_at"] >= live.runs[1][0]]
    assert len(restarted) >= 2
    assert_at_the_streams_time(restarted[1:], live.utterances(run=1))
    await viewer.disconnect()


async def test_failing_segments_and_a_short_stall_lose_and_repeat_nothing(
    deepgram, live, stream_of, viewer_of, workers
):
    stream = await stream_of(live)
    viewer, *_ = await open_viewer(stream.slug, await viewer_of(stream))
    workers(1)
    seen = await receive_finals(viewer, 1)

    # While the next phrase is being said, two segment requests get 500: fetched again, the
    # phrase is captioned all the same (given up, it would be missing).
    onset = next(u[0] for u in live.utterances(until=now_ms() + 10_000) if u[0] > now_ms() + 500)
    await asyncio.sleep((onset + 300 - now_ms()) / 1000)
    live.faults.failing_segments = 2
    await asyncio.sleep(3)
    playlist = (live.directory / "index.m3u8").read_bytes()
    live.faults.frozen[live.media_path] = playlist  # the playlist stops changing for 3 s
    await asyncio.sleep(3)
    live.faults.frozen.clear()
    seen += await receive_finals(viewer, 4)
    assert not [m for m in seen if m["type"] == "status" and not m["captioning"]]
    got = finals(seen)
    assert_in_order_and_unrepeated(got)
    # Retrying a segment may pause the audio long enough for the engine to end a final there:
    # an utterance is then in two finals, still all of it, once.
    assert_every_utterance_captioned(got, live.utterances())
    assert live.faults.failing_segments == 0
    await viewer.disconnect()


async def test_falling_behind_the_live_edge_skips_to_it_and_tells_viewers(
    deepgram, live, stream_of, viewer_of, workers, monkeypatch, caplog
):
    monkeypatch.setattr(captioner_module, "NOTICE_SECONDS", 1.0)
    decode = AudioDecoder.decode
    stalled = []

    def slow_once(self, data: bytes):
        if len(stalled) == 2:  # the third segment takes 7 s to decode (a starved process)
            import time

            time.sleep(7)
        stalled.append(1)
        return decode(self, data)

    monkeypatch.setattr(AudioDecoder, "decode", slow_once)
    stream = await stream_of(live)
    viewer, *_ = await open_viewer(stream.slug, await viewer_of(stream))
    workers(1)
    caplog.set_level(logging.WARNING, logger="captions.worker")
    seen = await receive_until(
        viewer, lambda m: m["type"] == "status" and "skipped" in m["message"], timeout=30
    )
    assert seen[-1]["captioning"] is True
    assert seen[-1]["message"].startswith("Captions skipped ")
    assert any("behind the live edge: skipped to it" in r.getMessage() for r in caplog.records)
    seen = await receive_until(viewer, lambda m: m["type"] == "status", timeout=15)
    assert seen[-1] == {**seen[-1], "captioning": True, "message": ""}  # "Captions on" again
    got = finals(seen + await receive_finals(viewer, 2))
    assert_in_order_and_unrepeated(got)
    await viewer.disconnect()
