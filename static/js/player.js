// The player page: plays the stream with the IVS Web Player SDK, falling back to hls.js
// (or native HLS on Safari) when the SDK cannot load or does not support this browser; says
// truthfully what state it is in, and retries until the stream plays.

import { Backoff, pageHidden } from "./backoff.js";
import { startControls } from "./controls.js";
import { hlsJsClock, hlsJsIsLive, ivsClock, nativeClock, setSource } from "./picture-clock.js";
import { forgetUrl, onAccessEnded, playbackUrl } from "./playback.js";

const config = JSON.parse(document.getElementById("player-config").textContent);
const video = document.getElementById("video");
const stateBox = document.getElementById("player-state");
const stateText = document.getElementById("player-state-text");
const retryLine = document.getElementById("player-retry");
const retryButton = document.getElementById("retry-now");

const SCRIPT_TIMEOUT_MS = 10000;
const RETRY_MAX_VISIBLE_S = 10; // while the viewer can see the page; 60 s in a background tab

const MESSAGES = {
  loading: "Loading the player…",
  buffering: "",
  playing: "",
  offline: "Not live yet — we'll start playing when the stream begins.",
  stopped: "The stream has stopped — we'll start playing again when it's back.",
  reconnecting: "Connection lost — reconnecting…",
  unreachable: "Can't reach the video — trying again…",
  "no-network": "You're offline — we'll reconnect when your connection is back.",
  full: "The stream is full right now — trying again…",
  blocked: "Tap to start the video.",
  error: "The video could not be played.",
};
// States in which the player keeps trying by itself.
const RETRYING = new Set(["offline", "stopped", "reconnecting", "unreachable", "no-network", "full"]);

let hasPlayed = false;
const backoff = new Backoff({ first: 2, maxVisible: RETRY_MAX_VISIBLE_S, maxHidden: 60 });
let retryAt = 0;
let retryTimer = null;
let countdownTimer = null;
let reload = null; // the engine's way to try again

// The status line is a live region: it changes only when the state does, never for a countdown.
function showState(state, message = MESSAGES[state] ?? "") {
  stateBox.dataset.state = state;
  document.body.dataset.playerState = state;
  if (stateText.textContent !== message) stateText.textContent = message;
  retryButton.hidden = !RETRYING.has(state);
  if (!RETRYING.has(state)) cancelRetry();
}

function cancelRetry() {
  clearTimeout(retryTimer);
  clearInterval(countdownTimer);
  retryTimer = null;
  retryLine.textContent = "";
  delete stateBox.dataset.busy;
}

function renderCountdown() {
  const seconds = Math.max(1, Math.ceil((retryAt - Date.now()) / 1000));
  retryLine.textContent = `Trying again in ${seconds} s`;
}

/** Say why the video is not playing, and try again after a backoff capped at 10 s. */
function retryLater(state) {
  showState(state);
  cancelRetry();
  const delay = backoff.next();
  retryAt = Date.now() + delay * 1000;
  renderCountdown();
  countdownTimer = setInterval(renderCountdown, 1000);
  retryTimer = setTimeout(retryNow, delay * 1000);
}

function retryNow() {
  cancelRetry();
  if (!reload) return;
  // Keep saying what is true while the attempt runs: a spinner, not a new message.
  stateBox.dataset.busy = "";
  document.body.dataset.playerAttempts = String(Number(document.body.dataset.playerAttempts || 0) + 1);
  reload();
}

/** A failure that is not the stream being offline: lost, unreachable, or no network at all. */
function connectionTrouble() {
  if (!navigator.onLine) return "no-network";
  return hasPlayed ? "reconnecting" : "unreachable";
}

function offline() {
  return hasPlayed ? "stopped" : "offline";
}

function playing() {
  hasPlayed = true;
  backoff.reset();
  cancelRetry();
  showState("playing");
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    if (!src) {
      reject(new Error("no script URL"));
      return;
    }
    const script = document.createElement("script");
    const timer = setTimeout(() => reject(new Error(`timed out loading ${src}`)), SCRIPT_TIMEOUT_MS);
    script.src = src;
    script.async = true;
    script.onload = () => {
      clearTimeout(timer);
      resolve();
    };
    script.onerror = () => {
      clearTimeout(timer);
      reject(new Error(`could not load ${src}`));
    };
    document.head.append(script);
  });
}

function tryPlay() {
  const attempt = video.play();
  if (attempt && attempt.catch) {
    attempt.catch(() => showState("blocked"));
  }
}

function watchVideoElement() {
  video.addEventListener("playing", playing);
  video.addEventListener("waiting", () => {
    if (stateBox.dataset.state === "playing") showState("buffering");
  });
  stateBox.addEventListener("click", (event) => {
    if (stateBox.dataset.state === "blocked" && event.target !== retryButton) tryPlay();
  });
  retryButton.addEventListener("click", retryNow);
  window.addEventListener("online", () => {
    if (retryTimer !== null) retryNow();
  });
  document.addEventListener("visibilitychange", () => {
    // Back in view with a long wait ahead (it grew while hidden): try now.
    if (!pageHidden() && retryTimer !== null && retryAt - Date.now() > RETRY_MAX_VISIBLE_S * 1000) {
      retryNow();
    }
  });
}

