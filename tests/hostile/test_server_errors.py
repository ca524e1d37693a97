"""A server that fails, through one real Daphne on SQLite and the in-memory layer (no Redis,
no PostgreSQL): a handler that raises tells the client and frees the stream; the direct-write
fast path (captions/frames.py) fails loudly and safely when Daphne's internals change.

The faults are put into the server process by a preamble that runs before Daphne starts, as
an upgrade of a dependency or a bug would put them there.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import connect

from deepgram_standin import speech
from tests.hostile.conftest import PHRASES
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

SETUP = "import django\ndjango.setup()\n"
HISTORY_FAILS = SETUP + (
    "import captions.consumers as c\n"
    "async def broken(*args):\n"
    "    raise RuntimeError('history lookup failed')\n"
    "c._history = broken\n"
)
FEED_FAILS = SETUP + (
    "from captions.session import CaptionSession\n"
    "async def broken(self, pcm):\n"
    "    raise RuntimeError('feeding the engine failed')\n"
    "CaptionSession.feed = broken\n"
)
NO_PREPARED_MESSAGES = (
    "from autobahn.websocket.protocol import WebSocketProtocol\n"
    "del WebSocketProtocol.sendPreparedMessage\n"
)
DIRECT_WRITES_FAIL = SETUP + (
    "from captions.frames import DirectSocket\n"
    "def broken(self, message):\n"
    "    raise OSError('the socket went away')\n"
    "DirectSocket.write = broken\n"
)


async def test_a_viewer_handler_that_raises_closes_4500_after_saying_so(single_site):
    site = single_site(preamble=HISTORY_FAILS)
    session = session_for(site.url, single_site.stream.viewer_code)
    async with connect(
        ws_url(site.url, "/ws/watch/talk/captions/"), additional_headers=headers(site.url, session)
    ) as ws:
        close_code, statuses = await closed_with(ws)
    assert close_code == 4500
    assert statuses[-1]["state"] == "error"
    assert "Exception inside application" not in site.log()  # handled, not left to Daphne


async def test_a_captioner_handler_that_raises_closes_4500_and_frees_the_stream(single_site):
    site = single_site(preamble=FEED_FAILS)
    session = session_for(site.url, single_site.stream.captioner_code)
    for _ in range(2):  # the second is not "busy": the first released the lease
        ws, status = await open_captioner(site.url, "talk", session)
        assert status["state"] == "live"
        await ws.send(speech(0.1))
        close_code, statuses = await closed_with(ws)
        assert close_code == 4500
        assert statuses[-1]["state"] == "error"


async def live_captions_reach(site, stream) -> Viewer:
    viewer = Viewer(site.url, "talk", session_for(site.url, stream.viewer_code))
    viewer.start()
    await asyncio.wait_for(viewer.connected.wait(), 10)
    ws, status = await open_captioner(
        site.url, "talk", session_for(site.url, stream.captioner_code)
    )
    assert status["state"] == "live"
    await speak(ws, 3.0, seed=5)
    await stop_captioner(ws)
    await wait_until(lambda: len(viewer.finals) == 3, within=10)
    await viewer.stop()
    return viewer


async def test_captions_are_written_straight_to_daphnes_sockets(single_site):
    site = single_site()
    viewer = await live_captions_reach(site, single_site.stream)
    assert list(viewer.finals.values()) == PHRASES[:3]
    assert viewer.connections == 1  # live, not refetched after a gap
    assert "captions are written to Daphne's sockets directly" in site.log()


async def test_without_what_it_needs_the_fast_path_switches_off_with_one_warning(single_site):
    site = single_site(preamble=NO_PREPARED_MESSAGES)
    viewer = await live_captions_reach(site, single_site.stream)
    assert list(viewer.finals.values()) == PHRASES[:3]
    assert viewer.connections == 1
    log = site.log()
    assert log.count("WARNING captions.frames") == 1
    assert "protocol.sendPreparedMessage" in log
    assert "written to Daphne's sockets directly" not in log


async def test_a_failing_direct_write_logs_one_error_and_the_viewer_falls_back(single_site):
    site = single_site(preamble=DIRECT_WRITES_FAIL)
    viewer = await live_captions_reach(site, single_site.stream)
    assert list(viewer.finals.values()) == PHRASES[:3]
    assert viewer.connections == 1  # every caption arrived live, through ASGI
    assert site.log().count("ERROR captions.frames") == 1
