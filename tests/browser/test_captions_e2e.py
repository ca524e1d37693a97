"""Captions end to end in real Chromium: a captioner's microphone (a WAV file of speech made
by espeak-ng) → this site → the local Deepgram double → a second browser, an ordinary viewer,
watching a playing video. The double never recognises speech: each final it sends takes the
next announced phrase, so the test knows what the viewer must see."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.page_steps import enter_code, video_time, wait_for_player_state
from tests.browser.pages import CHROMIUM_ARGS, PageFactory
from tests.conftest import require_program
from tests.live_site import start_deepgram_double

DEEPGRAM_KEY = "dg-e2e-secret-9c41d7be53aa"
XSS = "<img src=x onerror=\"document.title='pwned'\">"
PHRASES = ["Hello and welcome to the keynote.", XSS, "Captions reach every viewer."]
# Said after the phrases the test checks, so the screenshots show sentences.
MORE = [
    "Every viewer sees the same line at the same time.",
    "The transcript keeps everything said so far.",
    "Thank you all for joining us today.",
] * 3


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> Path:
    """Three seconds of speech then silence, at 48 kHz (Chromium loops the file)."""
    require_program("espeak-ng")
    ffmpeg = require_program("ffmpeg")
    directory = tmp_path_factory.mktemp("speech")
    raw = directory / "raw.wav"
    subprocess.run(
        ["espeak-ng", "-s", "150", "-w", str(raw), "Hello and welcome. Captions are working now."],
        check=True,
    )
    wav = directory / "speech.wav"
    subprocess.run(
        [
            ffmpeg,
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(raw),
            "-af",
            "apad=pad_dur=6",
            "-ar",
            "48000",
            "-ac",
            "1",
            "-c:a",
            "pcm_s16le",
            str(wav),
        ],
        check=True,
    )
    return wav


@pytest.fixture
def deepgram_double() -> Iterator[str]:
    double = start_deepgram_double(DEEPGRAM_KEY, phrases=PHRASES + MORE)
    yield double.url
    double.stop()


@pytest.fixture
def captioner_browser(playwright_instance, speech_wav):
    chromium = os.environ.get("CHROMIUM") or require_program("chromium")
    browser = playwright_instance.chromium.launch(
        executable_path=chromium,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={speech_wav}",
        ],
    )
    yield browser
    browser.close()


@pytest.fixture
def captioner_pages(captioner_browser, request) -> Iterator[PageFactory]:
    factory = PageFactory(captioner_browser, request)
    yield factory
    factory.close()


def collect_socket_frames(page) -> list[str]:
    frames: list[str] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))),
    )
    return frames


def collect_sent_frames(page) -> list[str | bytes]:
    sent: list[str | bytes] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    return sent


def transcript_texts(page) -> list[str]:
    return page.locator("#transcript-list .transcript-text").all_text_contents()


def test_a_captioners_speech_reaches_a_viewer_as_captions(
    live_server_factory, hls_stream, deepgram_double, captioner_pages, new_page, screenshot
):
    site = live_server_factory(DEEPGRAM_URL=deepgram_double, DEEPGRAM_API_KEY=DEEPGRAM_KEY)
    stream = site.create_stream(hls_stream, title="Captioned keynote")

    viewer = new_page()
    viewer_frames = collect_socket_frames(viewer)
    enter_code(viewer, site, stream.viewer_code)
    wait_for_player_state(viewer, "playing")
    assert viewer.locator("#caption-start").count() == 0  # viewers cannot caption

    captioner = captioner_pages()
    captioner_frames = collect_socket_frames(captioner)
    captioner_sent = collect_sent_frames(captioner)
    enter_code(captioner, site, stream.captioner_code)
    captioner.get_by_role("button", name="Start captions").click()
    captioner.wait_for_function(
        "() => document.body.dataset.captionerState === 'live'", timeout=15_000
    )
    assert captioner.get_by_role("button", name="Stop captions").is_visible()
    captioner.wait_for_function(
        "() => document.getElementById('mic-level').value > 0", timeout=10_000
    )

    viewer.wait_for_function(
        "n => document.querySelectorAll('#transcript-list li').length >= n",
        arg=len(PHRASES),
        timeout=30_000,
    )
    assert transcript_texts(viewer)[: len(PHRASES)] == PHRASES
    assert viewer.locator("#captions-status").text_content() == "Captions on"
    # The caption with HTML in it shows as text: no element was made from it.
    assert viewer.locator("#transcript-list img, #captions img").count() == 0
    assert viewer.title() != "pwned"
    first = video_time(viewer)
    viewer.wait_for_timeout(1200)
    assert video_time(viewer) > first  # captions under a video that keeps playing
    screenshot(viewer, "captions-viewer")
    screenshot(captioner, "captions-captioner")

    with viewer.expect_download() as download:
        viewer.get_by_role("link", name="WebVTT").click()
    vtt = Path(download.value.path()).read_text()
    assert vtt.startswith("WEBVTT")
    assert PHRASES[0] in vtt
    assert "&lt;img src=x" in vtt

    captioner.get_by_role("button", name="Stop captions").click()
    captioner.wait_for_function(
        "() => document.body.dataset.captionerState === 'stopped'", timeout=15_000
    )
    viewer.wait_for_function("() => document.body.dataset.captionsState === 'off'", timeout=10_000)
    # Captions leave the picture once captioning stops.
    viewer.wait_for_function(
        "() => document.getElementById('caption-window').hasAttribute('data-empty')",
        timeout=10_000,
    )
    # Someone who arrives now is told the same as those who saw captioning stop.
    late = new_page()
    enter_code(late, site, stream.viewer_code)
    late.wait_for_function("() => document.body.dataset.captionsState === 'off'")
    said = viewer.locator("#captions-status").text_content()
    assert late.locator("#captions-status").text_content() == said
    assert said == "No captions right now — they'll appear when captioning starts."

    # The speech service's key reached no page, script, socket message or log line.
    pages = [viewer.content(), captioner.content()]
    scripts = [
        site.get(path)[2].decode()
        for path in (
            "/static/js/captions.js",
            "/static/js/captioner.js",
            "/static/js/pcm-worklet.js",
        )
    ]
    everything = "\n".join([*pages, *scripts, *viewer_frames, *captioner_frames, site.log()])
    assert DEEPGRAM_KEY not in everything
    assert any(json.loads(f).get("type") == "caption" for f in viewer_frames if f.startswith("{"))

    # Before any audio, the captioner's page measured its clock against the server's and said
    # when its first sample was captured, on the server's clock.
    kinds = [
        "audio" if isinstance(frame, bytes) else json.loads(frame)["type"]
        for frame in captioner_sent
    ]
    first_audio = kinds.index("audio")
    assert kinds[:first_audio].count("clock") >= 3, kinds[: first_audio + 1]
    assert kinds[first_audio - 1] == "capture", kinds[: first_audio + 1]
    answers = [json.loads(f) for f in captioner_frames if '"type":"clock"' in f.replace(" ", "")]
    assert answers, captioner_frames[:5]
    assert all(isinstance(answer["server"], int) for answer in answers)
    # ...so every caption carries when its words were spoken, and the viewer drew each final.
    captions = [json.loads(f) for f in viewer_frames if '"type":"caption"' in f.replace(" ", "")]
    assert all(isinstance(c["spoken_at"], int) for c in captions), captions[:3]
    drawn = viewer.evaluate("window.__captionsTiming")
    assert [entry["seq"] for entry in drawn] == sorted(entry["seq"] for entry in drawn)
    assert all(isinstance(entry["spoken_at"], int) for entry in drawn), drawn
