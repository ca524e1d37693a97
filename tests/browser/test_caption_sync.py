"""Captions in step with each viewer's picture, in real Chromium.

A caption is drawn when the viewer's picture reaches the moment its words were spoken
(`spoken_at`), whatever the viewer's delay: hls.js knows the picture's UTC time from a live
stream's EXT-X-PROGRAM-DATE-TIME, the IVS SDK from its sync time (unit-checked here: only IVS's
own segment metadata feeds it). Nothing here asserts on how long anything took: on the picture's
clock, a caption is never drawn before its words are on screen."""

from __future__ import annotations

import pytest

from tests.browser.caption_feed import FakeCaptions, final, interim
from tests.browser.page_steps import enter_code, wait_for_player_state

IVS_UNREACHABLE = "http://127.0.0.1:9/amazon-ivs-player.min.js"

PICTURE = """async () => {
  const clock = await import('/static/js/picture-clock.js');
  return {picture: clock.pictureUtc(), latency: clock.liveLatencyMs(), source: clock.sourceName()};
}"""

# Replace the player's picture clock with one the test sets: window.testPicture (UTC ms or
# null) and window.testLatency (seconds or null).
MANUAL_CLOCK = """async () => {
  const clock = await import('/static/js/picture-clock.js');
  window.testPicture = null;
  window.testLatency = null;
  clock.setSource({name: 'test', pictureUtc: () => window.testPicture,
                   latencySeconds: () => window.testLatency});
}"""


def drawn(page) -> str:
    return page.locator("#caption-text").text_content()


def timings(page) -> list[dict]:
    return page.evaluate("window.__captionsTiming")


@pytest.mark.parametrize("site_env", [{"IVS_PLAYER_SCRIPT_URL": IVS_UNREACHABLE}])
def test_with_hls_js_a_caption_waits_for_the_picture_to_reach_its_words(
    site, live_hls_stream, new_page
):
    stream = site.create_stream(live_hls_stream, title="Live", viewer_code="INSTEP42")
    page = new_page()
    feed = FakeCaptions(page)
    enter_code(page, site, stream.viewer_code)
    wait_for_player_state(page, "playing")
    page.wait_for_function(
        """async () => (await import('/static/js/picture-clock.js')).pictureUtc() !== null"""
    )
    clock = page.evaluate(PICTURE)
    assert clock["source"] == "hls.js"
    assert clock["latency"] is not None

    # Words the picture will show in two seconds.
    spoken_at = round(clock["picture"]) + 2000
    feed.send(interim("Words said", spoken_at=spoken_at - 400))
    feed.send(final(1, "Words said two seconds from now.", spoken_at=spoken_at))
    page.wait_for_function("() => window.__captionsTiming.length === 1", timeout=20_000)
    [shown] = timings(page)
    assert shown["seq"] == 1
    assert shown["spoken_at"] == spoken_at
    assert shown["shown_at_picture_utc"] >= spoken_at
    assert "two seconds from now" in drawn(page)


def test_captions_follow_the_picture_clock_or_else_the_latency_or_else_arrive_at_once(
    site, hls_stream, new_page
):
    stream = site.create_stream(hls_stream, title="Clocked", viewer_code="CLOCK42")
    page = new_page()
    feed = FakeCaptions(page)
    enter_code(page, site, stream.viewer_code)
    page.wait_for_function("() => document.body.dataset.playerEngine")
    page.wait_for_function("() => document.body.dataset.captionsState === 'on'")
    page.evaluate(MANUAL_CLOCK)
    picture = 1_800_000_000_000
    page.evaluate("t => { window.testPicture = t; }", picture)

    # The picture is 5 s before the words: nothing yet, however long the page waits...
    feed.send(final(1, "Spoken five seconds ahead.", spoken_at=picture + 5000))
    feed.send(interim("And then", spoken_at=picture + 7000))
    page.wait_for_timeout(1000)
    assert drawn(page) == ""
    assert timings(page) == []
    # ...and the moment the picture gets there, it is drawn.
    page.evaluate("t => { window.testPicture = t; }", picture + 5000)
    page.wait_for_function("() => window.__captionsTiming.length === 1")
    assert timings(page)[0]["shown_at_picture_utc"] == picture + 5000
    assert drawn(page) == "Spoken five seconds ahead."
    page.evaluate("t => { window.testPicture = t; }", picture + 7000)
    page.wait_for_function(
        "() => document.getElementById('caption-interim').textContent.includes('And then')"
    )

    # No picture time: it waits for the player's latency behind live instead.
    page.evaluate("() => { window.testPicture = null; window.testLatency = 100; }")
    feed.send(final(2, "Behind by the latency."))
    page.wait_for_timeout(1000)
    assert "Behind by the latency." not in drawn(page)
    page.evaluate("() => { window.testLatency = null; }")
    page.wait_for_function("() => window.__captionsTiming.length === 2")
    assert "Behind by the latency." in drawn(page)

    # "Show captions as soon as they arrive": no waiting at all.
    page.evaluate("t => { window.testPicture = t; }", picture + 7000)
    page.get_by_role("button", name="Caption settings").click()
    page.get_by_label("Show captions as soon as they arrive").check()
    page.get_by_role("button", name="Done").click()
    feed.send(final(3, "Spoken a minute from now.", spoken_at=picture + 60_000))
    page.wait_for_function("() => window.__captionsTiming.length === 3")
    assert "Spoken a minute from now." in drawn(page)


