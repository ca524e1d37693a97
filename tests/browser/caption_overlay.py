"""The player page with its captions socket played by the test (caption_feed.FakeCaptions), and
what to read from the caption overlay drawn on the picture: for the caption display tests."""

from __future__ import annotations

from tests.browser.caption_feed import FakeCaptions
from tests.browser.page_steps import enter_code

OFF = "No captions right now — they'll appear when captioning starts."


def open_player(new_page, site, stream, feed_options=None, **page_options):
    page = new_page(**page_options)
    feed = FakeCaptions(page, **(feed_options or {}))
    enter_code(page, site, stream.viewer_code)
    page.wait_for_function("() => ['on', 'off'].includes(document.body.dataset.captionsState)")
    return page, feed


def wait_for_caption(page, text: str) -> None:
    """Until ``text`` is drawn and the lines have finished rolling up."""
    page.wait_for_function(
        "text => document.getElementById('caption-text').textContent.includes(text)"
        " && document.getElementById('caption-text').getAnimations().length === 0",
        arg=text,
    )


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


def inside(inner: dict, outer: dict, slack: float = 0.5) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack
    )
