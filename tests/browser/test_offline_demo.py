"""``make run``'s offline demo in a real browser, with nothing beyond 127.0.0.1 reachable: a
fresh database, ``manage.py rundemo`` (what ``make run`` serves with), the viewer code it
prints typed into the entry form; the live stream made on this machine plays and a caption
with words of the committed speech clip appears on the picture."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.browser.page_steps import enter_code, wait_for_player_state
from tests.worker.demo_site import TELLING_WORDS, DemoSite, start_demo


@pytest.fixture
def demo(tmp_path) -> Iterator[DemoSite]:
    # The page's default IVS SDK address is on the internet: offline it cannot load, and the
    # page plays with the vendored hls.js instead, as on a newcomer's machine without network.
    site = start_demo(tmp_path)
    yield site
    site.stop()


def test_the_offline_demo_plays_and_shows_captions_of_its_own_speech(demo, new_page):
    page = new_page()
    blocked: list[str] = []

    def only_this_machine(route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in ("127.0.0.1", "localhost") or url.startswith(
            ("data:", "blob:")
        ):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.context.route("**/*", only_this_machine)
    enter_code(page, demo, demo.viewer_code)
    assert page.url.endswith("/watch/offline-demo/")
    wait_for_player_state(page, "playing", timeout_ms=40_000)
    page.wait_for_function("() => document.getElementById('video').currentTime > 3", timeout=30_000)
    words = "|".join(sorted(TELLING_WORDS))
    page.wait_for_function(
        "pattern => new RegExp(pattern, 'i').test("
        "document.getElementById('caption-final').textContent)",
        arg=rf"\b({words})\b",
        timeout=60_000,
    )
    shown = page.locator("#caption-final").text_content()
    assert set(re.findall(r"[a-z]+", shown.lower())) & TELLING_WORDS
