"""When words were spoken: the captioner's page measures its clock against the server's and says
when its audio was captured; every caption carries ``spoken_at``/``spoken_until`` (UTC ms), and
``start``/``end`` stay on the stream's one transcript timeline across caption sessions."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async

from captions.models import Caption
from tests.captions.conftest import closed_with, receive_until
from tests.captions.test_consumers import finals, open_captioner, open_viewer, speak, stop

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_server_answers_clock_probes_with_its_own_time(deepgram, captioner_key):
    captioner = await open_captioner("keynote", captioner_key)
    before = time.time() * 1000
    await captioner.send_to(text_data=json.dumps({"type": "clock", "t0": 12345}))
    reply = (await receive_until(captioner, lambda m: m["type"] == "clock"))[-1]
    assert reply["t0"] == 12345
    assert before - 1 <= reply["server"] <= time.time() * 1000 + 1
    await stop(captioner)


async def test_captions_carry_the_capture_time_the_page_gave(deepgram, captioner_key, viewer_key):
    deepgram.announce("One.", "Two.")
    viewer, *_ = await open_viewer("keynote", viewer_key)
    captioner = await open_captioner("keynote", captioner_key)
    started_at = round(time.time() * 1000) - 5_000  # the page started capturing 5 s ago
    await captioner.send_to(text_data=json.dumps({"type": "capture", "started_at": started_at}))
    await speak(captioner, 2.0)
    await stop(captioner)

    seen = await receive_until(viewer, lambda m: m["type"] == "status" and not m["captioning"])
    live = finals(seen)
    assert [m["text"] for m in live] == ["One.", "Two."]
    for message in live:
        assert message["spoken_at"] == started_at + round(message["start"] * 1000)
        assert message["spoken_until"] == started_at + round(message["end"] * 1000)
    stored = await sync_to_async(list)(Caption.objects.order_by("seq"))
    assert [c.spoken_at for c in stored] == [m["spoken_at"] for m in live]
    _, history, _ = await open_viewer("keynote", viewer_key)
    assert history["captions"] == live  # the same times for a viewer who joins later


async def test_without_the_page_saying_the_arrival_of_the_audio_is_used(deepgram, captioner_key):
    deepgram.announce("One.")
    captioner = await open_captioner("keynote", captioner_key)
    before = time.time() * 1000
    await speak(captioner, 1.0)
    await stop(captioner)
    (caption,) = await sync_to_async(list)(Caption.objects.all())
    assert before - 200 <= caption.spoken_at <= time.time() * 1000


@pytest.mark.parametrize("started_at", [0, "soon", True, None, 10**15])
async def test_an_absurd_capture_time_is_refused(deepgram, captioner_key, started_at):
    captioner = await open_captioner("keynote", captioner_key)
    await captioner.send_to(text_data=json.dumps({"type": "capture", "started_at": started_at}))
    seen = await receive_until(captioner, lambda m: m.get("state") == "error")
    assert "capture time" in seen[-1]["message"]
    assert await closed_with(captioner) == 4400


async def test_a_second_caption_session_continues_the_transcript_timeline(
    deepgram, captioner_key, viewer_key
):
    deepgram.announce("First session.", "Second session.")
    for _ in range(2):
        captioner = await open_captioner("keynote", captioner_key)
        await speak(captioner, 0.5)
        await stop(captioner)
        await asyncio.sleep(1.0)  # the second session begins at least a second later
    _, history, _ = await open_viewer("keynote", viewer_key)
    first, second = history["captions"]
    assert first["start"] == 0.0
    assert second["start"] >= 1.0  # not back at 0:00
