"""The player page in a real Chromium: entry form, IVS SDK and hls.js playback, offline, phone."""

import re

import pytest

from tests.browser.page_steps import enter_code, video_time, wait_for_player_state

# Nothing listens on port 9 (discard): the SDK script fails at once, as when its CDN is blocked.
IVS_UNREACHABLE = "http://127.0.0.1:9/amazon-ivs-player.min.js"
ENGINES = [
    pytest.param("ivs", {"IVS_PLAYER_SCRIPT_URL": "local"}, id="ivs"),
    pytest.param("hls.js", {"IVS_PLAYER_SCRIPT_URL": IVS_UNREACHABLE}, id="hls.js"),
]
SCREENSHOTS = {"ivs": "player-ivs", "hls.js": "player-hlsjs"}
NOT_LIVE = "Not live yet — we'll start playing when the stream begins."


def body_data(page, name: str) -> str | None:
    return page.evaluate("name => document.body.dataset[name]", name)


@pytest.mark.parametrize(("engine", "site_env"), ENGINES)
def test_a_viewer_enters_a_code_and_the_stream_plays(
    engine, site, page, page_log, hls_stream, screenshot
):
    stream = site.create_stream(hls_stream, title="Browser test", viewer_code="PLAYTEST42")

    enter_code(page, site, "play-test-42")

    assert page.url == f"{site.url}{stream.watch_path}"
    wait_for_player_state(page, "playing")
    assert body_data(page, "playerEngine") == engine
    first = video_time(page)
    page.wait_for_timeout(1500)
    second = video_time(page)
    assert second >= first + 1, f"currentTime went from {first} to {second}"
    assert page.locator("#player-state").is_hidden()
    screenshot(page, SCREENSHOTS[engine])
    assert page_log.page_errors == []
    assert page_log.csp_violations() == []


@pytest.mark.parametrize(("engine", "site_env"), ENGINES)
def test_a_stream_that_is_not_live_shows_offline_and_retries(
    engine, site, page, hls_server, screenshot
):
    stream = site.create_stream(hls_server.missing_url, viewer_code="OFFLINE42")
    enter_code(page, site, stream.viewer_code)

    wait_for_player_state(page, "offline")
    assert body_data(page, "playerEngine") == engine
    message = page.locator("#player-state-text")
    assert message.is_visible()
    assert message.inner_text() == NOT_LIVE
    assert re.fullmatch(r"Trying again in \d+ s", page.locator("#player-retry").inner_text())
    assert page.get_by_role("button", name="Retry now").is_visible()
    screenshot(page, f"player-offline-{SCREENSHOTS[engine].removeprefix('player-')}")
    # The wait runs out, the player asks again, and the page still says it is not live: the
    # words in the status region stay as they are (no countdown, no flicker to "loading").
    page.evaluate(
        """() => {
          window.stateTexts = [];
          const text = document.getElementById("player-state-text");
          new MutationObserver(() => window.stateTexts.push(text.textContent))
            .observe(text, {childList: true, characterData: true, subtree: true});
        }"""
    )
    asked = hls_server.requests.count("/missing/index.m3u8")
    page.wait_for_function(
        "() => Number(document.body.dataset.playerAttempts) >= 1", timeout=15_000
    )
    page.wait_for_function(
        "() => document.body.dataset.playerState === 'offline'"
        " && !document.getElementById('player-state').hasAttribute('data-busy')",
        timeout=15_000,
    )
    assert hls_server.requests.count("/missing/index.m3u8") > asked
    assert message.inner_text() == NOT_LIVE
    assert page.evaluate("window.stateTexts") == []

    # "Retry now" asks at once.
    asked = hls_server.requests.count("/missing/index.m3u8")
    attempts = int(body_data(page, "playerAttempts"))
    page.get_by_role("button", name="Retry now").click()
    page.wait_for_function(
        "n => Number(document.body.dataset.playerAttempts) > n", arg=attempts, timeout=5_000
    )
    page.wait_for_function(
        "() => !document.getElementById('player-state').hasAttribute('data-busy')",
        timeout=15_000,
    )
    assert hls_server.requests.count("/missing/index.m3u8") > asked
    assert message.inner_text() == NOT_LIVE


def test_a_wrong_code_is_refused_on_the_entry_page(site, page, hls_stream, screenshot):
    site.create_stream(hls_stream, viewer_code="RIGHTCODE1")

    enter_code(page, site, "wrong-code-1")

    assert page.url == f"{site.url}/enter/"
    error = page.get_by_role("alert")
    assert error.is_visible()
    assert "That code doesn’t work" in error.inner_text()
    screenshot(page, "entry-wrong-code")


