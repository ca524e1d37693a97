"""Captions for every viewer, in real Chromium: announced to screen readers one final at a time,
the same status words for everyone, caption settings applied and remembered, and the iPhone's
text track in fullscreen.

The page's captions socket is played by the test (caption_feed.FakeCaptions), so the test
decides exactly what arrives and when; test_captions_e2e.py covers the real socket."""

from __future__ import annotations

import pytest

from tests.browser.caption_feed import final, interim, status, words
from tests.browser.caption_overlay import OFF, box, inside, open_player, wait_for_caption
from tests.browser.page_steps import wait_for_player_state


@pytest.fixture
def stream(site, hls_stream):
    return site.create_stream(hls_stream, title="Captions on the picture", viewer_code="ONPIC42")


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
