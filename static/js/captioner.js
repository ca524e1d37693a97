// The captioner's controls: microphone → AudioWorklet (16 kHz PCM) → this site's websocket.
// The speech service is reached only by the server; its key never comes near the browser.

import { ReconnectingSocket, socketUrl } from "./socket.js";

const config = JSON.parse(document.getElementById("captions-config").textContent);
const startButton = document.getElementById("caption-start");
const stopButton = document.getElementById("caption-stop");
const meter = document.getElementById("mic-level");
const stateLine = document.getElementById("captioner-state");

// Audio kept while the socket reconnects; older audio is dropped (it is no longer live).
const MAX_BUFFERED_FRAMES = 50; // 5 s

let audio = null; // { context, stream, node }
let socket = null;
let pending = [];

function setState(state, text) {
  stateLine.dataset.state = state;
  stateLine.textContent = text;
  document.body.dataset.captionerState = state;
  const running = ["connecting", "live", "reconnecting", "delayed"].includes(state);
  startButton.hidden = running;
  stopButton.hidden = !running;
  startButton.disabled = false;
}

function micErrorMessage(error) {
  if (error && error.name === "NotAllowedError") {
    return "Microphone access was refused. Allow it in the browser's site settings and try again.";
  }
  if (error && error.name === "NotFoundError") return "No microphone was found.";
  return "The microphone could not be started.";
}

async function startAudio() {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const context = new AudioContext();
  await context.audioWorklet.addModule(config.workletUrl);
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, "pcm-16k");
  node.port.onmessage = ({ data }) => {
    meter.value = Math.min(1, data.level * 4);
    sendFrame(data.pcm);
  };
  source.connect(node);
  // Some browsers only pull audio through nodes that reach the output; a silent gain does it.
  const mute = context.createGain();
  mute.gain.value = 0;
  node.connect(mute).connect(context.destination);
  if (context.state === "suspended") await context.resume();
  audio = { context, stream, node };
}

function stopAudio() {
  if (!audio) return;
  audio.node.port.onmessage = null;
  audio.stream.getTracks().forEach((track) => track.stop());
  audio.context.close();
  audio = null;
  meter.value = 0;
}

function sendFrame(pcm) {
  if (socket && socket.send(pcm)) return;
  pending.push(pcm);
  if (pending.length > MAX_BUFFERED_FRAMES) pending.shift();
}

function onServerStatus(message) {
  const text = message.message || "";
  switch (message.state) {
    case "connecting":
      setState("connecting", text || "Connecting…");
      break;
    case "live":
      setState("live", "Live: your speech is being captioned.");
      break;
    case "reconnecting":
      setState("reconnecting", "Reconnecting to the speech service… (audio is kept)");
      break;
    case "delayed":
      setState("delayed", text || "Captions are delayed.");
      break;
    case "busy":
    case "error":
      finish();
      setState("error", text || "Captions stopped because of an error.");
      break;
    case "stopping":
      setState("stopping", text || "Finishing the last captions…");
      break;
    case "stopped":
      // "Captions stopped." or what was given up (the last seconds, finals not saved).
      setState("stopped", text && text !== "Captions stopped." ? text : "Captions are off.");
      break;
    default:
      break;
  }
}

function finish() {
  stopAudio();
  if (socket) {
    socket.close();
    socket = null;
  }
  pending = [];
}

async function start() {
  startButton.disabled = true;
  setState("connecting", "Asking for the microphone…");
  try {
    await startAudio();
  } catch (error) {
    setState("error", micErrorMessage(error));
    return;
  }
  setState("connecting", "Connecting…");
  socket = new ReconnectingSocket({
    url: () => socketUrl(config.audio),
    binaryType: "arraybuffer",
    onOpen(ws) {
      for (const frame of pending) ws.send(frame);
      pending = [];
    },
    onMessage(event) {
      try {
        const message = JSON.parse(event.data);
        if (message.type === "status") onServerStatus(message);
      } catch {
        // ignore
      }
    },
    shouldRetry(event) {
      // Only transport failures are retried; a refusal or an error (4400, 4403, 4408, 4409,
      // 4413, 4500) was explained already by a status message.
      return event.code === 1006 || event.code === 1001;
    },
    onClose(event, retryIn) {
      if (retryIn !== null) {
        setState("reconnecting", "Connection lost: reconnecting…");
      } else if (event.code === 4403) {
        finish();
        setState("error", "Your access code no longer works.");
      } else if (stateLine.dataset.state !== "error" && stateLine.dataset.state !== "stopped") {
        finish();
        setState("stopped", "Captions are off.");
      }
    },
  });
  socket.open();
}

function stop() {
  if (socket && socket.isOpen) {
    socket.ws.send(JSON.stringify({ type: "stop" }));
    stopAudio();
    setState("stopping", "Stopping…");
  } else {
    finish();
    setState("stopped", "Captions are off.");
  }
}

startButton.addEventListener("click", start);
stopButton.addEventListener("click", stop);
window.addEventListener("pagehide", finish);
setState("stopped", "Captions are off.");
