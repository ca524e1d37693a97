// The captioner's controls: microphone → AudioWorklet (16 kHz PCM) → this site's websocket.
// The speech service is reached only by the server; its key never comes near the browser.
//
// Every caption carries the time its words were spoken, so each viewer can show it when their
// own video reaches that moment. The server works it out from when the audio it receives was
// captured: on each (re)connected socket this page measures its clock against the server's
// (server-clock.js), then says when the first sample it is about to send was captured, on the
// server's clock, before sending it. Each frame keeps its own capture time, so audio buffered
// during a reconnect is placed where it belongs.

import { ReconnectingSocket, socketUrl } from "./socket.js";
import { ServerClock } from "./server-clock.js";

const config = JSON.parse(document.getElementById("captions-config").textContent);
const startButton = document.getElementById("caption-start");
const stopButton = document.getElementById("caption-stop");
const meter = document.getElementById("mic-level");
const stateLine = document.getElementById("captioner-state");

// Audio kept while the socket reconnects; older audio is dropped (it is no longer live).
const MAX_BUFFERED_FRAMES = 50; // 5 s
const FRAME_MS = 100; // pcm-worklet.js: 1,600 samples at 16 kHz
const CAPTURE_SAMPLES = 100;

let audio = null; // { context, stream, node }
let socket = null;
let link = null; // the open socket: { ws, clock, ready } — ready once `capture` was sent on it
let pending = []; // frames not yet sent: { pcm, capturedAt } (page clock, ms)

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
  const captureTime = captureClock(stream);
  node.port.onmessage = ({ data }) => {
    meter.value = Math.min(1, data.level * 4);
    sendFrame({ pcm: data.pcm, capturedAt: captureTime(data.time) });
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

// The audio context's time → this page's clock (ms). A frame reaches this page only after its
// last sample was captured, so the smallest "arrival − end of frame" of recent frames is the
// closest estimate of the mapping; the microphone's own latency (where the browser tells it)
// came before that.
function captureClock(stream) {
  const [track] = stream.getAudioTracks();
  const settings = track && track.getSettings ? track.getSettings() : {};
  const inputLatencyMs = Number.isFinite(settings.latency) ? settings.latency * 1000 : 0;
  const delays = [];
  return (time) => {
    const arrived = Date.now();
    if (!Number.isFinite(time)) return arrived - FRAME_MS - inputLatencyMs;
    const startMs = time * 1000;
    delays.push(arrived - (startMs + FRAME_MS));
    if (delays.length > CAPTURE_SAMPLES) delays.shift();
    return startMs + Math.min(...delays) - inputLatencyMs;
  };
}

function sendFrame(frame) {
  if (link && link.ready && socket && socket.send(frame.pcm)) return;
  pending.push(frame);
  if (pending.length > MAX_BUFFERED_FRAMES) pending.shift();
}

// A new socket: measure the clock, say when the first frame to be sent was captured, send it
// and what else waited. Frames captured meanwhile wait in `pending` with their own times.
async function startLink(ws) {
  const current = { ws, clock: new ServerClock((text) => ws.send(text)), ready: false };
  link = current;
  let offset = await current.clock.measure();
  if (link !== current || ws.readyState !== WebSocket.OPEN) return;
  if (offset === null) {
    console.warn("the server did not answer the clock exchange; assuming this page's clock");
    offset = 0;
  }
  current.offset = offset;
  document.body.dataset.captionerClockOffset = String(Math.round(offset));
  const first = pending.length ? pending[0].capturedAt : Date.now();
  ws.send(JSON.stringify({ type: "capture", started_at: Math.round(first + offset) }));
  for (const frame of pending) ws.send(frame.pcm);
  pending = [];
  current.ready = true;
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
  link = null;
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
      startLink(ws);
    },
    onMessage(event) {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (link && link.clock.handle(message)) return;
      if (message.type === "status") onServerStatus(message);
    },
    shouldRetry(event) {
      // Only transport failures are retried; a refusal or an error (4400, 4403, 4408, 4409,
      // 4413, 4500) was explained already by a status message.
      return event.code === 1006 || event.code === 1001;
    },
    onClose(event, retryIn) {
      link = null;
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
