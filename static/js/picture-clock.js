// The UTC time of the frame on the viewer's screen, whichever engine plays the stream, so that
// captions can be shown when the picture reaches the moment their words were spoken.
//
// player.js sets the source once its engine runs; captions.js asks. Both import this module,
// and a module is evaluated once per page, so they share it.

const PLAUSIBLE_UTC_MS = Date.UTC(2001, 0, 1);
const MAX_LATENCY_S = 120;

let source = null;

/** Use `clock` ({ pictureUtc(), latencyMs() }) from now on. */
export function setSource(clock) {
  source = clock;
}

/** Milliseconds since the epoch (UTC) of the frame on screen, or null when unknown. */
export function pictureUtc() {
  const value = source ? source.pictureUtc() : null;
  return Number.isFinite(value) && value > PLAUSIBLE_UTC_MS ? value : null;
}

/** How far behind live the player is, in milliseconds, or null when it does not say. */
export function liveLatencyMs() {
  const seconds = source ? source.latencySeconds() : null;
  return Number.isFinite(seconds) && seconds > 0 && seconds < MAX_LATENCY_S
    ? seconds * 1000
    : null;
}

/** The name of the source in use ("ivs", "hls.js", "native"), for diagnostics. */
export function sourceName() {
  return source ? source.name : null;
}

// IVS: getSyncTime() is the UTC time of the frame at a granularity of one second, and changes
// (SYNC_TIME_UPDATE) as playback crosses into the next second. Between changes the picture time
// is the last value plus how far the position moved since. Measured against the frame on
// screen (bench/sync.py, SDK 1.56.1), the SDK steps into a new second anywhere from ~140 ms
// after to ~230 ms before the frame with that time is shown, and as a segment's metadata
// arrives it may step back a second and forth again at once. So the clock keeps the readings
// taken as the sync time reaches a new second and uses their median; until the first, any
// reading bounds the offset from below, and the largest is the best. A jump means a new
// timeline.
const IVS_DISCONTINUITY_MS = 3000;
const IVS_CHANGES_KEPT = 9;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function ivsClock(player, syncEvent) {
  let offset = null; // UTC ms minus position ms
  let changes = []; // readings taken as the sync time reached a new second, newest last
  let latest = null; // the highest sync time on this timeline

  function reading(sync) {
    return Number.isFinite(sync) && sync > PLAUSIBLE_UTC_MS ? sync - player.getPosition() * 1000 : null;
  }

  function restart(value) {
    offset = value;
    changes = [];
    latest = null;
  }

  function observe() {
    const value = reading(player.getSyncTime());
    if (value === null) return;
    if (offset === null || Math.abs(value - offset) > IVS_DISCONTINUITY_MS) restart(value);
    else if (changes.length === 0 && value > offset) offset = value;
  }

  function changed(sync) {
    const value = reading(sync);
    if (value === null) return;
    if (offset === null || Math.abs(value - offset) > IVS_DISCONTINUITY_MS) restart(value);
    if (latest !== null && sync <= latest) return; // a step back, or forth again after one
    latest = sync;
    changes.push(value);
    if (changes.length > IVS_CHANGES_KEPT) changes.shift();
    offset = median(changes);
  }

  if (syncEvent) player.addEventListener(syncEvent, changed);
  return {
    name: "ivs",
    pictureUtc() {
      observe();
      return offset === null ? null : offset + player.getPosition() * 1000;
    },
    latencySeconds: () => player.getLiveLatency(),
    reset() {
      offset = null;
      changes = [];
      latest = null;
    },
  };
}

// hls.js: playingDate is the EXT-X-PROGRAM-DATE-TIME of the fragment playing plus how far into
// it the video is; latency is how far behind the live edge it plays (live streams only: for a
// recording it is the time left).
export function hlsJsIsLive(hls) {
  const level = hls.levels && hls.levels[Math.max(0, hls.currentLevel)];
  return Boolean(level && level.details && level.details.live);
}

export function hlsJsClock(hls) {
  return {
    name: "hls.js",
    pictureUtc() {
      const date = hls.playingDate;
      return date ? date.getTime() : null;
    },
    latencySeconds: () => (hlsJsIsLive(hls) ? hls.latency : null),
  };
}

// Safari's own HLS: getStartDate() is the program date-time at currentTime 0.
export function nativeClock(video) {
  return {
    name: "native",
    pictureUtc() {
      if (typeof video.getStartDate !== "function") return null;
      const start = video.getStartDate().getTime();
      return Number.isFinite(start) ? start + video.currentTime * 1000 : null;
    },
    latencySeconds() {
      const ranges = video.seekable;
      if (!ranges || ranges.length === 0) return null;
      return ranges.end(ranges.length - 1) - video.currentTime;
    },
  };
}
