// Live captions for every viewer: the current line under the last final one, a transcript
// panel, a CC toggle and a remembered size. Reconnects by itself and never misses a final:
// each carries a sequence number, and a gap makes the page ask for what it missed.

import { ReconnectingSocket, socketUrl } from "./socket.js";

const config = JSON.parse(document.getElementById("captions-config").textContent);
const box = document.getElementById("captions");
const finalLine = document.getElementById("caption-final");
const interimLine = document.getElementById("caption-interim");
const statusLine = document.getElementById("captions-status");
const ccToggle = document.getElementById("cc-toggle");
const sizeSelect = document.getElementById("caption-size");
const list = document.getElementById("transcript-list");
const jumpButton = document.getElementById("jump-latest");

const SIZE_KEY = "captions.size";
const SHOWN_KEY = "captions.shown";

let lastSeq = 0;
const seen = new Set();
let captioning = false;

function setStatus(state, text) {
  statusLine.dataset.state = state;
  statusLine.textContent = text;
  document.body.dataset.captionsState = state;
}

function formatTime(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
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

function addFinal(caption) {
  if (seen.has(caption.seq)) return;
  seen.add(caption.seq);
  lastSeq = Math.max(lastSeq, caption.seq);
  addToTranscript(caption);
}

function showFinal(caption) {
  box.dataset.active = "";
  finalLine.textContent = caption.text;
  interimLine.textContent = "";
}

function onCaption(message) {
  if (!message.is_final) {
    box.dataset.active = "";
    interimLine.textContent = message.text;
    return;
  }
  if (message.seq <= lastSeq) return; // already have it
  if (message.seq > lastSeq + 1 && lastSeq > 0) {
    // A final went missing on the way (slow connection, server restart): fetch from the record.
    socket.reopen();
    return;
  }
  addFinal(message);
  showFinal(message);
}

function onStatus(message) {
  captioning = message.captioning;
  const text = message.message || "";
  if (message.captioning) {
    setStatus("on", text || "Captions on");
  } else if (text.includes("unavailable")) {
    setStatus("unavailable", text);
  } else if (text) {
    setStatus("paused", text);
  } else {
    setStatus("off", "Captions will start when the captioner begins.");
  }
  if (!message.captioning) interimLine.textContent = "";
}

function onHistory(message) {
  const captions = message.captions || [];
  for (const caption of captions) addFinal(caption);
  if (captions.length && !finalLine.textContent) showFinal(captions[captions.length - 1]);
}

const socket = new ReconnectingSocket({
  url: () => socketUrl(lastSeq > 0 ? `${config.captions}?after=${lastSeq}` : config.captions),
  onMessage(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type === "history") onHistory(message);
    else if (message.type === "caption") onCaption(message);
    else if (message.type === "status") onStatus(message);
  },
  shouldRetry(event) {
    return event.code !== 4403;
  },
  onClose(event, retryIn) {
    if (event.code === 4403) {
      setStatus("unavailable", "Your access code no longer works.");
      window.location.assign("/enter/?next=" + encodeURIComponent(window.location.pathname));
      return;
    }
    if (retryIn !== null) setStatus("reconnecting", "Reconnecting to captions…");
  },
});

function applySize(size) {
  box.dataset.size = size;
  sizeSelect.value = size;
}

function applyShown(shown) {
  box.hidden = !shown;
  ccToggle.setAttribute("aria-pressed", String(shown));
}

function restorePreferences() {
  try {
    applySize(localStorage.getItem(SIZE_KEY) || "medium");
    applyShown(localStorage.getItem(SHOWN_KEY) !== "false");
  } catch {
    applySize("medium");
  }
}

function remember(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

sizeSelect.addEventListener("change", () => {
  applySize(sizeSelect.value);
  remember(SIZE_KEY, sizeSelect.value);
});
ccToggle.addEventListener("click", () => {
  const shown = box.hidden;
  applyShown(shown);
  remember(SHOWN_KEY, String(shown));
});
list.addEventListener("scroll", () => {
  if (nearBottom()) jumpButton.hidden = true;
});
jumpButton.addEventListener("click", () => {
  list.scrollTop = list.scrollHeight;
  jumpButton.hidden = true;
});

restorePreferences();
setStatus("connecting", "Connecting to captions…");
socket.open();
window.liveCaptions = { get lastSeq() { return lastSeq; }, get captioning() { return captioning; } };
