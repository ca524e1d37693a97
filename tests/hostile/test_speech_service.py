"""Rows of docs/security.md about the speech service, through a real Daphne process and a local
double of it: its key is in no page, socket message or log line; a dropped connection loses and
repeats no final; a silent captioner keeps the connection alive; a refused key is not retried
and viewers hear only that captions are unavailable.
"""

from __future__ import annotations

import asyncio
import json
import re

from websockets.asyncio.client import connect

from deepgram_standin import DeepgramDouble
from tests.hostile.conftest import DEEPGRAM_KEY, PHRASES
from tests.hostile.probes import Frames, say, signed_in_admin, stored_finals
from tests.hostile.test_gate import Browser
from tests.live_site import session_for
from tests.multiprocess.clients import (
    Viewer,
    closed_with,
    headers,
    open_captioner,
    speak,
    stop_captioner,
    wait_until,
    ws_url,
)

# --- The speech service's key --------------------------------------------------------------------


async def test_the_speech_services_key_is_in_no_page_socket_message_or_log_line(single_site):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES) as dg:
        # DEBUG: every logger at its most talkative, the speech engine's wire log included.
        site = single_site(speech_url=dg.url, LOG_LEVEL="DEBUG")
        stream = single_site.stream
        viewer = Browser(site.url)
        viewer.load_form("/enter/")
        assert viewer.post("/enter/", code=stream.viewer_code)[0] == 302
        captioner = Browser(site.url)
        captioner.load_form("/enter/")
        assert captioner.post("/enter/", code=stream.captioner_code)[0] == 302
        viewer_frames = Frames(
            await connect(
                ws_url(site.url, "/ws/watch/talk/captions/"),
                additional_headers=headers(site.url, viewer.session),
            )
        )
        dg.refuse(401)  # the service refuses the key once: the captioner is told why
        refused, status = await open_captioner(site.url, "talk", captioner.session)
        assert (status["state"], "401" in status["message"]) == ("error", True)
        refused_code, refused_said = await closed_with(refused)
        ws, status = await open_captioner(site.url, "talk", captioner.session)
        assert status["state"] == "live"
        captioner_frames = Frames(ws)
        await speak(ws, 2.0, seed=21)
        await ws.send(json.dumps({"type": "stop"}))
        await captioner_frames.task
        stored = stored_finals(site)
        assert stored
        await wait_until(
            lambda: sum(m.get("is_final", False) for m in viewer_frames.messages()) == len(stored),
            within=10,
        )
        await viewer_frames.close()
        assert refused_code == 4500

        admin = signed_in_admin(site)
        pages = [
            browser.request(path)[2].decode()
            for browser, path in [
                (Browser(site.url), "/enter/"),
                (viewer, "/watch/talk/"),
                (captioner, "/watch/talk/"),
                (viewer, "/watch/talk/transcript.vtt"),
                (Browser(site.url), "/healthz"),
                (admin, "/admin/"),
                (admin, "/admin/livestream/stream/"),
                (admin, "/admin/gate/accesscode/"),
            ]
        ]
        player = pages[2]
        scripts = [
            site.get(path)[2].decode()
            for path in re.findall(r'<script[^>]* src="(/static/[^"]+)"', player)
        ]
        scripts.append(site.get("/static/js/pcm-worklet.js")[2].decode())
        assert len(scripts) >= 3, player  # the page's own scripts were all fetched
        everything = [
            *pages,
            *scripts,
            *viewer_frames.texts,
            *captioner_frames.texts,
            json.dumps(refused_said),
            site.log(),
        ]
        sent = {name.lower(): value for name, value in dg.handshakes[-1].headers.items()}
        assert sent["authorization"] == f"Token {DEEPGRAM_KEY}"  # the key was used...
        assert not [text for text in everything if DEEPGRAM_KEY in text]  # ...and never shown
        assert "DEBUG captions.speech" in site.log()  # the engine's own DEBUG lines were there


# --- The speech service: drops, silence, refusals ------------------------------------------------


async def test_a_dropped_speech_connection_loses_and_repeats_no_final(single_site):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES) as dg:
        site = single_site(speech_url=dg.url)
        stream = single_site.stream
        viewer = Viewer(site.url, "talk", session_for(site.url, stream.viewer_code))
        viewer.start()
        await asyncio.wait_for(viewer.connected.wait(), 10)
        dg.drop_after(1.5, how="abort")  # the TCP connection is cut, without a close frame
        ws, status = await open_captioner(
            site.url, "talk", session_for(site.url, stream.captioner_code)
        )
        assert status["state"] == "live"
        told = Frames(ws)
        await say(ws, 4, seed=90)
        await ws.send(json.dumps({"type": "stop"}))
        await told.task  # until the server closed it, after "stopped"

        assert len(dg.connections) == 2  # it reconnected, and replayed what was not answered
        states = [m["state"] for m in told.messages() if m["type"] == "status"]
        assert "reconnecting" in states
        assert states[-1] == "stopped"
        texts = [text for _, text in stored_finals(site)]
        assert len(texts) == 4  # a final for each phrase: none lost with the connection...
        assert len(set(texts)) == 4  # ...none stored twice after the replay...
        assert set(texts) == set(dg.final_texts)  # ...and each as the service said it
        await wait_until(lambda: len(viewer.finals) == len(texts), within=10)
        assert list(viewer.finals.values()) == texts
        await viewer.stop()


async def test_a_silent_captioner_keeps_its_speech_connection_alive(single_site):
    # Deepgram closes a connection that gets nothing for 10 s; the double's limit is shorter.
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES, idle_timeout=6.0) as dg:
        site = single_site(speech_url=dg.url)
        ws, status = await open_captioner(
            site.url, "talk", session_for(site.url, single_site.stream.captioner_code)
        )
        assert status["state"] == "live"
        await say(ws, 1, seed=100)
        await asyncio.sleep(9)  # nothing at all from the captioner: a paused microphone
        await say(ws, 1, seed=101)
        await stop_captioner(ws)
        assert dg.keepalives >= 1
        assert len(dg.connections) == 1  # never closed for idling, never reconnected
        assert len(stored_finals(site)) == 2


async def test_a_refused_key_is_not_retried_and_viewers_hear_only_captions_are_unavailable(
    single_site,
):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES) as dg:
        site = single_site(speech_url=dg.url)
        stream = single_site.stream
        viewer = Viewer(site.url, "talk", session_for(site.url, stream.viewer_code))
        viewer.start()
        await asyncio.wait_for(viewer.connected.wait(), 10)
        captioner = session_for(site.url, stream.captioner_code)
        for status_code in (401, 402, 403):
            dg.refuse(status_code)  # once: a retry would be let in
            tried, told = len(dg.handshakes), len(viewer.statuses)
            ws, status = await open_captioner(site.url, "talk", captioner)
            assert status["state"] == "error"
            assert str(status_code) in status["message"]  # the captioner is told what and why
            close_code, _ = await closed_with(ws)
            assert close_code == 4500
            await asyncio.sleep(2)
            assert len(dg.handshakes) == tried + 1  # asked once, never again
            await wait_until(lambda told=told: len(viewer.statuses) > told, within=5)
            told_viewers = viewer.statuses[-1]
            assert told_viewers["captioning"] is False
            assert told_viewers["message"] == "Captions are unavailable right now."
        # Neutral: nothing about why, nor about the key, reached any viewer.
        said = json.dumps(viewer.statuses)
        assert not [word for word in ("401", "402", "403", "DEEPGRAM", "credit") if word in said]
        await viewer.stop()
