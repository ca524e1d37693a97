// Live captions for every viewer: rolled up on the picture in step with this viewer's video,
// announced to screen readers one final at a time, listed in the transcript panel, and fed to
// the video as a text track where the system player takes over (iPhone full screen).
// Reconnects by itself and never loses or shuffles a final: each carries a sequence number, and
// a gap is filled from the record (caption-order.js).

import { FinalsInOrder } from "./caption-order.js";
import { RollUp } from "./caption-display.js";
import { CaptionSettings } from "./caption-settings.js";
import { CaptionTiming } from "./caption-timing.js";
import { needsTextTrack, TextTrackFeed } from "./text-track.js";
import { ReconnectingSocket, socketUrl } from "./socket.js";

const config = JSON.parse(document.getElementById("captions-config").textContent);
const overlay = document.getElementById("captions");
const statusLine = document.getElementById("captions-status");
const ccToggle = document.getElementById("cc-toggle");
const announcer = document.getElementById("caption-announcer");
const list = document.getElementById("transcript-list");
const jumpButton = document.getElementById("jump-latest");
const video = document.getElementById("video");

const SILENCE_CLEAR_MS = 5000; // the picture is clear of captions this long after the last words
const STOPPED_CLEAR_MS = 2500; // ...and sooner once captioning has stopped
const MAX_DURATION_MS = 15000;
const ANNOUNCED_KEPT = 10;
const TIMING_KEPT = 5000;

const OFF_MESSAGE = "No captions right now — they'll appear when captioning starts.";

const settings = new CaptionSettings();
const rollUp = new RollUp({
  window: document.getElementById("caption-window"),
  text: document.getElementById("caption-text"),
  final: document.getElementById("caption-final"),
  interim: document.getElementById("caption-interim"),
});
const language = overlay.dataset.language === "multi" ? "" : overlay.dataset.language || "";
const textTrack = needsTextTrack(video) ? new TextTrackFeed(video, { language }) : null;

// For measurement (the sync benchmark): one entry per final drawn.
window.__captionsTiming = [];

let captioning = false;
let firstHistory = true;
let clearTimer = null;

// --- The status line: the same words for everyone in the same state ----------------------------

function setStatus(state, text) {
  statusLine.dataset.state = state;
  if (statusLine.textContent !== text) statusLine.textContent = text;
  document.body.dataset.captionsState = state;
}

function onStatus(message) {
  captioning = Boolean(message.captioning);
  const text = message.message || "";
  if (captioning) {
    setStatus(text ? "delayed" : "on", text || "Captions on");
    return;
  }
  // Not captioning, whether this viewer saw captioning stop or arrived afterwards.
  if (/unavailable/i.test(text)) setStatus("unavailable", text);
  else setStatus("off", OFF_MESSAGE);
  timing.stop();
  rollUp.dropInterim();
  updateTextTrack();
  if (timing.idle) clearAfter(STOPPED_CLEAR_MS);
}

// --- On the picture ----------------------------------------------------------------------------

function clearAfter(ms) {
  clearTimeout(clearTimer);
  clearTimer = setTimeout(() => {
    rollUp.clear();
    updateTextTrack();
  }, ms);
}

// Keep the words up while they are being said on the picture, then a few seconds more.
function holdFor(caption, late) {
  const spoken = caption.spoken_until - caption.spoken_at;
  const duration = Number.isFinite(spoken) ? Math.min(Math.max(spoken, 0), MAX_DURATION_MS) : 0;
  const hold = Math.max(0, duration - late) + SILENCE_CLEAR_MS;
  clearAfter(captioning ? hold : Math.min(hold, STOPPED_CLEAR_MS));
}

function updateTextTrack() {
  if (textTrack) textTrack.show(rollUp.current.final, rollUp.current.interim);
}

function announce(text) {
  if (!settings.get("shown")) return;
  const entry = document.createElement("p");
  entry.textContent = text;
  announcer.append(entry);
  while (announcer.childElementCount > ANNOUNCED_KEPT) announcer.firstElementChild.remove();
}

function drawFinal(caption, shown) {
  if (caption.removed || !caption.text) return;
  rollUp.final(caption.seq, caption.text);
  updateTextTrack();
  announce(caption.text);
  holdFor(caption, shown.late);
  const timingLog = window.__captionsTiming;
  timingLog.push({
    seq: caption.seq,
    spoken_at: caption.spoken_at ?? null,
    shown_at_picture_utc: shown.picture,
    shown_at_wall: Date.now(),
  });
  if (timingLog.length > TIMING_KEPT) timingLog.shift();
}