def test_the_player_fits_a_phone_and_plays_inline(
    site, new_page, hls_stream, local_ivs_sdk, screenshot
):
    stream = site.create_stream(hls_stream, title="Phone test", viewer_code="PHONE42")
    page = new_page(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )

    enter_code(page, site, stream.viewer_code.lower())
    wait_for_player_state(page, "playing")

    widths = page.evaluate(
        "({doc: document.documentElement.scrollWidth, body: document.body.scrollWidth,"
        " view: window.innerWidth})"
    )
    assert widths["view"] == 390
    assert widths["doc"] <= widths["view"], widths
    assert widths["body"] <= widths["view"], widths
    assert page.evaluate("document.getElementById('video').playsInline") is True
    box = page.locator("#video").bounding_box()
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390
    screenshot(page, "player-phone")


def test_the_csp_watch_sees_violations_in_workers_too(site, page, page_log, hls_stream):
    """A check of the check above: a worker's refused fetch must show up in the page log."""
    stream = site.create_stream(hls_stream, viewer_code="CSPCHECK1")
    enter_code(page, site, stream.viewer_code)
    wait_for_player_state(page, "playing")
    assert page_log.csp_violations() == []

    page.evaluate(
        """() => {
          const code = "fetch('http://localhost:9/not-allowed').catch(() => {});";
          new Worker(URL.createObjectURL(new Blob([code], {type: "text/javascript"})));
        }"""
    )
    page.wait_for_timeout(1000)

    violations = page_log.csp_violations()
    assert any("connect-src" in v and "localhost:9/not-allowed" in v for v in violations), (
        violations
    )


def test_caption_size_is_remembered_and_cc_hides_captions(site, page, hls_stream):
    stream = site.create_stream(hls_stream, title="Preferences", viewer_code="PREFS-CODE")
    enter_code(page, site, stream.viewer_code)
    captions = page.locator("#captions")
    assert captions.get_attribute("data-size") == "medium"
    page.get_by_role("button", name="Caption settings").click()
    page.get_by_label("Caption size").select_option("large")
    page.get_by_role("button", name="Done").click()
    cc = page.get_by_role("button", name="Captions", exact=True)
    cc.click()
    assert captions.is_hidden()
    assert cc.get_attribute("aria-pressed") == "false"

    page.reload()
    assert page.locator("#caption-size").input_value() == "large"
    assert captions.get_attribute("data-size") == "large"
    assert captions.is_hidden()
    cc.click()
    assert captions.is_visible()
    page.wait_for_function("() => document.body.dataset.captionsState === 'off'")
    assert page.locator("#captions-status").text_content() == (
        "No captions right now — they'll appear when captioning starts."
    )


def test_the_entry_forms_error_is_tied_to_the_code_field(site, page, hls_stream):
    site.create_stream(hls_stream, viewer_code="RIGHTCODE2")
    page.goto(f"{site.url}/enter/")
    with page.expect_navigation():
        page.get_by_role("button", name="Enter").click()  # no code at all

    field = page.get_by_label("Access code")
    assert field.get_attribute("aria-invalid") == "true"
    error = page.locator(f"#{field.get_attribute('aria-describedby')}")
    assert error.is_visible()
    assert error.get_attribute("role") == "alert"
    assert error.inner_text() == "This field is required."


def test_a_refused_codes_error_is_tied_to_the_code_field(site, page, hls_stream):
    site.create_stream(hls_stream, viewer_code="RIGHTCODE3")
    enter_code(page, site, "wrong-code-3")
    field = page.get_by_label("Access code")
    assert field.get_attribute("aria-invalid") == "true"
    error = page.locator(f"#{field.get_attribute('aria-describedby')}")
    assert "That code doesn’t work" in error.inner_text()


def test_every_page_has_a_favicon(site, page):
    page.goto(f"{site.url}/enter/")
    icons = page.eval_on_selector_all(
        "link[rel~='icon'], link[rel='apple-touch-icon']",
        "links => links.map((link) => [link.rel, link.getAttribute('href')])",
    )
    assert {rel for rel, _ in icons} == {"icon", "apple-touch-icon"}
    for _, href in icons:
        status, headers, body = site.get(href)
        assert status == 200, href
        assert headers["Content-Type"].startswith("image/"), (href, headers["Content-Type"])
        assert body