// Each engine gives the controls the same small interface.
function videoElementEngine(name, jumpToLive) {
  return {
    name,
    video,
    play: tryPlay,
    pause: () => video.pause(),
    paused: () => video.paused,
    muted: () => video.muted,
    setMuted: (muted) => {
      video.muted = muted;
    },
    volume: () => video.volume,
    setVolume: (volume) => {
      video.volume = volume;
    },
    jumpToLive,
  };
}

function startIvs() {
  const { IVSPlayer } = window;
  const { PlayerState, PlayerEventType } = IVSPlayer;
  const options = {};
  if (config.ivs.wasmWorker) {
    options.wasmWorker = new URL(config.ivs.wasmWorker, document.URL).href;
    options.wasmBinary = new URL(config.ivs.wasmBinary, document.URL).href;
  }
  const player = IVSPlayer.create(options);
  player.attachHTMLVideoElement(video);
  player.setAutoplay(true);
  player.setMuted(true);
  const clock = ivsClock(player, PlayerEventType.SYNC_TIME_UPDATE);
  setSource(clock);
  const load = async () => {
    const url = await playbackUrl();
    clock.reset();
    player.load(url);
    player.play();
  };
  onAccessEnded(() => player.delete());
  reload = load;
  player.addEventListener(PlayerState.PLAYING, playing);
  player.addEventListener(PlayerState.BUFFERING, () => {
    if (hasPlayed && stateBox.dataset.state === "playing") showState("buffering");
  });
  player.addEventListener(PlayerState.ENDED, () => retryLater(offline()));
  player.addEventListener(PlayerEventType.ERROR, (error) => {
    const code = error && error.code;
    if (code === 404) retryLater(offline());
    else if (code === 429) retryLater("full");
    else if (code === 403 && config.private) { forgetUrl(); retryLater(connectionTrouble()); }
    else if (code === 403) showState("error", "This stream is not available to this player.");
    else retryLater(connectionTrouble());
  });
  player.addEventListener(PlayerEventType.NETWORK_UNAVAILABLE, () => {
    if (!navigator.onLine) showState("no-network");
  });
  player.addEventListener(PlayerEventType.PLAYBACK_BLOCKED, () => showState("blocked"));
  load();
  return {
    ...videoElementEngine("ivs"),
    play: () => player.play(),
    pause: () => player.pause(),
    paused: () => player.isPaused(),
    muted: () => player.isMuted(),
    setMuted: (muted) => player.setMuted(muted),
    volume: () => player.getVolume(),
    setVolume: (volume) => player.setVolume(volume),
    latencySeconds: () => player.getLiveLatency(),
    // The SDK plays from the live edge when it loads.
    jumpToLive: load,
  };
}

function startHlsJs() {
  const { Hls } = window;
  const hls = new Hls({ lowLatencyMode: true, enableWorker: true });
  setSource(hlsJsClock(hls));
  const load = async () => {
    hls.loadSource(await playbackUrl());
    hls.startLoad();
  };
  reload = load;
  onAccessEnded(() => hls.destroy());
  hls.on(Hls.Events.MANIFEST_PARSED, tryPlay);
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
      return;
    }
    const status = data.response && data.response.code;
    hls.stopLoad();
    if (status === 403) forgetUrl();
    retryLater(status === 404 || status === 410 ? offline() : connectionTrouble());
  });
  hls.attachMedia(video);
  playbackUrl().then((url) => hls.loadSource(url));
  return {
    ...videoElementEngine("hls.js", () => {
      const live = hls.liveSyncPosition;
      if (Number.isFinite(live)) video.currentTime = live;
      tryPlay();
    }),
    latencySeconds: () => (hlsJsIsLive(hls) ? hls.latency : null),
  };
}

function startNative() {
  setSource(nativeClock(video));
  const load = async () => {
    video.src = await playbackUrl();
    tryPlay();
  };
  reload = load;
  onAccessEnded(() => video.removeAttribute("src"));
  video.addEventListener("error", () => retryLater(hasPlayed ? connectionTrouble() : offline()));
  load();
  return {
    ...videoElementEngine("native", () => {
      const ranges = video.seekable;
      if (ranges.length) video.currentTime = ranges.end(ranges.length - 1);
      tryPlay();
    }),
    latencySeconds: () => {
      const ranges = video.seekable;
      return ranges.length ? ranges.end(ranges.length - 1) - video.currentTime : null;
    },
  };
}

async function chooseEngine() {
  try {
    await loadScript(config.ivs.script);
    if (window.IVSPlayer && window.IVSPlayer.isPlayerSupported) return startIvs();
  } catch (error) {
    console.warn("IVS player unavailable, falling back:", error.message);
  }
  // hls.js wherever Media Source Extensions exist; native HLS otherwise (Safari on iPhone).
  try {
    await loadScript(config.hlsJs);
    if (window.Hls && window.Hls.isSupported()) return startHlsJs();
  } catch (error) {
    console.warn("hls.js unavailable:", error.message);
  }
  if (video.canPlayType("application/vnd.apple.mpegurl")) return startNative();
  return null;
}

async function start() {
  watchVideoElement();
  onAccessEnded(() => {
    reload = null;
    video.pause();
    showState("ended", "Your access to this stream has ended. Enter a current code to watch.");
  });
  showState("loading");
  const engine = await chooseEngine();
  if (!engine) {
    showState("error", "This browser cannot play the stream. Try a current Chrome, Firefox or Safari.");
    return;
  }
  document.body.dataset.playerEngine = engine.name;
  startControls(engine);
}

start();
