"""The player's controls in real Chromium: full screen on the whole player keeps the captions on
screen (IVS SDK and hls.js), the keyboard shortcuts, every control reachable by Tab with a name
and a visible focus ring, and what the player says when the video cannot play."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.caption_feed import FakeCaptions, final
from tests.browser.caption_overlay import box, inside
from tests.browser.hls_streams import serve_directory
from tests.browser.page_steps import enter_code, wait_for_player_state

IVS_UNREACHABLE = "http://127.0.0.1:9/amazon-ivs-player.min.js"
ENGINES = [
    pytest.param("ivs", {"IVS_PLAYER_SCRIPT_URL": "local"}, id="ivs"),
    pytest.param("hls.js", {"IVS_PLAYER_SCRIPT_URL": IVS_UNREACHABLE}, id="hls.js"),
]


def open_player(new_page, site, stream, **page_options):
    page = new_page(**page_options)
    feed = FakeCaptions(page)
    enter_code(page, site, stream.viewer_code)
    page.wait_for_function("() => document.body.dataset.captionsState === 'on'")
    return page, feed


def video_state(page) -> dict:
    return page.evaluate(
        """() => {
          const video = document.getElementById('video');
          return {paused: video.paused, muted: video.muted,
                  fullscreen: document.fullscreenElement && document.fullscreenElement.id,
                  captions: !document.getElementById('captions').hidden};
        }"""
    )


@pytest.fixture
def stream(site, hls_stream):
    return site.create_stream(hls_stream, title="Controls", viewer_code="CONTROLS42")


@pytest.mark.parametrize(("engine", "site_env"), ENGINES)
def test_full_screen_takes_the_whole_player_and_keeps_the_captions(
    engine, site, stream, new_page, screenshot
):
    page, feed = open_player(new_page, site, stream)
    wait_for_player_state(page, "playing")
    feed.send(final(1, "Full screen keeps the captions on the picture."))
    page.wait_for_function(
        "() => document.getElementById('caption-text').textContent.includes('on the picture')"
    )

    page.get_by_role("button", name="Full screen").click()
    page.wait_for_function(
        "() => document.fullscreenElement?.id === 'player'"
        " && document.getElementById('player').hasAttribute('data-fullscreen')"
    )
    assert page.get_by_role("button", name="Exit full screen").is_visible()
    caption, video = box(page, "#caption-text"), box(page, "#video")
    viewport = page.viewport_size
    assert video["width"] >= viewport["width"] - 1  # the player fills the screen
    assert page.locator("#caption-text").is_visible()
    assert inside(caption, video), (caption, video)
    assert inside(caption, {"x": 0, "y": 0, **viewport}), caption
    screenshot(page, f"player-fullscreen-{engine.replace('.', '')}")

    page.keyboard.press("f")
    page.wait_for_function("() => document.fullscreenElement === null")
    assert page.get_by_role("button", name="Full screen").is_visible()


def test_keyboard_shortcuts_play_mute_full_screen_and_captions(site, stream, new_page):
    page, _ = open_player(new_page, site, stream)
    wait_for_player_state(page, "playing")
    assert video_state(page) == {
        "paused": False,
        "muted": True,
        "fullscreen": None,
        "captions": True,
    }

    page.keyboard.press("k")
    page.wait_for_function("() => document.getElementById('video').paused")
    # The button is renamed on the media event that follows: wait for it.
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    page.keyboard.press("k")
    page.wait_for_function("() => !document.getElementById('video').paused")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('video').paused")
    page.keyboard.press(" ")
    page.wait_for_function("() => !document.getElementById('video').paused")

    page.keyboard.press("m")
    page.wait_for_function("() => !document.getElementById('video').muted")
    # The button is renamed on the media event that follows: wait for it.
    expect(page.get_by_role("button", name="Mute", exact=True)).to_be_visible()
    page.keyboard.press("m")
    page.wait_for_function("() => document.getElementById('video').muted")

    page.keyboard.press("c")
    assert video_state(page)["captions"] is False
    assert page.get_by_role("button", name="Captions").get_attribute("aria-pressed") == "false"
    page.keyboard.press("c")
    assert video_state(page)["captions"] is True

    page.keyboard.press("f")
    page.wait_for_function("() => document.fullscreenElement?.id === 'player'")
    page.keyboard.press("f")
    page.wait_for_function("() => document.fullscreenElement === null")

    # Typing elsewhere on the page is typing, not shortcuts.
    page.get_by_role("button", name="Caption settings").click()
    page.get_by_label("Font").focus()
    page.keyboard.press("m")
    page.keyboard.press("k")
    assert video_state(page)["muted"] is True
    assert video_state(page)["paused"] is False


def test_every_control_is_reachable_by_tab_with_a_name_and_a_visible_focus_ring(
    site, stream, new_page, screenshot
):
    page, _ = open_player(new_page, site, stream)
    wait_for_player_state(page, "playing")
    page.locator("body").focus()
    reached = []
    for _ in range(20):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
              const el = document.activeElement;
              const style = getComputedStyle(el);
              const name = el.getAttribute('aria-label')
                || (el.labels && el.labels[0] && el.labels[0].textContent.trim())
                || el.textContent.trim();
              return {id: el.id, name, inPlayer: !!el.closest('#player'),
                      ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2};
            }"""
        )
        if focused["inPlayer"]:
            reached.append(focused)
        if focused["id"] == "fullscreen-toggle":
            screenshot(page, "player-focus-ring")
            break
    ids = [item["id"] for item in reached]
    # "Tap to unmute" first: it is there while the video plays muted, as it starts.
    expected = ["unmute", "play-toggle", "mute-toggle", "volume", "live-button", "cc-toggle"]
    expected += ["settings-toggle", "pip-toggle", "fullscreen-toggle"]
    assert ids == expected, reached
    for item in reached:
        assert item["name"], item
        assert item["ring"], item
    # The controls stay up while the keyboard is in them.
    assert page.evaluate("document.getElementById('player').dataset.controls") == "shown"


