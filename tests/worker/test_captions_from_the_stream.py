"""The caption worker against a live HLS stream made by ffmpeg with speech at known offsets:
captions reach a viewer's socket stamped with the stream's own time, the admin sees who
captions, one worker per stream, and the worker lets go when the stream is switched back to
the microphone."""

from __future__ import annotations

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async

from captions import lease
from captions.live_state import holder
from captions.models import Caption
from gate.models import AccessCode, Role
from tests.captions.conftest import closed_with, receive_until, session_for, socket
from tests.captions.test_consumers import connected, finals, open_captioner, open_viewer, stop
from tests.worker.checks import (
    assert_every_utterance_captioned,
    assert_in_order_and_unrepeated,
    is_status,
    receive_finals,
)
from tests.worker.live import PHRASES

pytestmark = pytest.mark.django_db(transaction=True)

# How far spoken_at may be from the stream's program-date-time of the words (the bound).
TOLERANCE_MS = 300


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


async def test_local_engine_captions_reach_a_viewer_at_the_streams_own_time(
    live, stream_of, viewer_of, workers
):
    stream = await stream_of(live, caption_engine="local")
    viewer, _, status = await open_viewer(stream.slug, await viewer_of(stream))
    assert status["captioning"] is False
    workers(1)

    status = (await receive_until(viewer, is_status(True), timeout=15))[-1]
    assert status["engine"] == "local"
    assert "offline engine" in status["label"]
    got = finals(await receive_finals(viewer, 4))
    utterances = live.utterances()
    spoken = set().union(*(words(p) for p in PHRASES))
    for caption in got:
        onset, end, phrase = min(utterances, key=lambda u: abs(u[0] - caption["spoken_at"]))
        assert abs(caption["spoken_at"] - onset) <= TOLERANCE_MS, (caption, onset, phrase)
        assert caption["spoken_until"] <= end + TOLERANCE_MS, (caption, end, phrase)
        assert words(caption["text"]) & spoken, caption
    assert_in_order_and_unrepeated(got)
    stored = await sync_to_async(list)(Caption.objects.filter(stream=stream).order_by("seq"))
    assert [(c.seq, c.text, c.spoken_at) for c in stored[: len(got)]] == [
        (c["seq"], c["text"], c["spoken_at"]) for c in got
    ]
    now = await sync_to_async(holder)(stream.pk)
    assert now["by"] == "caption worker test-host:1"
    assert now["note"] == ""  # captioning, not waiting
    await viewer.disconnect()


async def test_deepgram_captions_of_the_stream_cover_its_words_in_order(
    deepgram, live, stream_of, viewer_of, workers
):
    stream = await stream_of(live)
    viewer, *_ = await open_viewer(stream.slug, await viewer_of(stream))
    workers(1)
    got = finals(await receive_finals(viewer, 4))
    assert [c["text"] for c in got] == [*PHRASES, PHRASES[0]]
    assert_in_order_and_unrepeated(got)
    utterances = live.utterances()
    # Each final's stretch of the stream holds the words it says (the first may begin mid-word,
    # where the worker joined the stream).
    for caption in got[1:]:
        onset, end, _ = min(utterances, key=lambda u: abs(u[1] - caption["spoken_until"]))
        assert caption["spoken_at"] - TOLERANCE_MS <= onset < end <= caption["spoken_until"]
    assert_every_utterance_captioned(got, utterances)
    await viewer.disconnect()


async def test_of_two_workers_one_captions_and_the_other_takes_over_where_it_stopped(
    deepgram, live, stream_of, viewer_of, workers
):
    stream = await stream_of(live)
    viewer, *_ = await open_viewer(stream.slug, await viewer_of(stream))
    (first, first_task), (second, second_task) = workers(2)
    seen = await receive_finals(viewer, 3)
    by = (await sync_to_async(holder)(stream.pk))["by"]
    active, active_task, other = (
        (first, first_task, second) if first.running else (second, second_task, first)
    )
    assert by == f"caption worker {active.name}"
    assert not other.running

    active_task.cancel()  # as on SIGTERM: it finishes its captions and lets go
    await asyncio.wait({active_task}, timeout=20)
    seen += await receive_finals(viewer, 4)
    assert (await sync_to_async(holder)(stream.pk))["by"] == f"caption worker {other.name}"
    got = finals(seen)
    assert_in_order_and_unrepeated(got)
    assert_every_utterance_captioned(got, live.utterances())
    await viewer.disconnect()


async def test_switching_back_to_the_microphone_stops_the_worker_and_frees_the_stream(
    deepgram, live, stream_of, viewer_of, workers
):
    stream = await stream_of(live)
    code = await AccessCode.objects.acreate(stream=stream, role=Role.CAPTIONER, code="MIC-2026")
    captioner_key = await sync_to_async(session_for)(code)
    viewer, *_ = await open_viewer(stream.slug, await viewer_of(stream))
    workers(1)
    await receive_finals(viewer, 1)

    microphone = await connected(
        socket(f"/ws/watch/{stream.slug}/audio/", session_key=captioner_key)
    )
    assert await closed_with(microphone) == 4409  # the worker holds the stream

    stream.caption_source = "microphone"
    await stream.asave(update_fields=["caption_source"])
    await receive_until(viewer, is_status(False), timeout=15)
    for _ in range(100):  # the lease goes once the session has stopped
        if await lease.holder(stream.pk) is None:
            break
        await asyncio.sleep(0.1)
    assert await lease.holder(stream.pk) is None
    microphone = await open_captioner(stream.slug, captioner_key)
    await stop(microphone)
    await viewer.disconnect()


async def test_the_admin_shows_which_worker_holds_a_stream_and_whether_it_waits(
    deepgram, live, stream_of, viewer_of, workers, admin_user, async_client
):
    stream = await stream_of(live)
    offline = await stream_of(None, playback_url=live.base_url + "/not-live/index.m3u8")
    viewer, *_ = await open_viewer(stream.slug, await viewer_of(stream))
    workers(1)
    await receive_finals(viewer, 1)
    await async_client.aforce_login(admin_user)
    page = (await async_client.get("/admin/livestream/stream/")).text
    rows = {name: page.split(name, 1)[1].split("</tr>", 1)[0] for name in ("Live 1", "Live 2")}
    assert re.search(r"by caption worker test-host:1 since \d\d:\d\d \(deepgram\)<", rows["Live 1"])
    assert "by caption worker test-host:1 since" in rows["Live 2"]
    assert "— waiting for the stream to go live" in rows["Live 2"]
    assert offline.title == "Live 2"
    await viewer.disconnect()
