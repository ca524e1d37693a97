// A websocket that reconnects with jittered exponential backoff: at most 10 s between tries
// while the page is in view, 30 s in a background tab.

import { Backoff } from "./backoff.js";

export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

export class ReconnectingSocket {
  // options: url() -> string, onOpen(ws), onMessage(event), onClose(event, willRetry),
  // shouldRetry(event) -> bool, binaryType
  constructor(options) {
    this.options = options;
    this.backoff = new Backoff({ first: 1, maxVisible: 10, maxHidden: 30, jitter: 0.3 });
    this.stopped = false;
    this.ws = null;
    this.timer = null;
  }

  open() {
    this.stopped = false;
    const ws = new WebSocket(this.options.url());
    if (this.options.binaryType) ws.binaryType = this.options.binaryType;
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.backoff.reset();
      if (this.options.onOpen) this.options.onOpen(ws);
    });
    ws.addEventListener("message", (event) => {
      if (this.ws === ws) this.options.onMessage(event); // not a socket being replaced
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      const retry = !this.stopped && (!this.options.shouldRetry || this.options.shouldRetry(event));
      const wait = this.backoff.next();
      if (this.options.onClose) this.options.onClose(event, retry ? wait : null);
      if (retry) {
        this.timer = setTimeout(() => this.open(), wait * 1000);
      }
    });
    return ws;
  }

  // Close now and open again at once (e.g. to resync after a gap).
  reopen() {
    clearTimeout(this.timer);
    const old = this.ws;
    this.ws = null;
    if (old) old.close();
    this.open();
  }

  close(code = 1000) {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(code);
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(data) {
    if (!this.isOpen) return false;
    this.ws.send(data);
    return true;
  }
}
