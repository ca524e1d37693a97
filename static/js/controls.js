// The player's controls: play/pause, mute and volume, LIVE (jump to live when behind), full
// screen on the whole player (so captions stay on screen), picture-in-picture where the browser
// has it, and the keyboard: space/k, m, f, c. They hide while the video plays untouched.
// CC and caption settings belong to captions.js; "c" presses its button.

import { PlayerWindow, playerWindowSupported } from "./pip-window.js";

const player = document.getElementById("player");
const video = document.getElementById("video");
const playButton = document.getElementById("play-toggle");
const muteButton = document.getElementById("mute-toggle");
const volume = document.getElementById("volume");
const liveButton = document.getElementById("live-button");
const fullscreenButton = document.getElementById("fullscreen-toggle");
const pipButton = document.getElementById("pip-toggle");
const unmuteButton = document.getElementById("unmute");
const settingsPanel = document.getElementById("caption-settings");
const ccButton = document.getElementById("cc-toggle"); // captions.js handles its clicks

const HIDE_AFTER_MS = 3000;
const BEHIND_BY_S = 4; // further behind than the closest the player has been: not live

let engine = null;
let hideTimer = null;
let pointerOverControls = false;
let lastPointerType = "mouse";
let closestToLive = Infinity;
let pausedByViewer = false;
let playerWindow = null; // the whole player in a picture-in-picture window, where possible

function label(button, text, shortcut) {
  button.setAttribute("aria-label", text);
  button.title = shortcut ? `${text} (${shortcut})` : text;
}

// --- Play, mute, volume ----------------------------------------------------------------------

function togglePlay() {
  if (engine.paused()) {
    engine.play();
  } else {
    pausedByViewer = true;
    engine.pause();
  }
}

function toggleMute() {
  const muted = !engine.muted();
  engine.setMuted(muted);
  if (!muted && engine.volume() === 0) engine.setVolume(0.5);
}

function renderPlayState() {
  const paused = video.paused;
  playButton.toggleAttribute("data-paused", paused);
  label(playButton, paused ? "Play" : "Pause", "k");
  player.toggleAttribute("data-paused", paused);
  if (paused) showControls();
  renderLive();
}

function renderVolume() {
  const muted = video.muted || video.volume === 0;
  muteButton.toggleAttribute("data-muted", muted);
  label(muteButton, muted ? "Unmute" : "Mute", "m");
  volume.value = String(video.muted ? 0 : video.volume);
  volume.setAttribute("aria-valuetext", muted ? "Muted" : `${Math.round(video.volume * 100)}%`);
  unmuteButton.hidden = !video.muted;
}

// --- Live ------------------------------------------------------------------------------------

function behindLive() {
  const latency = engine.latencySeconds ? engine.latencySeconds() : null;
  if (!Number.isFinite(latency) || latency <= 0) return pausedByViewer; // no live edge to measure
  if (video.paused) return true;
  closestToLive = Math.min(closestToLive, latency);
  return latency > closestToLive + BEHIND_BY_S;
}

function renderLive() {
  if (!engine) return;
  const behind = behindLive();
  liveButton.toggleAttribute("data-behind", behind);
  liveButton.setAttribute("aria-disabled", String(!behind));
  label(liveButton, behind ? "Jump to live" : "Playing live");
}

function jumpToLive() {
  if (liveButton.getAttribute("aria-disabled") === "true") return;
  pausedByViewer = false;
  closestToLive = Infinity;
  engine.jumpToLive();
  renderLive();
}

// --- Full screen and picture-in-picture --------------------------------------------------------

function fullscreenElement() {
  return document.fullscreenElement || document.webkitFullscreenElement || null;
}

function canFullscreenPlayer() {
  return Boolean(document.fullscreenEnabled || document.webkitFullscreenEnabled);
}

function toggleFullscreen() {
  if (playerWindow?.open) return; // a picture-in-picture window cannot go full screen
  if (fullscreenElement()) {
    (document.exitFullscreen || document.webkitExitFullscreen).call(document);
  } else if (canFullscreenPlayer()) {
    const request = player.requestFullscreen || player.webkitRequestFullscreen;
    const result = request.call(player, { navigationUI: "hide" });
    if (result && result.catch) {
      result.catch((error) => console.warn("full screen refused:", error.message));
    }
  } else if (typeof video.webkitEnterFullscreen === "function") {
    // iPhone: only the video itself goes full screen, in the system player; captions reach it
    // as a text track (see text-track.js).
    video.webkitEnterFullscreen();
  }
}

function renderFullscreen() {
  const active = fullscreenElement() === player;
  player.toggleAttribute("data-fullscreen", active);
  fullscreenButton.toggleAttribute("data-active", active);
  label(fullscreenButton, active ? "Exit full screen" : "Full screen", "f");
}

function pipSupported() {
  if (playerWindowSupported()) return true;
  if (document.pictureInPictureEnabled && !video.disablePictureInPicture) return true;
  return typeof video.webkitSetPresentationMode === "function"
    && video.webkitSupportsPresentationMode
    && video.webkitSupportsPresentationMode("picture-in-picture");
}

