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
// is the last value plus how far the position moved since. Each reading bounds the offset
// between the stream's UTC and the player's position from below (a change is noticed slightly
// after it happens), so the largest reading is the best; a jump means a new timeline.
const IVS_DISCONTINUITY_MS = 3000;

export function ivsClock(player, syncEvent) {
  let offset = null; // UTC ms minus position ms

  function observe(syncTime) {
    const sync = syncTime === undefined ? player.getSyncTime() : syncTime;
    if (!(Number.isFinite(sync) && sync > PLAUSIBLE_UTC_MS)) return;
    const reading = sync - player.getPosition() * 1000;
    if (offset === null || Math.abs(reading - offset) > IVS_DISCONTINUITY_MS) {
      offset = reading;
    } else if (reading > offset) {
      offset = reading;
    }
  }

  if (syncEvent) player.addEventListener(syncEvent, (value) => observe(value));
  return {
    name: "ivs",
    pictureUtc() {
      observe();
      return offset === null ? null : offset + player.getPosition() * 1000;
    },
    latencySeconds: () => player.getLiveLatency(),
    reset() {
      offset = null;
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
