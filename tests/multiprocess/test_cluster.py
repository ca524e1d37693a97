"""Two Daphne processes behind one Redis and one PostgreSQL, as production scales out."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.live_site import enter, session_for
from tests.multiprocess.clients import Viewer, open_captioner, speak, stop_captioner, wait_until
from tests.multiprocess.conftest import CORE, LEASE_SECONDS, PHRASES, PUBSUB

LAYERS = [pytest.param(CORE, id="core"), pytest.param(PUBSUB, id="pubsub")]


def stored_finals(site) -> list[tuple[int, str]]:
    code = "from captions.models import Caption\n"
    code += "result = list(Caption.objects.order_by('seq').values_list('seq', 'text'))"
    return [tuple(row) for row in site.django(code)]


@pytest.mark.parametrize("layer", LAYERS)
async def test_captions_from_a_captioner_on_one_process_reach_viewers_on_the_other(cluster, layer):
    a, b = cluster(layer)
    stream = cluster.stream
    viewers = [Viewer(b.url, stream.slug, session_for(b.url, stream.viewer_code)) for _ in range(3)]
    viewers.append(Viewer(a.url, stream.slug, session_for(a.url, stream.viewer_code)))
    for viewer in viewers:
        viewer.start()
    await asyncio.gather(*(asyncio.wait_for(v.connected.wait(), 10) for v in viewers))

    captioner, status = await open_captioner(
        a.url, stream.slug, session_for(a.url, stream.captioner_code)
    )
    assert status["state"] == "live"
    await speak(captioner, 4.0, seed=3)
    await stop_captioner(captioner)

    await wait_until(lambda: all(len(v.finals) >= 4 for v in viewers), within=10)
    stored = stored_finals(a)
    assert [text for _, text in stored] == PHRASES[:4]
    for viewer in viewers:
        assert list(viewer.finals.items()) == stored
        assert viewer.order == sorted(viewer.order)
        assert viewer.connections == 1  # nothing was missed, nothing resynced
        await viewer.stop()


async def test_a_second_captioner_on_the_other_process_is_refused(cluster):
    a, b = cluster(PUBSUB)
    stream = cluster.stream
    first, status = await open_captioner(
        a.url, stream.slug, session_for(a.url, stream.captioner_code)
    )
    assert status["state"] == "live"
    second, refusal = await open_captioner(
        b.url, stream.slug, session_for(b.url, stream.captioner_code)
    )
    assert refusal["state"] == "busy"
    await second.wait_closed()
    assert second.close_code == 4409
    await stop_captioner(first)
    third, status = await open_captioner(
        b.url, stream.slug, session_for(b.url, stream.captioner_code)
    )
    assert status["state"] == "live"  # released on stop, at once
    await stop_captioner(third)


async def test_the_rate_limit_counts_attempts_on_every_process(cluster):
    a, b = cluster(PUBSUB, GATE_RATE_LIMIT_PER_IP="4")
    statuses = [enter(site.url, f"WRONG{n}")[0] for n, site in enumerate([a, b, a, b, a, b])]
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert enter(b.url, cluster.stream.viewer_code)[0] == 429  # the same client, even a good code


async def test_killing_the_captioners_process_frees_the_lease_within_its_expiry(cluster):
    a, b = cluster(PUBSUB)
    stream = cluster.stream
    _captioner, status = await open_captioner(
        a.url, stream.slug, session_for(a.url, stream.captioner_code)
    )
    assert status["state"] == "live"
    session_b = session_for(b.url, stream.captioner_code)
    a.process.kill()
    killed_at = time.monotonic()
    while True:
        ws, status = await open_captioner(b.url, stream.slug, session_b)
        if status["state"] == "live":
            break
        assert status["state"] == "busy"
        assert time.monotonic() - killed_at < LEASE_SECONDS + 2
        await asyncio.sleep(0.3)
    assert time.monotonic() - killed_at <= LEASE_SECONDS + 2
    await speak(ws, 1.0, seed=5)
    await stop_captioner(ws)
    assert [text for _, text in stored_finals(b)] == [PHRASES[0]]


@pytest.mark.parametrize("layer", LAYERS)
async def test_a_redis_restart_mid_stream_loses_no_final(cluster, private_redis, layer):
    a, b = cluster(layer, redis_url=private_redis.url)
    stream = cluster.stream
    viewer = Viewer(b.url, stream.slug, session_for(b.url, stream.viewer_code))
    viewer.start()
    await asyncio.wait_for(viewer.connected.wait(), 10)
    captioner, status = await open_captioner(
        a.url, stream.slug, session_for(a.url, stream.captioner_code)
    )
    assert status["state"] == "live"

    await speak(captioner, 2.0, seed=11)
    await wait_until(lambda: len(viewer.finals) >= 2, within=10)
    await asyncio.to_thread(private_redis.restart)
    await speak(captioner, 3.0, seed=12)
    await stop_captioner(captioner)

    stored = stored_finals(a)
    assert [text for _, text in stored] == PHRASES[:5]
    await wait_until(lambda: len(viewer.finals) >= 5, within=30)
    assert list(viewer.finals.items()) == stored
    await viewer.stop()
    for site in (a, b):
        assert site.get("/healthz")[0] == 200