function togglePip() {
  if (playerWindow) {
    playerWindow.toggle().catch((error) => {
      console.warn("picture-in-picture window refused:", error.message);
    });
  } else if (document.pictureInPictureElement) {
    document.exitPictureInPicture();
  } else if (document.pictureInPictureEnabled) {
    video.requestPictureInPicture().catch((error) => {
      console.warn("picture-in-picture refused:", error.message);
    });
  } else if (typeof video.webkitSetPresentationMode === "function") {
    const inPip = video.webkitPresentationMode === "picture-in-picture";
    video.webkitSetPresentationMode(inPip ? "inline" : "picture-in-picture");
  }
}

function renderPip(open, focusWasThere) {
  pipButton.toggleAttribute("data-active", open);
  label(pipButton, open ? "Back to the page" : "Picture in picture");
  // Back on the page: keep the viewer's place, unless it was in the window that just closed.
  if (!open && focusWasThere) player.focus({ preventScroll: true });
}

// --- Showing and hiding the controls ------------------------------------------------------------

function keepControls() {
  const focused = player.ownerDocument.activeElement; // the pip window's, when it is there
  return video.paused
    || !settingsPanel.hidden
    || pointerOverControls
    || (player.contains(focused) && focused !== player && focused !== video);
}

function showControls() {
  player.dataset.controls = "shown";
  clearTimeout(hideTimer);
  hideTimer = setTimeout(hideControls, HIDE_AFTER_MS);
}

function hideControls() {
  if (keepControls()) {
    showControls();
    return;
  }
  player.dataset.controls = "hidden";
}

// --- Keyboard --------------------------------------------------------------------------------

function typingInto(element) {
  if (!element) return false;
  if (element.isContentEditable) return true;
  if (element.tagName === "TEXTAREA" || element.tagName === "SELECT") return true;
  return element.tagName === "INPUT" && !["range", "checkbox", "button"].includes(element.type);
}

// Single-key shortcuts only while the player has the focus (or nothing on the page has it),
// so they never fire while someone types or works elsewhere on the page (WCAG 2.1.4).
function shortcutsActive(target) {
  const focused = (target.ownerDocument || document).activeElement; // maybe the pip window's
  if (typingInto(target)) return false;
  return !focused || focused === focused.ownerDocument.body || player.contains(focused);
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (!shortcutsActive(event.target)) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (key === " ") {
    // A focused button or checkbox handles space itself.
    const tag = event.target.tagName;
    if (tag === "BUTTON" || (tag === "INPUT" && event.target.type === "checkbox")) return;
    togglePlay();
  } else if (key === "k") {
    togglePlay();
  } else if (key === "m") {
    toggleMute();
  } else if (key === "f") {
    toggleFullscreen();
  } else if (key === "c") {
    ccButton.click();
  } else {
    return;
  }
  event.preventDefault();
  showControls();
}

// --- Start -------------------------------------------------------------------------------------

/** Wire the controls to `engine` (see player.js for its interface). */
export function startControls(playerEngine) {
  engine = playerEngine;
  playButton.addEventListener("click", togglePlay);
  muteButton.addEventListener("click", toggleMute);
  unmuteButton.addEventListener("click", () => engine.setMuted(false));
  volume.addEventListener("input", () => {
    const value = Number(volume.value);
    engine.setVolume(value);
    engine.setMuted(value === 0);
  });
  liveButton.addEventListener("click", jumpToLive);
  fullscreenButton.addEventListener("click", toggleFullscreen);
  if (playerWindowSupported()) {
    playerWindow = new PlayerWindow(player, { onChange: renderPip, onKey });
  }
  if (pipSupported()) {
    pipButton.hidden = false;
    pipButton.addEventListener("click", togglePip);
  }

  for (const type of ["play", "pause", "playing"]) video.addEventListener(type, renderPlayState);
  video.addEventListener("volumechange", renderVolume);
  video.addEventListener("timeupdate", renderLive);
  document.addEventListener("fullscreenchange", renderFullscreen);
  document.addEventListener("webkitfullscreenchange", renderFullscreen);

  // Pointer: moving over the player shows the controls; a click on the picture plays or
  // pauses (a tap on a touch screen only shows the controls); a double click goes full screen.
  player.addEventListener("pointermove", showControls);
  player.addEventListener("pointerdown", (event) => {
    lastPointerType = event.pointerType;
    showControls();
  });
  const controls = document.getElementById("controls");
  controls.addEventListener("pointerenter", () => {
    pointerOverControls = true;
  });
  controls.addEventListener("pointerleave", () => {
    pointerOverControls = false;
  });
  player.addEventListener("focusin", showControls);
  video.addEventListener("click", () => {
    player.focus({ preventScroll: true });
    if (lastPointerType === "mouse") togglePlay();
  });
  video.addEventListener("dblclick", toggleFullscreen);
  document.addEventListener("keydown", onKey);

  renderPlayState();
  renderVolume();
  renderFullscreen();
  showControls();
}
