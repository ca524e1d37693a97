// The player page: plays the stream with the IVS Web Player SDK, falling back to hls.js
// (or native HLS on Safari) when the SDK cannot load or does not support this browser.

const config = JSON.parse(document.getElementById("player-config").textContent);
const video = document.getElementById("video");
const stateBox = document.getElementById("player-state");
const stateText = document.getElementById("player-state-text");
const unmuteButton = document.getElementById("unmute");

const SCRIPT_TIMEOUT_MS = 10000;
const RETRY_MIN_S = 2;
const RETRY_MAX_S = 30;

const MESSAGES = {
  loading: "Loading the player…",
  buffering: "Buffering…",
  playing: "",
  offline: "The stream is offline. It will start here as soon as it goes live.",
  blocked: "Tap to start the video.",
  error: "The video could not be played.",
};

let retryDelay = RETRY_MIN_S;
let retryTimer = null;
let countdownTimer = null;

function showState(state, detail = "") {
  stateBox.dataset.state = state;
  document.body.dataset.playerState = state;
  stateText.textContent = detail || MESSAGES[state] || "";
}

function scheduleRetry(state, detail, reload) {
  clearTimeout(retryTimer);
  clearInterval(countdownTimer);
  const delay = Math.round(retryDelay * (0.8 + Math.random() * 0.4));
  retryDelay = Math.min(retryDelay * 2, RETRY_MAX_S);
  let remaining = delay;
  const render = () => showState(state, `${detail} Retrying in ${remaining} s…`);
  render();
  countdownTimer = setInterval(() => {
    remaining -= 1;
    if (remaining > 0) render();
  }, 1000);
  retryTimer = setTimeout(() => {
    clearInterval(countdownTimer);
    showState("loading", "Reconnecting…");
    reload();
  }, delay * 1000);
}

function playing() {
  retryDelay = RETRY_MIN_S;
  clearTimeout(retryTimer);
  clearInterval(countdownTimer);
  showState("playing");
  unmuteButton.hidden = !video.muted;
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
  video.addEventListener("waiting", () => showState("buffering"));
  video.addEventListener("volumechange", () => {
    unmuteButton.hidden = !video.muted;
  });
  stateBox.addEventListener("click", () => {
    if (stateBox.dataset.state === "blocked") tryPlay();
  });
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
  const load = () => {
    player.load(config.playbackUrl);
    player.play();
  };
  player.addEventListener(PlayerState.PLAYING, playing);
  player.addEventListener(PlayerState.BUFFERING, () => showState("buffering"));
  player.addEventListener(PlayerState.ENDED, () =>
    scheduleRetry("offline", "The stream has ended.", load),
  );
  player.addEventListener(PlayerEventType.ERROR, (error) => {
    if (error && error.code === 404) {
      scheduleRetry("offline", MESSAGES.offline, load);
    } else if (error && error.code === 429) {
      scheduleRetry("error", "The stream is full right now.", load);
    } else if (error && error.code === 403) {
      scheduleRetry("error", "This stream is not available to this player.", load);
    } else {
      scheduleRetry("error", "The video connection was interrupted.", load);
    }
  });
  player.addEventListener(PlayerEventType.PLAYBACK_BLOCKED, () => showState("blocked"));
  unmuteButton.addEventListener("click", () => {
    player.setMuted(false);
    unmuteButton.hidden = true;
  });
  load();
  return player;
}

function startHlsJs() {
  const { Hls } = window;
  const hls = new Hls({ lowLatencyMode: true, enableWorker: true });
  const load = () => {
    hls.loadSource(config.playbackUrl);
    hls.startLoad();
  };
  hls.on(Hls.Events.MANIFEST_PARSED, tryPlay);
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
      return;
    }
    const status = data.response && data.response.code;
    hls.stopLoad();
    if (status === 404) {
      scheduleRetry("offline", MESSAGES.offline, load);
    } else {
      scheduleRetry("error", "The video connection was interrupted.", load);
    }
  });
  hls.attachMedia(video);
  hls.loadSource(config.playbackUrl);
  unmuteButton.addEventListener("click", () => {
    video.muted = false;
  });
  return hls;
}

function startNative() {
  const load = () => {
    video.src = config.playbackUrl;
    tryPlay();
  };
  video.addEventListener("error", () => scheduleRetry("offline", MESSAGES.offline, load));
  unmuteButton.addEventListener("click", () => {
    video.muted = false;
  });
  load();
}

async function start() {
  watchVideoElement();
  showState("loading");
  try {
    await loadScript(config.ivs.script);
    if (window.IVSPlayer && window.IVSPlayer.isPlayerSupported) {
      startIvs();
      document.body.dataset.playerEngine = "ivs";
      return;
    }
  } catch (error) {
    console.warn("IVS player unavailable, falling back:", error.message);
  }
  // hls.js wherever Media Source Extensions exist; native HLS otherwise (Safari on iPhone).
  try {
    await loadScript(config.hlsJs);
    if (window.Hls && window.Hls.isSupported()) {
      startHlsJs();
      document.body.dataset.playerEngine = "hls.js";
      return;
    }
  } catch (error) {
    console.warn("hls.js unavailable:", error.message);
  }
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    startNative();
    document.body.dataset.playerEngine = "native";
    return;
  }
  showState("error", "This browser cannot play the stream. Try a current Chrome, Firefox or Safari.");
}

start();
