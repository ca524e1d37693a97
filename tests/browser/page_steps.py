"""Steps a browser test takes on the site's pages, as a viewer would: enter a code in the real
form, wait for the player to reach a state, read where the video is."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.live_site import LiveSite


def enter_code(page: Page, site: LiveSite, code: str) -> None:
    """Open the entry page, type ``code`` into the real form and submit it."""
    page.goto(f"{site.url}/enter/")
    field_ = page.get_by_label("Access code")
    field_.fill("")
    field_.press_sequentially(code)
    with page.expect_navigation():
        page.get_by_role("button", name="Enter").click()


def wait_for_player_state(page: Page, state: str, timeout_ms: float = 20_000) -> None:
    page.wait_for_function(
        "state => document.body.dataset.playerState === state", arg=state, timeout=timeout_ms
    )


def video_time(page: Page) -> float:
    return page.evaluate("document.getElementById('video').currentTime")
