"""Captions on the picture, in real Chromium: drawn over the video above the controls, two lines
at most with the newest words always in view (on a phone too), the interim continuing the last
line, cleared after silence and when captioning stops; announced to screen readers one final at
a time; the same status words for everyone; settings remembered; the iPhone's text track.

The page's captions socket is played by the test (caption_feed.FakeCaptions), so the test
decides exactly what arrives and when; test_captions_e2e.py covers the real socket."""

from __future__ import annotations

import itertools

import pytest

from tests.browser.caption_feed import FakeCaptions, final, interim, status, words
from tests.browser.conftest import enter_code, wait_for_player_state

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


def wait_for_cleared(page, timeout: float = 15_000) -> None:
    page.wait_for_function(
        "() => document.getElementById('caption-window').hasAttribute('data-empty')",
        timeout=timeout,
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


def test_only_finals_are_announced_once_each(site, stream, new_page):
    page, feed = open_player(new_page, site, stream)
    wait_for_player_state(page, "playing")
    page.evaluate(
        """() => {
          window.announced = [];
          window.spoken = [];
          const announcer = document.getElementById('caption-announcer');
          new MutationObserver((records) => {
            for (const record of records) {
              for (const node of record.addedNodes) window.announced.push(node.textContent);
            }
          }).observe(announcer, {childList: true});
          // Every live region on the page: whatever changes in one is spoken.
          const regions = document.querySelectorAll(
            '[aria-live]:not([aria-live="off"]), [role="status"], [role="log"], [role="alert"]');
          for (const region of regions) {
            new MutationObserver(() => window.spoken.push(region.textContent))
              .observe(region, {childList: true, characterData: true, subtree: true});
          }
        }"""
    )
    # Interims as a speech service revises them: words that never make it into a final.
    feed.send(
        interim("Jello"),
        interim("Hello every one"),
        interim("Hello every one and wel"),
        final(1, "Hello everyone, and welcome."),
        interim("Two day we"),
        interim("Two day we will talk"),
        final(2, "Today we will talk about captions."),
    )
    wait_for_caption(page, "about captions.")
    page.wait_for_timeout(500)

    assert page.evaluate("window.announced") == [
        "Hello everyone, and welcome.",
        "Today we will talk about captions.",
    ]
    assert page.locator("#caption-announcer").get_attribute("aria-live") == "polite"
    spoken = " | ".join(page.evaluate("window.spoken"))
    for provisional in ("Jello", "every one", "Two day"):
        assert provisional not in spoken, spoken
    # What sighted viewers read is not announced a second time.
    overlay = page.locator("#captions")
    assert overlay.get_attribute("aria-hidden") == "true"
    assert overlay.get_attribute("aria-live") is None


def test_every_viewer_reads_the_same_status_when_nobody_captions(site, stream, new_page):
    # One viewer was there when captioning stopped ("Captions are paused." from the server)...
    there, feed = open_player(new_page, site, stream)
    assert there.locator("#captions-status").text_content() == "Captions on"
    feed.send(status(False, "Captions are paused."))
    there.wait_for_function("() => document.body.dataset.captionsState === 'off'")
    # ...another arrives afterwards (no message at all): both read the same words.
    late, _ = open_player(new_page, site, stream, feed_options={"captioning": False})
    late.wait_for_function("() => document.body.dataset.captionsState === 'off'")
    assert there.locator("#captions-status").text_content() == OFF
    assert late.locator("#captions-status").text_content() == OFF


SETTINGS_STYLE = """() => {
  const text = getComputedStyle(document.getElementById('caption-text'));
  const span = getComputedStyle(document.getElementById('caption-final'));
  return {color: text.color, font: text.fontFamily, size: parseFloat(text.fontSize),
          background: span.backgroundColor};
}"""


def test_caption_settings_are_applied_and_remembered(site, stream, new_page, screenshot):
    page, feed = open_player(new_page, site, stream)
    wait_for_player_state(page, "playing")
    feed.send(final(1, "Captions in every size, colour and font you need."))
    wait_for_caption(page, "font you need.")
    before = page.evaluate(SETTINGS_STYLE)
    assert before["color"] == "rgb(255, 255, 255)"
    assert before["background"] == "rgba(0, 0, 0, 0.75)"

    sizes = {}
    toggle = page.get_by_role("button", name="Caption settings")
    for size in ("small", "medium", "large"):
        toggle.click()
        page.get_by_label("Caption size").select_option(size)
        page.get_by_role("button", name="Done").click()
        sizes[size] = page.evaluate(SETTINGS_STYLE)["size"]
        screenshot(page, f"captions-size-{size}")
    assert sizes["small"] < sizes["medium"] < sizes["large"], sizes

    toggle.click()
    panel = page.locator("#caption-settings")
    assert panel.is_visible()
    assert inside(box(page, "#caption-settings"), box(page, "#player"))
    page.get_by_label("Text colour").select_option("yellow")
    page.get_by_label("Background colour").select_option("blue")
    page.get_by_label("Background opacity").select_option("100")
    page.get_by_label("Font").select_option("mono")
    page.get_by_label("Show captions as soon as they arrive").check()
    screenshot(page, "caption-settings-panel")
    page.keyboard.press("Escape")
    assert panel.is_hidden()
    assert toggle.get_attribute("aria-expanded") == "false"

    page.reload()
    page.wait_for_function("() => document.body.dataset.captionsState === 'on'")
    feed.send(final(2, "Still yellow on blue, in monospace."))
    wait_for_caption(page, "in monospace.")
    after = page.evaluate(SETTINGS_STYLE)
    assert after["color"] == "rgb(255, 255, 0)"
    assert after["background"] == "rgb(0, 0, 160)"
    assert "mono" in after["font"].lower()
    assert page.get_by_label("Show captions as soon as they arrive").is_checked()
    screenshot(page, "captions-yellow-on-blue-mono")


TEXT_TRACK_CHECK = """async (FINAL) => {
  const { TextTrackFeed, cueText, needsTextTrack } = await import('/static/js/text-track.js');
  const listeners = {};
  const tracks = [];
  const video = {
    currentTime: 42,
    webkitEnterFullscreen() {},
    addEventListener(type, fn) { (listeners[type] ||= []).push(fn); },
    addTextTrack(kind, label, language) {
      const track = {kind, label, language, mode: 'disabled', cues: [],
        addCue(cue) { this.cues.push(cue); },
        removeCue(cue) { this.cues = this.cues.filter((c) => c !== cue); }};
      tracks.push(track);
      return track;
    },
  };
  const fire = (type) => (listeners[type] || []).forEach((fn) => fn());
  const result = {};
  result.iphone = needsTextTrack(video, {fullscreenEnabled: false});
  result.desktop = needsTextTrack(video, {fullscreenEnabled: true});
  const feed = new TextTrackFeed(video, {language: 'en'});
  const track = tracks[0];
  result.track = {kind: track.kind, language: track.language, mode: track.mode};
  feed.show(FINAL, 'and the interim <b>');
  result.cues = track.cues.map((c) => ({text: c.text, start: c.startTime, end: c.endTime}));
  fire('webkitbeginfullscreen');
  result.modeInFullscreen = track.mode;
  feed.setEnabled(false);
  result.modeWithCcOff = track.mode;
  feed.setEnabled(true);
  fire('webkitendfullscreen');
  result.modeInline = track.mode;
  feed.show('Next words.', '');
  result.after = track.cues.map((c) => c.text);
  feed.clear();
  result.cleared = track.cues.length;
  result.short = cueText('One two.', '');
  return result;
}"""


def test_the_iphone_text_track_gets_the_same_captions(site, stream, new_page):
    page, _ = open_player(new_page, site, stream)
    long_final = words(40) + " Fish & chips <i>"
    result = page.evaluate(TEXT_TRACK_CHECK, long_final)

    assert result["iphone"] is True
    assert result["desktop"] is False
    assert result["track"] == {"kind": "captions", "language": "en", "mode": "hidden"}
    [cue] = result["cues"]
    assert cue["start"] == 0
    assert cue["end"] > 42
    lines = cue["text"].split("\n")
    assert len(lines) == 2, lines
    # The newest words, escaped for WebVTT; the interim in italics.
    assert lines[-1].endswith("<i>and the interim &lt;b&gt;</i>"), lines
    assert "Fish &amp; chips &lt;i&gt;" in cue["text"], cue
    plain = cue["text"].replace("<i>", "").replace("</i>", "")
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert all(len(line) <= 37 for line in plain.split("\n")), lines
    assert result["modeInFullscreen"] == "showing"  # the system player shows it
    assert result["modeWithCcOff"] == "disabled"
    assert result["modeInline"] == "hidden"  # inline, the page's overlay shows captions
    assert result["after"] == ["Next words."]
    assert result["cleared"] == 0
    assert result["short"] == "One two."
