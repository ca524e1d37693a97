"""What the captioner and viewers are told during faults, through real Daphne processes: never
"live" before the speech service listens, never "stopped" while finals are still owed, never
silence when the captioning process dies, and no final lost to a database outage."""

from __future__ import annotations

import asyncio
import json
import os
import signal

from deepgram_standin import DeepgramDouble
from tests.hostile.conftest import DEEPGRAM_KEY, LEASE_SECONDS, PHRASES
from tests.hostile.tcp_proxy import TcpProxy
from tests.live_site import session_for
from tests.multiprocess.clients import (
    Viewer,
    closed_with,
    open_captioner,
    speak,
    wait_until,
)
from tests.multiprocess.conftest import PUBSUB

STORED = "from captions.models import Caption\nresult = list(Caption.objects.order_by('seq')"
STORED += ".values_list('seq', 'text'))"


def stored_finals(site) -> list[tuple[int, str]]:
    return [tuple(row) for row in site.django(STORED)]


async def statuses_until(ws, state: str, within: float = 30) -> list[dict]:
    seen = []
    async with asyncio.timeout(within):
        while not seen or seen[-1].get("state") != state:
            message = json.loads(await ws.recv())
            if message.get("type") == "status":
                seen.append(message)
    return seen


async def test_a_busy_speech_service_at_start_is_delayed_not_live_until_it_listens(single_site):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES) as dg:
        site = single_site(speech_url=dg.url)
        dg.refuse(429)
        session = session_for(site.url, single_site.stream.captioner_code)
        ws, first = await open_captioner(site.url, "talk", session)
        assert first["state"] == "delayed"
        assert not dg.connections  # nothing listens yet

        seen = await statuses_until(ws, "live")
        assert [s["state"] for s in seen] == ["live"]
        assert len(dg.connections) == 1  # "live" came once the service accepted us
        await ws.close()


async def test_a_stop_while_the_service_answers_late_keeps_the_last_finals(single_site):
    async with DeepgramDouble(DEEPGRAM_KEY, phrases=PHRASES, delay=7.0) as dg:
        site = single_site(speech_url=dg.url)
        viewer = Viewer(site.url, "talk", session_for(site.url, single_site.stream.viewer_code))
        viewer.start()
        ws, status = await open_captioner(
            site.url, "talk", session_for(site.url, single_site.stream.captioner_code)
        )
        assert status["state"] == "live"
        await speak(ws, 3.0, seed=1)
        await ws.send(json.dumps({"type": "stop"}))
        seen = await statuses_until(ws, "stopped")

        assert [s["state"] for s in seen] == ["stopping", "stopped"]
        assert seen[-1]["message"] == "Captions stopped."
        assert [text for _, text in stored_finals(site)] == PHRASES[:3]
        await wait_until(lambda: len(viewer.finals) == 3, within=5)
        await viewer.stop()


async def test_a_refusing_speech_service_frees_the_stream_for_the_next_captioner(single_site):
    site = single_site(DEEPGRAM_API_KEY="not-the-key")
    session = session_for(site.url, single_site.stream.captioner_code)
    for _ in range(2):  # the second is refused for the same reason, not as "busy"
        ws, status = await open_captioner(site.url, "talk", session)
        assert status["state"] == "error"
        assert "401" in status["message"]
        close_code, _ = await closed_with(ws)
        assert close_code == 4500


async def test_viewers_on_other_processes_are_told_when_the_captioning_process_dies(cluster):
    a, b = cluster(PUBSUB)
    stream = cluster.stream
    viewer = Viewer(b.url, stream.slug, session_for(b.url, stream.viewer_code))
    viewer.start()
    await asyncio.wait_for(viewer.connected.wait(), 10)
    ws, status = await open_captioner(a.url, stream.slug, session_for(a.url, stream.captioner_code))
    assert status["state"] == "live"
    await speak(ws, 1.0, seed=2)
    await wait_until(lambda: viewer.statuses[-1]["captioning"], within=5)

    os.kill(a.process.pid, signal.SIGKILL)
    await wait_until(lambda: not viewer.statuses[-1]["captioning"], within=4 * LEASE_SECONDS)
    assert viewer.statuses[-1]["message"] == "Captions are paused."

    # And the stream is free again: a captioner on the surviving process starts.
    again, status = await open_captioner(
        b.url, stream.slug, session_for(b.url, stream.captioner_code)
    )
    assert status["state"] == "live"
    await again.close()
    await viewer.stop()


async def test_a_database_cut_mid_captioning_loses_no_final(cluster, postgres_database):
    host_port = postgres_database.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = TcpProxy(host, int(port))
    through_proxy = postgres_database.replace(host_port, f"127.0.0.1:{proxy.port}")
    try:
        (site,) = cluster(PUBSUB, processes=1, DATABASE_URL=through_proxy)
        stream = cluster.stream
        viewer_session = session_for(site.url, stream.viewer_code)
        viewer = Viewer(site.url, stream.slug, viewer_session)
        viewer.start()
        ws, status = await open_captioner(
            site.url, stream.slug, session_for(site.url, stream.captioner_code)
        )
        assert status["state"] == "live"
        await speak(ws, 2.0, seed=3)
        await wait_until(lambda: len(viewer.finals) == 2, within=10)

        proxy.cut()
        await speak(ws, 3.0, seed=4)
        delayed = await statuses_until(ws, "delayed")
        assert "database" in delayed[-1]["message"]
        proxy.restore()
        await statuses_until(ws, "live")
        await ws.send(json.dumps({"type": "stop"}))
        await statuses_until(ws, "stopped")

        stored = stored_finals(site)
        assert [text for _, text in stored] == PHRASES[:5]  # each once, in order
        await wait_until(lambda: len(viewer.finals) == 5, within=15)
        assert list(viewer.finals.items()) == stored
        await viewer.stop()
    finally:
        proxy.stop()
