"""The admin's live columns, through two real Daphne processes on Redis and PostgreSQL: viewers
on both processes add up, a code's watchers drop when they leave, and who captions shows."""

from __future__ import annotations

import asyncio
import re

from tests.hostile.test_gate import _CREATE_ADMIN, ADMIN, ADMIN_PASSWORD, Browser
from tests.live_site import session_for
from tests.multiprocess.clients import Viewer, open_captioner, wait_until
from tests.multiprocess.conftest import PUBSUB


def admin(site_url: str) -> Browser:
    browser = Browser(site_url)
    browser.load_form("/admin/login/")
    status, _, _ = browser.post(
        "/admin/login/", username=ADMIN, password=ADMIN_PASSWORD, next="/admin/"
    )
    assert status == 302
    return browser


def column(browser: Browser, path: str, field: str) -> list[str]:
    status, _, body = browser.request(path)
    assert status == 200
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(rf'<td class="field-{field}[^"]*">(.*?)</td>', body.decode(), re.S)
    ]


async def test_viewers_on_every_process_add_up_and_leave(cluster):
    a, b = cluster(PUBSUB)
    stream = cluster.stream
    a.django(_CREATE_ADMIN, name=ADMIN, password=ADMIN_PASSWORD)
    desk = admin(b.url)
    viewers = [Viewer(a.url, stream.slug, session_for(a.url, stream.viewer_code)) for _ in range(2)]
    viewers.append(Viewer(b.url, stream.slug, session_for(b.url, stream.viewer_code)))
    for viewer in viewers:
        viewer.start()
    await asyncio.gather(*(asyncio.wait_for(v.connected.wait(), 10) for v in viewers))

    def watching() -> tuple[list[str], list[str]]:
        streams = column(desk, "/admin/livestream/stream/", "viewers_now")
        codes = column(desk, "/admin/gate/accesscode/?role__exact=viewer", "watching_now")
        return streams, codes

    await wait_until(lambda: watching() == (["3"], ["3"]), within=10, step=0.5)

    for viewer in viewers[:2]:  # both on process a
        await viewer.stop()
    await wait_until(lambda: watching() == (["1"], ["1"]), within=10, step=0.5)
    await viewers[2].stop()


async def test_the_admin_shows_who_captions_since_when(cluster):
    a, b = cluster(PUBSUB)
    stream = cluster.stream
    a.django(_CREATE_ADMIN, name=ADMIN, password=ADMIN_PASSWORD)
    desk = admin(a.url)
    assert column(desk, "/admin/livestream/stream/", "captioning_now") == ["off"]
    ws, status = await open_captioner(b.url, stream.slug, session_for(b.url, stream.captioner_code))
    assert status["state"] == "live"
    (shown,) = column(desk, "/admin/livestream/stream/", "captioning_now")
    assert shown.startswith("by captioner code captioner since ")
    assert shown.endswith("(deepgram)")
    await ws.close()
    await wait_until(
        lambda: column(desk, "/admin/livestream/stream/", "captioning_now") == ["off"],
        within=10,
        step=0.5,
    )
