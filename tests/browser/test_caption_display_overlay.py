"""Captions on the picture, in real Chromium: drawn over the video above the controls, two lines
at most with the newest words always in view (on a phone too), the interim continuing the last
line and looking provisional, cleared after silence and when captioning stops.

The page's captions socket is played by the test (caption_feed.FakeCaptions), so the test
decides exactly what arrives and when; test_captions_e2e.py covers the real socket."""

from __future__ import annotations

import itertools

import pytest

from tests.browser.caption_feed import final, interim, status, words
from tests.browser.caption_overlay import OFF, box, inside, open_player, wait_for_caption
from tests.browser.page_steps import wait_for_player_state

IVS_UNREACHABLE = "http://127.0.0.1:9/amazon-ivs-player.min.js"
ENGINES = [
    pytest.param("ivs", {"IVS_PLAYER_SCRIPT_URL": "local"}, id="ivs"),
    pytest.param("hls.js", {"IVS_PLAYER_SCRIPT_URL": IVS_UNREACHABLE}, id="hls.js"),
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def wait_for_cleared(page, timeout: float = 15_000) -> None:
    page.wait_for_function(
        "() => document.getElementById('caption-window').hasAttribute('data-empty')",
        timeout=timeout,
    )


# The box of every word in the caption text (finals and interim), in reading order.
WORD_RECTS = """
() => {
  const rects = [];
  for (const id of ['caption-final', 'caption-interim']) {
    const node = document.getElementById(id).firstChild;
    if (!node) continue;
    const pattern = /\\S+/g;
    const text = node.textContent;
    for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const r = range.getBoundingClientRect();
      rects.push({word: match[0], interim: id === 'caption-interim',
                  top: r.top, bottom: r.bottom, left: r.left, right: r.right});
    }
  }
  return rects;
}
"""


def visible_lines(page) -> list[str]:
    """The words that can be seen in the caption window, line by line, top to bottom."""
    window = box(page, "#caption-window")
    top, bottom = window["y"], window["y"] + window["height"]
    lines: dict[int, list[str]] = {}
    for rect in page.evaluate(WORD_RECTS):
        if rect["top"] >= top - 1 and rect["bottom"] <= bottom + 1:
            lines.setdefault(round(rect["top"]), []).append(rect["word"])
    return [" ".join(lines[key]) for key in sorted(lines)]


def line_height(page) -> float:
    return page.evaluate(
        "() => parseFloat(getComputedStyle(document.getElementById('caption-text')).lineHeight)"
    )


@pytest.fixture
def stream(site, hls_stream):
    return site.create_stream(hls_stream, title="Captions on the picture", viewer_code="ONPIC42")


@pytest.mark.parametrize(("engine", "site_env"), ENGINES)
def test_captions_are_drawn_on_the_video_above_the_controls(
    engine, site, stream, new_page, screenshot
):
    page, feed = open_player(new_page, site, stream)
    wait_for_player_state(page, "playing")
    assert page.evaluate("document.body.dataset.playerEngine") == engine
    feed.send(final(1, "Good morning and welcome to the keynote."))
    wait_for_caption(page, "welcome to the keynote")

    page.mouse.move(400, 300)  # the controls show while the pointer moves over the player
    page.wait_for_function("() => document.getElementById('player').dataset.controls === 'shown'")
    caption, video, controls = (
        box(page, "#caption-text"),
        box(page, "#video"),
        box(page, "#controls"),
    )
    assert inside(caption, video), (caption, video)
    assert caption["y"] + caption["height"] <= controls["y"] + 1, (caption, controls)
    screenshot(page, f"captions-desktop-{engine.replace('.', '')}")

    # Left alone, the controls hide and the captions move down, still on the picture.
    page.mouse.move(5, 700)
    page.wait_for_function(
        "() => document.getElementById('player').dataset.controls === 'hidden'", timeout=10_000
    )
    page.wait_for_timeout(300)  # the captions slide down (a 0.2 s transition)
    lowered = box(page, "#caption-text")
    assert inside(lowered, video), (lowered, video)
    assert lowered["y"] > caption["y"]
    log = new_page.log(page)
    assert log.page_errors == []
    assert log.csp_violations() == []


def test_a_60_word_caption_shows_its_last_words_within_two_lines_on_a_phone(
    site, stream, new_page, screenshot
):
    page, feed = open_player(new_page, site, stream, **PHONE)
    wait_for_player_state(page, "playing")
    text = words(60)
    feed.send(final(1, text))
    wait_for_caption(page, text.split()[-1])

    lines = visible_lines(page)
    assert 1 <= len(lines) <= 2, lines
    shown = " ".join(lines).split()
    assert shown == text.split()[-len(shown) :], (shown, text)  # the newest words, in order
    assert len(shown) >= 6, shown  # two lines' worth on a 390 px screen
    window, video = box(page, "#caption-window"), box(page, "#video")
    assert window["height"] <= 2 * line_height(page) + 1
    assert inside(window, video), (window, video)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "captions-phone")

    # The interim carries on the last line, after the final's words.
    more = words(5, offset=60)
    feed.send(interim(more))
    wait_for_caption(page, more.split()[-1])
    lines = visible_lines(page)
    assert len(lines) <= 2, lines
    assert lines[-1].endswith(more.split()[-1]), lines

    # On a phone the settings open under the picture, not over it.
    page.get_by_role("button", name="Caption settings").click()
    panel = box(page, "#caption-settings")
    assert panel["y"] >= video["y"] + video["height"] - 1, (panel, video)
    assert panel["x"] >= 0
    assert panel["x"] + panel["width"] <= 390
    screenshot(page, "caption-settings-phone")