function drawInterim(caption, shown) {
  rollUp.interim(caption.text);
  updateTextTrack();
  holdFor(caption, shown.late);
}

const timing = new CaptionTiming({
  immediate: () => settings.get("immediate"),
  onFinal: drawFinal,
  onInterim: drawInterim,
});

// --- The transcript panel ---------------------------------------------------------------------

function formatTime(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? `${h}:` : ""}${mm}:${String(s % 60).padStart(2, "0")}`;
}

function nearBottom() {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

function addToTranscript(caption) {
  const follow = nearBottom();
  const item = document.createElement("li");
  item.dataset.seq = caption.seq;
  const time = document.createElement("span");
  time.className = "transcript-time";
  time.textContent = formatTime(caption.start);
  const text = document.createElement("span");
  text.className = "transcript-text";
  text.textContent = caption.text;
  item.append(time, text);
  list.append(item);
  if (follow) {
    list.scrollTop = list.scrollHeight;
  } else {
    jumpButton.hidden = false;
  }
}

// --- Finals in order, from the socket ---------------------------------------------------------

const finals = new FinalsInOrder({
  onFinal(caption, origin) {
    if (caption.removed) return; // staff took it out: its seq stays taken, with no words
    addToTranscript(caption);
    // What was said before the page opened is in the transcript, not on the picture.
    if (origin !== "history") timing.final(caption, origin);
  },
  onGap() {
    socket.reopen(); // with ?after=<the last final in order>: the record fills the gap
  },
});

function onCaption(message) {
  timing.arrived(message);
  if (message.is_final) finals.live(message);
  else timing.interimCaption(message);
}

// Staff corrected or removed a final: replace it wherever the page shows it.
function onCorrection(message) {
  const seq = Number(message.seq);
  const removed = Boolean(message.removed);
  const text = removed ? "" : String(message.text ?? "");
  const item = [...list.children].find((li) => Number(li.dataset.seq) === seq);
  if (item && removed) item.remove();
  else if (item) item.querySelector(".transcript-text").textContent = text;
  finals.correct(seq, text, removed);
  timing.correct(seq, text, removed);
  if (rollUp.correct(seq, text)) updateTextTrack();
}

// Staff fixed a caption from this page (caption-fix.js): shown at once, as a correction.
document.addEventListener("livestream:correction", (event) => onCorrection(event.detail));

function onHistory(message) {
  finals.history(message.captions || [], firstHistory ? "history" : "recovered");
  firstHistory = false;
}

const socket = new ReconnectingSocket({
  url: () => socketUrl(firstHistory ? config.captions : `${config.captions}?after=${finals.lastSeq}`),
  onMessage(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type === "history") onHistory(message);
    else if (message.type === "caption") onCaption(message);
    else if (message.type === "status") {
      onStatus(message);
      finals.known(message.last_seq);
    }
    else if (message.type === "correction") onCorrection(message);
  },
  shouldRetry(event) {
    return event.code !== 4403;
  },
  onClose(event, retryIn) {
    if (event.code === 4403) {
      setStatus("unavailable", "Your access code no longer works.");
      // The player stops and says access ended (playback.js, player.js).
      document.dispatchEvent(new CustomEvent("livestream:access-ended"));
      return;
    }
    if (retryIn !== null) setStatus("reconnecting", "Reconnecting to captions…");
  },
});

// --- CC and the settings -------------------------------------------------------------------------

function applyShown(shown) {
  overlay.hidden = !shown;
  ccToggle.setAttribute("aria-pressed", String(shown));
  if (textTrack) textTrack.setEnabled(shown);
}

ccToggle.addEventListener("click", () => settings.set("shown", !settings.get("shown")));
settings.onChange((values) => {
  applyShown(values.shown);
  timing.run(); // "as soon as they arrive" may have changed
});
list.addEventListener("scroll", () => {
  if (nearBottom()) jumpButton.hidden = true;
});
jumpButton.addEventListener("click", () => {
  list.scrollTop = list.scrollHeight;
  jumpButton.hidden = true;
});

applyShown(settings.get("shown"));
setStatus("connecting", "Connecting to captions…");
socket.open();
window.liveCaptions = {
  get lastSeq() {
    return finals.lastSeq;
  },
  get captioning() {
    return captioning;
  },
};
