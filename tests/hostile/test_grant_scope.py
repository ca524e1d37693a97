"""Rows of docs/security.md about what a grant opens, through a real Daphne process: a viewer's
session is refused on the audio socket, and a grant for one stream opens nothing of another.
"""

from __future__ import annotations

import json

from websockets.asyncio.client import connect

from deepgram_standin import DeepgramDouble
from tests.hostile.conftest import DEEPGRAM_KEY, PHRASES, STREAM_URL
from tests.hostile.probes import STORE_CAPTION, handshake_status
from tests.hostile.test_gate import Browser
from tests.live_site import session_for
from tests.multiprocess.clients import headers, open_captioner, stop_captioner, ws_url

# --- The wrong role on a socket ------------------------------------------------------------------


async def test_a_viewers_session_is_refused_on_the_audio_socket(single_site):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES) as dg:
        site = single_site(speech_url=dg.url)
        stream = single_site.stream
        viewer = session_for(site.url, stream.viewer_code)
        assert await handshake_status(site, "/ws/watch/talk/audio/", viewer) == 403
        assert await handshake_status(site, "/ws/watch/talk/audio/", None) == 403
        assert dg.handshakes == []  # nothing reached the speech service
        # Nor did the refused handshakes take the stream: the captioner starts at once.
        ws, status = await open_captioner(
            site.url, "talk", session_for(site.url, stream.captioner_code)
        )
        assert status["state"] == "live"
        await stop_captioner(ws)
        assert len(dg.handshakes) == 1


# --- Another stream's data -----------------------------------------------------------------------


async def test_a_grant_for_one_stream_opens_nothing_of_another(single_site):
    site = single_site()
    talk = single_site.stream
    board = site.create_stream(STREAM_URL, slug="board", title="Board")
    site.django(STORE_CAPTION, slug="board", text="Only for the board.")
    site.django(STORE_CAPTION, slug="talk", text="Welcome to the talk.")
    viewer = Browser(site.url)
    viewer.load_form("/enter/")
    assert viewer.post("/enter/", code=talk.viewer_code)[0] == 302
    captioner = session_for(site.url, talk.captioner_code)

    status, answer, _ = viewer.request("/watch/board/")
    assert (status, answer["Location"]) == (302, "/enter/?next=%2Fwatch%2Fboard%2F")
    for fmt in ("vtt", "srt", "txt"):
        status, _, body = viewer.request(f"/watch/board/transcript.{fmt}")
        assert status == 403, fmt
        assert b"Only for the board" not in body
    for session in (viewer.session, captioner):
        assert await handshake_status(site, "/ws/watch/board/captions/", session) == 403
    assert await handshake_status(site, "/ws/watch/board/audio/", captioner) == 403

    # Its own stream shows only its own captions.
    assert viewer.request("/watch/talk/transcript.txt")[2] == b"Welcome to the talk.\n"
    ws = await connect(
        ws_url(site.url, "/ws/watch/talk/captions/?after=0"),
        additional_headers=headers(site.url, viewer.session),
    )
    history = json.loads(await ws.recv())
    assert [caption["text"] for caption in history["captions"]] == ["Welcome to the talk."]
    await ws.close()

    # One grant per session: entering the board's code replaces the talk's.
    viewer.load_form("/enter/")
    assert viewer.post("/enter/", code=board.viewer_code)[0] == 302
    assert viewer.request("/watch/board/")[0] == 200
    assert viewer.request("/watch/talk/")[0] == 302
