// When to show each caption: when the viewer's own picture reaches the moment its words were
// spoken (`spoken_at`, UTC ms), so captions keep step with lips and slides at whatever delay
// this viewer's video runs. Where the player cannot say what time its picture shows, captions
// wait for the player's live latency instead; "as soon as they arrive" turns waiting off.

import { liveLatencyMs, pictureUtc } from "./picture-clock.js";

const POLL_MS = 250; // the picture can stall or jump: look again at least this often
const STALE_MS = 10000; // recovered finals whose words left the picture longer ago: not shown
const IMPLAUSIBLE_WAIT_MS = 30000; // more than this at the live edge: the stream's clock is off
const OFFSET_SAMPLES = 50;
// Taken now: the video may move to a picture-in-picture window (pip-window.js) later.
const video = document.getElementById("video");

export class CaptionTiming {
  /**
   * immediate(): true to show captions on arrival. onFinal(caption, shown) and
   * onInterim(caption, shown): draw it now; shown = { picture: UTC ms of the frame on screen or
   * null, late: ms since it was due }.
   */
  constructor({ immediate, onFinal, onInterim }) {
    this.immediate = immediate;
    this.onFinal = onFinal;
    this.onInterim = onInterim;
    this.finals = []; // waiting to be shown, in seq order
    this.interim = null; // the newest interim not yet shown
    this.arrivals = 0;
    this.offsets = []; // local arrival time minus spoken_until, per caption: the smallest is
    // the best estimate of how the server's clock maps onto this page's
    this.timer = null;
  }

  /** Note when a caption message arrived (every live caption, final or interim). */
  arrived(caption) {
    const spoken = caption.spoken_until ?? caption.spoken_at;
    if (!Number.isFinite(spoken)) return;
    this.offsets.push(Date.now() - spoken);
    if (this.offsets.length > OFFSET_SAMPLES) this.offsets.shift();
  }

  final(caption, origin) {
    this.finals.push({ caption, origin, n: (this.arrivals += 1), arrivedAt: Date.now() });
    this.run();
  }

  interimCaption(caption) {
    this.interim = { caption, origin: "live", n: (this.arrivals += 1), arrivedAt: Date.now() };
    this.run();
  }

  /** Staff corrected a final still waiting to be shown. */
  correct(seq, text, removed) {
    for (const item of this.finals) {
      if (item.caption.seq === seq) item.caption = { ...item.caption, text, removed };
    }
  }

  /** Captioning stopped: an interim still waiting will never be finished; drop it. */
  stop() {
    this.interim = null;
    this.run();
  }

  get idle() {
    return this.finals.length === 0 && this.interim === null;
  }

  /** Milliseconds until `item` is due (negative: overdue). */
  wait(item) {
    if (this.immediate()) return 0;
    const spokenAt = item.caption.spoken_at;
    const latency = liveLatencyMs();
    if (Number.isFinite(spokenAt)) {
      const picture = pictureUtc();
      if (picture !== null) {
        const wait = spokenAt - picture;
        const atLiveEdge = latency !== null && latency < IMPLAUSIBLE_WAIT_MS;
        if (!(wait > IMPLAUSIBLE_WAIT_MS && atLiveEdge)) {
          const rate = video?.playbackRate || 1;
          return wait / rate;
        }
      }
    }
    // No picture time: the words were spoken about when they would have reached this page
    // with no processing delay; the picture shows them `latency` later.
    const offset = this.offsets.length ? Math.min(...this.offsets) : null;
    const spokenLocally = Number.isFinite(spokenAt) && offset !== null ? spokenAt + offset : item.arrivedAt;
    return spokenLocally + (latency ?? 0) - Date.now();
  }

  run() {
    clearTimeout(this.timer);
    this.timer = null;
    while (this.finals.length) {
      const item = this.finals[0];
      const wait = this.wait(item);
      if (wait > 0) break;
      this.finals.shift();
      const { caption } = item;
      const duration = Number.isFinite(caption.spoken_until - caption.spoken_at)
        ? caption.spoken_until - caption.spoken_at
        : 0;
      if (item.origin === "recovered" && -wait > STALE_MS + duration) continue;
      if (this.interim && this.interim.n < item.n) this.interim = null; // this final settles it
      this.onFinal(caption, { picture: pictureUtc(), late: -wait });
    }
    const interim = this.interim;
    if (interim && (this.finals.length === 0 || this.finals[0].n > interim.n)) {
      const wait = this.wait(interim);
      if (wait <= 0) {
        this.interim = null;
        this.onInterim(interim.caption, { picture: pictureUtc(), late: -wait });
      }
    }
    if (this.idle) return;
    const waits = [];
    if (this.finals.length) waits.push(this.wait(this.finals[0]));
    if (this.interim) waits.push(this.wait(this.interim));
    const next = Math.max(5, Math.min(POLL_MS, ...waits));
    this.timer = setTimeout(() => this.run(), next);
  }
}
