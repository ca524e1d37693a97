"""The row of docs/security.md about HTML in titles and captions: in a real Chromium, against a
real Daphne process, a title and captions (from the history and live) full of markup show as
text, make no element and run nothing, under a Content-Security-Policy without
``'unsafe-inline'``.
"""

from __future__ import annotations

import os

from deepgram_standin import DeepgramDouble
from tests.conftest import require_program
from tests.hostile.conftest import DEEPGRAM_KEY, STREAM_URL
from tests.hostile.probes import STORE_CAPTION, say
from tests.live_site import session_for
from tests.multiprocess.clients import open_captioner, stop_captioner

XSS_TITLE = '<img src=x onerror="window.injected=1">Keynote</h1><script>window.injected=2</script>'
XSS_STORED = '<img src=x onerror="window.injected=3"> & <b>stored</b>'
XSS_LIVE = '<script>window.injected=4</script><svg onload="window.injected=5"> live'


# Nothing listens on port 9: the IVS SDK fails at once and the page goes on without it.
NO_SDK = "http://127.0.0.1:9/amazon-ivs-player.min.js"


async def test_html_in_a_title_or_a_caption_shows_as_text_in_a_real_browser(single_site):
    chromium = os.environ.get("CHROMIUM") or require_program("chromium")
    from playwright.async_api import async_playwright

    async with DeepgramDouble(DEEPGRAM_KEY, phrases=[XSS_LIVE]) as dg:
        site = single_site(speech_url=dg.url, IVS_PLAYER_SCRIPT_URL=NO_SDK)
        stream = site.create_stream(STREAM_URL, slug="xss", title=XSS_TITLE)
        site.django(STORE_CAPTION, slug="xss", text=XSS_STORED)  # comes with the history
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            page = await browser.new_page()
            await page.goto(f"{site.url}/enter/")
            await page.fill("#id_code", stream.viewer_code)
            async with page.expect_response(lambda r: r.url.endswith("/watch/xss/")) as watch:
                await page.click("button[type=submit]")
            policy = (await watch.value).headers["content-security-policy"]
            await page.wait_for_function(
                "() => document.querySelectorAll('#transcript-list li').length === 1"
            )
            captioner, status = await open_captioner(
                site.url, "xss", session_for(site.url, stream.captioner_code)
            )
            assert status["state"] == "live"
            await say(captioner, 1, seed=110)
            await page.wait_for_function(
                "() => document.querySelectorAll('#transcript-list li').length === 2",
                timeout=15_000,
            )
            await stop_captioner(captioner)

            assert await page.locator("h1").first.text_content() == XSS_TITLE
            assert (await page.title()).startswith(XSS_TITLE)
            texts = await page.locator("#transcript-list .transcript-text").all_text_contents()
            assert texts == [XSS_STORED, XSS_LIVE]
            made = await page.evaluate(
                "() => document.querySelectorAll('img, b, script:not([src]):not([type]), "
                "h1 *, #transcript-list .transcript-text *, #caption-final *').length"
            )
            assert made == 0  # no element was made from any of it...
            assert await page.evaluate("() => window.injected") is None  # ...and nothing ran
            await browser.close()
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
