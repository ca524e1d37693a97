// Where the player loads the video from, and when the viewer's access has ended.
//
// A public stream: its playback URL, always. A private stream (an IVS channel with playback
// authorization): the URL with this viewer's playback token. IVS checks a token only when
// playback starts, so one that expires while the video plays does no harm; but each time the
// player must load again (reconnecting, offline → live, a retry) it needs one that is still
// good. The page brings one; after that, when the one in hand is stale, a fresh one comes from
// /watch/<slug>/playback/ — so a viewer can watch for hours without reloading the page.
//
// Access ends when the captions socket closes with 4403 (the code was revoked or expired;
// captions.js dispatches "livestream:access-ended") or the playback endpoint answers 403. The
// player then stops for good (player.js) and says so.

const config = JSON.parse(document.getElementById("player-config").textContent);

export const ACCESS_ENDED = "livestream:access-ended";
// Stale this long before it expires (half its life, for very short ones): loading takes time.
const MARGIN_S = 60;
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;

let current = null; // { url, staleAt }: staleAt on performance.now()'s clock
let ended = false;
let fetches = 0;
const never = new Promise(() => {});

function remember(url, expiresIn) {
  const lifetime = Math.max(0, Number(expiresIn) || 0);
  const margin = Math.min(MARGIN_S, lifetime / 2);
  current = url ? { url, staleAt: performance.now() + (lifetime - margin) * 1000 } : null;
}

function stale() {
  return !current || performance.now() >= current.staleAt;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh URL from the server; retried (with jittered backoff) until it answers. */
async function fetchFresh() {
  let delay = RETRY_FIRST_MS;
  while (!ended) {
    fetches += 1;
    try {
      const response = await fetch(config.playbackEndpoint, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
      if (response.status === 403) {
        endAccess();
        break;
      }
      if (response.ok) {
        const body = await response.json();
        remember(body.url, body.expires_in);
        return body.url;
      }
    } catch (error) {
      console.warn("could not get a playback URL:", error.message);
    }
    await sleep(delay * (0.8 + Math.random() * 0.4));
    delay = Math.min(delay * 2, RETRY_MAX_MS);
  }
  return never; // nothing more will play
}

/** The URL to load now. Never rejects; once access has ended it never resolves. */
export async function playbackUrl() {
  if (!config.private) return config.playbackUrl;
  if (ended) return never;
  return stale() ? fetchFresh() : current.url;
}

/** The URL in hand was refused (403 from IVS): the next load asks for a fresh one. */
export function forgetUrl() {
  current = null;
}

export function endAccess() {
  if (!ended) document.dispatchEvent(new CustomEvent(ACCESS_ENDED));
}

/** Run ``callback`` once, when the viewer's access ends. */
export function onAccessEnded(callback) {
  if (ended) callback();
  else document.addEventListener(ACCESS_ENDED, () => callback(), { once: true });
}

document.addEventListener(ACCESS_ENDED, () => {
  ended = true;
});
if (config.private) remember(config.playbackUrl, config.playbackExpiresIn);

// For tests and for looking around in the console.
window.livePlayback = {
  get private() {
    return Boolean(config.private);
  },
  get stale() {
    return stale();
  },
  get ended() {
    return ended;
  },
  get fetches() {
    return fetches;
  },
};