def test_a_stream_that_cannot_be_reached_says_so_and_offers_to_retry(site, hls_server, new_page):
    # Nothing listens on port 9: the player never connects.
    stream = site.create_stream(
        "http://127.0.0.1:9/live/index.m3u8", title="Unreachable", viewer_code="UNREACH42"
    )
    page = new_page()
    enter_code(page, site, stream.viewer_code)
    page.wait_for_function(
        "() => ['unreachable', 'offline'].includes(document.body.dataset.playerState)",
        timeout=30_000,
    )
    text = page.locator("#player-state-text").inner_text()
    assert "Connection lost" not in text  # it never had a connection to lose
    assert page.get_by_role("button", name="Retry now").is_visible()


@pytest.mark.parametrize(("engine", "site_env"), ENGINES)
def test_live_turns_into_jump_to_live_when_the_viewer_falls_behind(
    engine, site, live_hls_stream, new_page
):
    stream = site.create_stream(live_hls_stream, title="Live", viewer_code="BEHIND42")
    page, _ = open_player(new_page, site, stream)
    wait_for_player_state(page, "playing")
    live = page.locator("#live-button")
    assert live.get_attribute("aria-label") == "Playing live"
    assert live.get_attribute("aria-disabled") == "true"

    page.keyboard.press("k")  # paused: the stream goes on without this viewer
    page.wait_for_function(
        "() => document.getElementById('live-button').getAttribute('aria-disabled') === 'false'"
    )
    assert live.get_attribute("aria-label") == "Jump to live"
    live.click()
    page.wait_for_function("() => !document.getElementById('video').paused", timeout=20_000)
    page.wait_for_function(
        "() => document.getElementById('live-button').getAttribute('aria-disabled') === 'true'",
        timeout=20_000,
    )
    assert live.get_attribute("aria-label") == "Playing live"


@pytest.mark.parametrize(("engine", "site_env"), ENGINES)
def test_a_lost_connection_says_so_and_comes_back_by_itself(
    engine, site, hls_server, live_hls_stream, new_page, screenshot
):
    # The live stream's files through a server of this test's own, which it then stops.
    relay = serve_directory(hls_server.directory)
    stream = site.create_stream(relay.url("live/index.m3u8"), title="Flaky", viewer_code="FLAKY42")
    page, _ = open_player(new_page, site, stream)
    wait_for_player_state(page, "playing")
    relay.stop()

    wait_for_player_state(page, "reconnecting", timeout_ms=60_000)
    assert page.locator("#player-state-text").inner_text() == "Connection lost — reconnecting…"
    assert page.get_by_role("button", name="Retry now").is_visible()
    screenshot(page, f"player-connection-lost-{engine.replace('.', '')}")

    # The same files again on the same port: a retry finds them and the video plays.
    port = int(relay.base_url.rsplit(":", 1)[1])
    back = serve_directory(hls_server.directory, port=port)
    try:
        page.get_by_role("button", name="Retry now").click()
        wait_for_player_state(page, "playing", timeout_ms=30_000)
    finally:
        back.stop()
