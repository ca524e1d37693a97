"""Picture-in-picture in real Chromium (IVS SDK and hls.js): the whole player, with its captions
and controls, moves into the Document Picture-in-Picture window and comes back, the video
playing on throughout; a video-only window would leave the captions behind."""

from __future__ import annotations

import contextlib

import pytest
from playwright._impl._errors import TargetClosedError  # not re-exported by sync_api
from playwright.sync_api import expect

from tests.browser.caption_feed import final
from tests.browser.caption_overlay import box, inside
from tests.browser.page_steps import wait_for_player_state
from tests.browser.test_player_controls import ENGINES, open_player

PLAYING_ON = """t => {
  const video = document.getElementById('video');
  return !video.paused && video.currentTime > t + 0.5;
}"""


def position(page) -> float:
    return page.evaluate("document.getElementById('video').currentTime")


@pytest.fixture
def stream(site, hls_stream):
    return site.create_stream(hls_stream, title="Picture in picture", viewer_code="PIP42")


def open_window(page):
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="Picture in picture").click()
    pip = opened.value
    pip.wait_for_function("() => document.getElementById('player')?.hasAttribute('data-pip')")
    return pip


@pytest.mark.parametrize(("engine", "site_env"), ENGINES)
def test_picture_in_picture_takes_the_whole_player_with_its_captions(
    engine, site, stream, new_page, screenshot
):
    page, feed = open_player(new_page, site, stream)
    wait_for_player_state(page, "playing")

    pip = open_window(page)
    assert page.evaluate("document.getElementById('player')") is None
    expect(page.get_by_text("playing in a picture-in-picture window")).to_be_visible()
    pip.wait_for_function(PLAYING_ON, arg=position(pip))

    feed.send(final(1, "Captions follow the picture into its own window."))
    pip.wait_for_function(
        "() => document.getElementById('caption-text').textContent.includes('its own window')"
    )
    assert inside(box(pip, "#caption-text"), box(pip, "#video"))
    expect(page.locator("#transcript-list")).to_contain_text("its own window")
    # The page's state reaches the window: LIVE shows while playing; no full screen from there.
    expect(pip.locator("#live-button")).to_be_visible()
    expect(pip.locator("#fullscreen-toggle")).to_be_hidden()
    screenshot(pip, f"player-pip-{engine.replace('.', '')}")

    # The keyboard works in the window.
    pip.locator("#player").focus()
    pip.keyboard.press("m")
    pip.wait_for_function("() => !document.getElementById('video').muted")
    pip.keyboard.press("c")
    expect(pip.get_by_role("button", name="Captions")).to_have_attribute("aria-pressed", "false")
    pip.keyboard.press("c")
    expect(pip.get_by_role("button", name="Captions")).to_have_attribute("aria-pressed", "true")

    # In a small window the caption settings stay on the picture, every one within reach.
    pip.set_viewport_size({"width": 480, "height": 270})
    pip.get_by_role("button", name="Caption settings").click()
    done = pip.get_by_role("button", name="Done")
    expect(done).to_be_visible()
    window = {"x": 0, "y": 0, "width": 480, "height": 270}
    assert inside(box(pip, "#caption-settings"), window)  # the panel scrolls within itself
    done.scroll_into_view_if_needed()
    assert inside(box(pip, "#caption-settings-done"), window)
    assert pip.evaluate("[window.scrollX, window.scrollY]") == [0, 0]  # the window did not move
    screenshot(pip, f"player-pip-settings-{engine.replace('.', '')}")
    done.click()
    expect(pip.locator("#caption-settings")).to_be_hidden()
    expect(pip.get_by_role("button", name="Caption settings")).to_be_focused()
    # ...and a click elsewhere in the window closes them.
    pip.get_by_role("button", name="Caption settings").click()
    spacer, bar = box(pip, ".controls-spacer"), box(pip, "#controls")
    assert spacer["width"] > 20
    pip.mouse.click(spacer["x"] + spacer["width"] / 2, bar["y"] + bar["height"] / 2)  # no control
    expect(pip.locator("#caption-settings")).to_be_hidden()

    with contextlib.suppress(TargetClosedError):  # the click closes the window it is in
        pip.get_by_role("button", name="Back to the page").click()
    page.wait_for_function(
        "() => document.getElementById('player') && !document.getElementById('pip-placeholder')"
    )
    page.wait_for_function(
        "() => document.getElementById('player').contains(document.activeElement)"
    )
    page.wait_for_function(PLAYING_ON, arg=position(page))
    expect(page.get_by_role("button", name="Picture in picture")).to_be_visible()
    expect(page.locator("#caption-text")).to_contain_text("its own window")


def test_closing_the_window_brings_the_player_back(site, stream, new_page):
    page, _ = open_player(new_page, site, stream)
    wait_for_player_state(page, "playing")
    pip = open_window(page)
    pip.close()  # as the viewer closing the floating window
    page.wait_for_function("() => document.getElementById('player')")
    page.wait_for_function(PLAYING_ON, arg=position(page))
    assert page.evaluate("document.getElementById('pip-placeholder')") is None

    # ...and "Bring the video back" on the page does the same.
    open_window(page)
    page.get_by_role("button", name="Bring the video back").click()
    page.wait_for_function("() => document.getElementById('player')")
    page.wait_for_function(PLAYING_ON, arg=position(page))