IVS_CLOCK = """async () => {
  const { ivsClock } = await import('/static/js/picture-clock.js');
  const listeners = [];
  const player = {
    sync: 0, position: 0,
    getSyncTime() { return this.sync; },
    getPosition() { return this.position; },
    getLiveLatency() { return 3.2; },
    addEventListener(type, fn) { listeners.push(fn); },
  };
  const clock = ivsClock(player, 'PlayerSyncTimeUpdate');
  const at = (position) => { player.position = position; return clock.pictureUtc(); };
  const change = (sync, position) => {
    player.sync = sync; player.position = position; listeners.forEach((fn) => fn(sync));
  };
  const T = 1800000000000;
  const result = {};
  result.none = at(3.0);                  // no sync time yet
  player.sync = T;                        // read mid-second: a bound from below
  result.firstRead = at(10.4);
  change(T + 1000, 10.65);                // the sync time ticks over: the frame is exactly there
  result.atTick = at(10.65);
  result.between = at(11.05);             // 400 ms later on the picture
  player.sync = T + 1000;
  result.staleRead = at(11.5);            // a later reading of the same second changes nothing
  change(T + 600000, 20.0);               // a jump (a new stream): start again
  result.afterJump = at(20.5);
  return result;
}"""


def test_the_ivs_sync_time_is_interpolated_between_its_one_second_steps(site, hls_stream, page):
    stream = site.create_stream(hls_stream, viewer_code="IVSCLOCK1")
    enter_code(page, site, stream.viewer_code)
    result = page.evaluate(IVS_CLOCK)
    t = 1_800_000_000_000
    assert result["none"] is None
    assert result["firstRead"] == t
    assert result["atTick"] == t + 1000
    assert result["between"] == pytest.approx(t + 1400)
    assert result["staleRead"] == pytest.approx(t + 1850)
    assert result["afterJump"] == pytest.approx(t + 600_500)


# The picture shows T + position - 10 s. The SDK steps into each new second a little early or
# late, and as a segment's metadata arrives it steps back a second and forth again at once.
IVS_STEPS = """async () => {
  const { ivsClock } = await import('/static/js/picture-clock.js');
  const listeners = [];
  const player = {
    sync: 0, position: 0,
    getSyncTime() { return this.sync; },
    getPosition() { return this.position; },
    getLiveLatency() { return 3.2; },
    addEventListener(type, fn) { listeners.push(fn); },
  };
  const clock = ivsClock(player, 'PlayerSyncTimeUpdate');
  const step = (sync, position) => {
    player.sync = sync; player.position = position; listeners.forEach((fn) => fn(sync));
  };
  const T = 1800000000000;
  step(T + 1000, 10.9);   // 100 ms early
  step(T + 2000, 12.05);  // 50 ms late
  step(T + 1000, 12.3);   // back a second as metadata arrives...
  step(T + 2000, 12.3);   // ...and forth again: neither marks a new second
  step(T + 3000, 12.8);   // 200 ms early
  player.position = 13.0;
  return clock.pictureUtc() - (T + 3000);
}"""


def test_the_ivs_clock_takes_the_median_step_into_a_new_second(site, hls_stream, page):
    stream = site.create_stream(hls_stream, viewer_code="IVSSTEPS1")
    enter_code(page, site, stream.viewer_code)
    # The median of +100, -50 and +200 ms; the largest reading would say +200, the lowest -1300.
    assert page.evaluate(IVS_STEPS) == pytest.approx(100)


SERVER_CLOCK = """async () => {
  const { ServerClock, clockSample } = await import('/static/js/server-clock.js');
  const sent = [];
  let now = 1000;
  const clock = new ServerClock((text) => sent.push(JSON.parse(text)), {now: () => now});
  const measured = clock.measure();
  // Round trips of 300, 40 and 120 ms against a server 5 s ahead; the 40 ms one is kept.
  const trips = [300, 40, 120, 90, 200];
  for (const trip of trips) {
    const t0 = sent[sent.length - 1].t0;
    now = t0 + trip;
    const other = clock.handle({type: 'status', state: 'live'});
    clock.handle({type: 'clock', t0, server: t0 + 5000 + trip / 2 + (trip === 40 ? 3 : 50)});
    if (other) return 'a status was taken for a clock answer';
  }
  return {offset: await measured, sent: sent.length, sample: clockSample(0, 100, 5050),
          roundTrip: clock.roundTrip};
}"""


def test_the_captioner_page_measures_its_clock_against_the_server_ntp_style(site, hls_stream, page):
    stream = site.create_stream(hls_stream, viewer_code="NTPCLOCK1")
    enter_code(page, site, stream.viewer_code)
    result = page.evaluate(SERVER_CLOCK)
    assert result["sent"] == 5
    assert result["roundTrip"] == 40
    assert result["offset"] == 5003  # the shortest round trip's estimate
    assert result["sample"] == {"roundTrip": 100, "offset": 5000}
