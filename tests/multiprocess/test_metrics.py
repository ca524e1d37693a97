"""``/metrics`` through two real Daphne processes sharing PROMETHEUS_MULTIPROC_DIR: whichever
process answers, its numbers are every process's, and they move when captions are sent."""

from __future__ import annotations

import asyncio
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.live_site import session_for
from tests.multiprocess.clients import Viewer, open_captioner, speak, stop_captioner, wait_until
from tests.multiprocess.conftest import PUBSUB

TOKEN = "metrics-token-for-tests"


def scrape(site_url: str) -> dict[tuple[str, tuple], float]:
    request = urllib.request.Request(
        f"{site_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    wanted = tuple(sorted(labels.items()))
    return sum(v for (n, ls), v in samples.items() if n == name and set(wanted) <= set(ls))


async def test_metrics_from_any_process_count_every_process(cluster, tmp_path):
    shared = tmp_path / "metrics"
    shared.mkdir()
    a, b = cluster(PUBSUB, METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(shared))
    stream = cluster.stream
    before = scrape(b.url)
    viewers = [Viewer(a.url, stream.slug, session_for(a.url, stream.viewer_code))]
    viewers.append(Viewer(b.url, stream.slug, session_for(b.url, stream.viewer_code)))
    for viewer in viewers:
        viewer.start()
    await asyncio.gather(*(asyncio.wait_for(v.connected.wait(), 10) for v in viewers))

    ws, status = await open_captioner(a.url, stream.slug, session_for(a.url, stream.captioner_code))
    assert status["state"] == "live"
    await speak(ws, 3.0, seed=9)
    await stop_captioner(ws)
    await wait_until(lambda: all(len(v.finals) == 3 for v in viewers), within=15)

    after = scrape(b.url)  # process b never saw the captioner: a's numbers come with it
    assert value(after, "livestream_viewers", stream=stream.slug) == 2
    finals = "livestream_captions_total"
    assert value(after, finals, kind="final") - value(before, finals, kind="final") == 3
    latency = "livestream_fanout_latency_seconds_count"
    assert value(after, latency) - value(before, latency) >= 6  # 3 finals x 2 processes
    admitted = "livestream_gate_attempts_total"
    assert value(after, admitted, outcome="admitted") - value(before, admitted) == 3
    assert value(after, "livestream_websocket_closes_total", code="1000", by="server") >= 1
    for viewer in viewers:
        await viewer.stop()
    await wait_until(lambda: value(scrape(a.url), "livestream_viewers") == 0, within=10)
