"""The page driver of ``bench.sync``: the viewers (the player page in Chromium, reading the
frame on screen and the page's own picture clock), and the captions sent to them as a caption
session does: stored, then broadcast through the site's channel layer."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench.live_hls import FRAME_READER_JS, Event, LiveStream
from tests.live_site import LiveSite

# Every 200 ms: the page's own picture clock and latency, to compare with the frame on screen.
CLOCK_SAMPLER_JS = """async () => {
  const clock = await import('/static/js/picture-clock.js');
  window.__clock = [];
  setInterval(() => {
    window.__clock.push([Date.now(), clock.pictureUtc(), clock.liveLatencyMs()]);
  }, 200);
  return clock.sourceName();
}"""


@dataclass(frozen=True)
class Viewer:
    key: str
    player: str  # "hls.js" or "ivs" (document.body.dataset.playerEngine)
    immediate: bool  # "Show captions as soon as they arrive"

    @property
    def mode(self) -> str:
        return "as soon as they arrive (old)" if self.immediate else "in step with the picture"


@dataclass(frozen=True)
class Phase:
    key: str
    label: str
    stream: str  # "plain" (/live/, as ffmpeg wrote it) or "ivs" (/ivs/, with IVS's ID3 tags)
    viewers: tuple[Viewer, ...]


PHASES = (
    Phase(
        "hls",
        "hls.js",
        "plain",
        (Viewer("hls-step", "hls.js", False), Viewer("hls-arrival", "hls.js", True)),
    ),
    Phase(
        "ivs-metadata",
        "IVS SDK, segments with IVS's ID3 metadata",
        "ivs",
        (Viewer("ivs-step", "ivs", False), Viewer("ivs-arrival", "ivs", True)),
    ),
    Phase(
        "ivs-plain",
        "IVS SDK, the stream as ffmpeg wrote it",
        "plain",
        (Viewer("ivs-plain-step", "ivs", False),),
    ),
)


@dataclass
class Sent:
    seq: int
    event: int
    spoken_at: int
    sent_at: float


@dataclass
class Result:
    phase: Phase
    viewer: Viewer
    sent: list[Sent]
    timings: list[dict]
    frames: list[list]
    clock: list[list]
    source: str | None
    problems: list[str] = field(default_factory=list)


# --- Captions, stored and then sent through the channel layer --------------------------------


def use_site_database(site: LiveSite) -> None:
    """Set Django up in this process on the site's database and channel layer."""
    os.environ.update(site.env)
    import django

    django.setup()


def send_captions(
    slug: str, stream: LiveStream, events: list[Event], delay_ms: int, sent: list[Sent]
) -> None:
    """Each event's final, ``delay_ms`` after its words' moment: stored, then broadcast."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.db import connection
    from django.utils import timezone

    from captions.events import broadcast_event, status_message
    from captions.models import Caption
    from livestream.models import Stream

    try:
        target = Stream.objects.get(slug=slug)
        layer = get_channel_layer()
        send = async_to_sync(layer.group_send)
        send(target.group_name, broadcast_event(status_message(captioning=True, engine="deepgram")))
        began = timezone.now()
        for event in events:
            spoken_at = round(stream.utc_of(event.at))
            pause = (spoken_at + delay_ms) / 1000 - time.time()
            if pause > 0:
                time.sleep(pause)
            caption = Caption.store(
                target,
                text=event.text,
                start=event.at,
                end=event.at + event.duration,
                session_started_at=began,
                key=uuid.uuid4(),
                spoken_at=spoken_at,
                spoken_until=spoken_at + round(event.duration * 1000),
            )
            origin = Caption.objects.timeline_origin(target.pk)
            send(target.group_name, broadcast_event(caption.as_message(origin)))
            sent.append(Sent(caption.seq, event.index, spoken_at, time.time() * 1000))
    finally:
        connection.close()


# --- Viewers -----------------------------------------------------------------------------------


def open_viewer(browser: Any, site: LiveSite, code: str, viewer: Viewer) -> Any:
    context = browser.new_context(viewport={"width": 960, "height": 540})
    context.set_default_timeout(30_000)
    context.add_init_script(FRAME_READER_JS)
    settings = json.dumps({"immediate": viewer.immediate})
    context.add_init_script(
        f"try {{ localStorage.setItem('captions.settings', {json.dumps(settings)}); }} catch {{}}"
    )
    page = context.new_page()
    if viewer.player == "hls.js":
        # The SDK cannot load: the page falls back to hls.js, as for a browser without it.
        page.route("**/static/ivs/**", lambda route: route.abort())
    page.goto(f"{site.url}/enter/")
    page.get_by_label("Access code").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name="Enter").click()
    page.wait_for_function("() => document.body.dataset.playerState === 'playing'")
    engine = page.evaluate("document.body.dataset.playerEngine")
    if engine != viewer.player:
        raise RuntimeError(f"{viewer.key}: the page plays with {engine}, not {viewer.player}")
    return page


def collect(page: Any) -> tuple[list, list, list]:
    return (
        page.evaluate("window.__captionsTiming"),
        page.evaluate("window.__frames.slice()"),
        page.evaluate("window.__clock || []"),
    )


def run_phase(
    phase: Phase,
    browser: Any,
    site: LiveSite,
    code: str,
    slug: str,
    stream: LiveStream,
    events: list[Event],
    captions: int,
    delay_ms: int,
) -> list[Result]:
    print(f"-- {phase.label}", flush=True)
    pages = [open_viewer(browser, site, code, viewer) for viewer in phase.viewers]
    sources = [page.evaluate(CLOCK_SAMPLER_JS) for page in pages]
    time.sleep(5)  # let the players settle at their distance from live
    ahead = stream.stream_time_now() + 1.5
    chosen = [event for event in events if event.at >= ahead][:captions]
    if len(chosen) < captions:
        raise RuntimeError("the stream ends too soon for this phase: raise --seconds")
    sent: list[Sent] = []
    sender = threading.Thread(
        target=send_captions, args=(slug, stream, chosen, delay_ms, sent), name="captions"
    )
    sender.start()
    while sender.is_alive():
        sender.join(timeout=1)
        pages[0].wait_for_timeout(1)  # keep Playwright's connection serviced
    last = sent[-1].seq if sent else 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        drawn = [page.evaluate("window.__captionsTiming.map((t) => t.seq)") for page in pages]
        if all(last in seqs for seqs in drawn):
            break
        pages[0].wait_for_timeout(500)
    pages[0].wait_for_timeout(500)
    results = []
    for viewer, page, source in zip(phase.viewers, pages, sources, strict=True):
        timings, frames, clock = collect(page)
        results.append(Result(phase, viewer, sent, timings, frames, clock, source))
        page.context.close()
    return results
