"""Rows of docs/security.md about captions getting through what goes wrong on the server side,
through real Daphne processes: a viewer behind a full channel recovers every final from the
record, viewers of a restarted server resume with what they missed, and a handshake while the
database is down is told why, closed 4500, and gets in once the database answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
import time

from websockets.asyncio.client import connect

from tests.hostile.probes import SETUP, say, stored_finals
from tests.hostile.tcp_proxy import TcpProxy
from tests.live_site import BASE_DIR, LiveSite, session_for
from tests.multiprocess.clients import (
    Viewer,
    closed_with,
    headers,
    open_captioner,
    stop_captioner,
    wait_until,
    ws_url,
)
from tests.multiprocess.conftest import PUBSUB

# --- Slow viewers and a full channel -------------------------------------------------------------

# The process's relay stops reading the channel layer while the file named by RELAY_PAUSED
# exists, as a process too busy to keep up would; the layer holds 5 messages for it and drops
# the rest silently, as channel layers do with a full channel.
PAUSABLE_RELAY = SETUP + (
    "import asyncio, os\n"
    "from django.conf import settings\n"
    "settings.CHANNEL_LAYERS['default']['CONFIG']['capacity'] = 5\n"
    "from captions.fanout import StreamRelay\n"
    "deliver = StreamRelay._deliver\n"
    "async def paused(self, message):\n"
    "    while os.path.exists(os.environ['RELAY_PAUSED']):\n"
    "        await asyncio.sleep(0.05)\n"
    "    await deliver(self, message)\n"
    "StreamRelay._deliver = paused\n"
)


async def test_a_viewer_behind_a_full_channel_recovers_every_final_from_the_record(
    single_site, tmp_path
):
    flag = tmp_path / "relay-paused"
    site = single_site(preamble=PAUSABLE_RELAY, RELAY_PAUSED=str(flag))
    stream = single_site.stream
    viewer = Viewer(site.url, "talk", session_for(site.url, stream.viewer_code))
    viewer.start()
    await asyncio.wait_for(viewer.connected.wait(), 10)
    ws, status = await open_captioner(
        site.url, "talk", session_for(site.url, stream.captioner_code)
    )
    assert status["state"] == "live"

    flag.touch()
    await say(ws, 5, seed=40)  # finals, interims and statuses: far more than the channel holds
    await wait_until(lambda: len(stored_finals(site)) >= 5, within=10)
    flag.unlink()
    await say(ws, 2, seed=50)  # live finals again, after a gap in the sequence numbers
    await stop_captioner(ws)

    stored = stored_finals(site)
    await wait_until(lambda: len(viewer.finals) == len(stored), within=10)
    assert list(viewer.finals.items()) == stored
    assert viewer.order == sorted(viewer.order)
    assert viewer.connections >= 2  # it saw the gap and asked the record for what it missed
    await viewer.stop()


# --- A server restart ----------------------------------------------------------------------------


def restart(site: LiveSite, running) -> LiveSite:
    """Start the (stopped) Daphne process again on the same port, database and settings;
    ``running`` is the ``single_site`` or ``cluster`` fixture that started it."""
    site.stop()
    log_path = site.directory / f"daphne-restarted-{len(running.sites)}.log"
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", site.url.rsplit(":")[-1]]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*command, "livestream.asgi:application"],
            cwd=BASE_DIR, env=site.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    again = LiveSite(site.url, site.env, site.directory, log_path, process)
    running.sites.append(again)  # its log in the report, stopped at the end
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if again.get("/healthz", timeout=2)[0] == 200:
                return again
        time.sleep(0.1)
    raise RuntimeError(f"Daphne did not come back:\n{again.log()}")


async def test_viewers_of_a_restarted_server_resume_with_what_they_missed(cluster):
    a, b = cluster(PUBSUB)
    stream = cluster.stream
    viewer = Viewer(b.url, "talk", session_for(b.url, stream.viewer_code))
    viewer.start()
    await asyncio.wait_for(viewer.connected.wait(), 10)
    ws, status = await open_captioner(a.url, "talk", session_for(a.url, stream.captioner_code))
    assert status["state"] == "live"
    await say(ws, 2, seed=60)  # a final for each phrase
    await wait_until(lambda: len(viewer.finals) == 2, within=10)
    before = stored_finals(a)
    assert list(viewer.finals.items()) == before

    b.stop()  # the viewer's server process goes away, mid-stream...
    await say(ws, 3, seed=70)  # ...while the captioner, on the other one, goes on
    await wait_until(lambda: len(stored_finals(a)) == 5, within=10)
    b = await asyncio.to_thread(restart, b, cluster)  # and comes back
    await say(ws, 2, seed=80)
    await stop_captioner(ws)

    stored = stored_finals(a)
    assert stored[:2] == before  # nothing persisted was lost
    assert [seq for seq, _ in stored] == list(range(1, 8))
    # The viewer reconnected by itself, resumed after its last seq and got the three finals said
    # while its server was down from the record: each once, in order.
    await wait_until(lambda: len(viewer.finals) == 7, within=15)
    assert list(viewer.finals.items()) == stored
    assert viewer.connections >= 2
    await viewer.stop()


# --- A handshake while the database is down ------------------------------------------------------


async def attempts_until_history(site: LiveSite, session: str, within: float) -> int:
    """Open the captions socket as the page does after a 4500 (again, shortly) until it gets
    its history; how many handshakes that took."""
    deadline = time.monotonic() + within
    for attempt in itertools.count(1):
        async with connect(
            ws_url(site.url, "/ws/watch/talk/captions/"),
            additional_headers=headers(site.url, session),
            open_timeout=30,
        ) as ws:
            if json.loads(await ws.recv())["type"] == "history":
                return attempt
        assert time.monotonic() < deadline, f"no history after {attempt} handshakes"
        await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


async def test_a_handshake_while_the_database_is_down_is_told_why_and_closed_4500(
    cluster, postgres_database
):
    host_port = postgres_database.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = TcpProxy(host, int(port))
    try:
        (site,) = cluster(
            PUBSUB,
            processes=1,
            DATABASE_URL=postgres_database.replace(host_port, f"127.0.0.1:{proxy.port}"),
        )
        stream = cluster.stream
        sessions = {
            "captions": session_for(site.url, stream.viewer_code),
            "audio": session_for(site.url, stream.captioner_code),
        }
        proxy.cut()
        for path, session in sessions.items():
            async with connect(
                ws_url(site.url, f"/ws/watch/talk/{path}/"),
                additional_headers=headers(site.url, session),
                open_timeout=30,  # the connection pool waits up to 10 s for the database
            ) as ws:
                close_code, said = await closed_with(ws, within=30)
            assert close_code == 4500, path
            assert said[-1]["state"] == "error", path
        proxy.restore()
        # The page reconnects by itself after 4500 and gets in at its first try once the
        # database answers: the pool checks connections, so none broken by the outage is used.
        assert await attempts_until_history(site, sessions["captions"], within=15) == 1
    finally:
        proxy.stop()