def test_long_captions_roll_up_line_by_line_and_the_interim_looks_provisional(
    site, stream, new_page, screenshot
):
    page, feed = open_player(new_page, site, stream)
    seen: list[list[str]] = []
    said = ""
    for n in range(1, 7):
        text = words(9, offset=9 * n)
        said = f"{said} {text}".strip()
        feed.send(final(n, text))
        wait_for_caption(page, text.split()[-1])
        lines = visible_lines(page)
        assert 1 <= len(lines) <= 2, lines
        assert said.endswith(" ".join(lines)), (lines, said)  # the newest words, in order
        seen.append(lines)
    # Once full, each new line pushes the top one out: the old bottom line moves up.
    assert any(
        len(before) == 2 and after[0].startswith(before[1])
        for before, after in itertools.pairwise(seen)
    ), seen

    feed.send(interim("and then the speaker went on"))
    wait_for_caption(page, "the speaker went on")
    styles = page.evaluate(
        """() => {
          const style = (id) => getComputedStyle(document.getElementById(id));
          const f = style('caption-final'), i = style('caption-interim');
          return {finalStyle: f.fontStyle, interimStyle: i.fontStyle,
                  finalColor: f.color, interimColor: i.color};
        }"""
    )
    assert styles["interimStyle"] == "italic", styles
    assert styles["finalStyle"] == "normal", styles
    assert styles["interimColor"] != styles["finalColor"], styles
    assert visible_lines(page)[-1].endswith("went on")
    screenshot(page, "captions-interim")

    # The final replaces the interim: upright, and the provisional words are gone.
    feed.send(final(7, "And then the speaker went on to thank everyone."))
    wait_for_caption(page, "thank everyone.")
    assert page.locator("#caption-interim").text_content() == ""


def test_captions_clear_after_silence_and_when_captioning_stops(site, stream, new_page):
    page, feed = open_player(new_page, site, stream)
    feed.send(final(1, "A short sentence."))
    wait_for_caption(page, "A short sentence.")
    wait_for_cleared(page)  # nothing more was said
    assert page.locator("#caption-text").text_content() == ""

    feed.send(final(2, "Thank you all."), interim("And now"))
    wait_for_caption(page, "And now")
    feed.send(status(False, "Captions are paused."))
    # The unfinished interim goes at once; the rest soon after.
    page.wait_for_function("() => document.getElementById('caption-interim').textContent === ''")
    wait_for_cleared(page, timeout=6_000)
    assert page.locator("#captions-status").text_content() == OFF
