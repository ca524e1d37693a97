// This page's clock against the server's, measured over a websocket the NTP way: send our time,
// the server answers with its own; of several exchanges the one with the shortest round trip
// bounds the error best, and offset = server − (sent + received) / 2.

const EXCHANGES = 5;
const TIMEOUT_MS = 3000;

/** One exchange: sent at t0, answered with `server`, received at t1 (all ms). */
export function clockSample(t0, t1, server) {
  return { roundTrip: t1 - t0, offset: server - (t0 + t1) / 2 };
}

export class ServerClock {
  /** send(text): sends a text message on the socket being measured. */
  constructor(send, { exchanges = EXCHANGES, timeoutMs = TIMEOUT_MS, now = () => Date.now() } = {}) {
    this.send = send;
    this.exchanges = exchanges;
    this.timeoutMs = timeoutMs;
    this.now = now;
    this.best = null;
    this.answered = 0;
    this.pending = null;
    this.done = null;
  }

  /** Resolves with the offset (server ms − page ms), or null when the server never answered. */
  measure() {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.finish(), this.timeoutMs);
      this.done = () => {
        clearTimeout(timer);
        resolve(this.best ? this.best.offset : null);
      };
      this.ask();
    });
  }

  ask() {
    this.pending = this.now();
    this.send(JSON.stringify({ type: "clock", t0: this.pending }));
  }

  /** Give it each message from the socket; true when it was an answer to a clock exchange. */
  handle(message) {
    if (!message || message.type !== "clock" || message.t0 !== this.pending) return false;
    if (!Number.isFinite(message.server)) return true;
    const sample = clockSample(message.t0, this.now(), message.server);
    if (!this.best || sample.roundTrip < this.best.roundTrip) this.best = sample;
    this.answered += 1;
    if (this.answered >= this.exchanges) this.finish();
    else this.ask();
    return true;
  }

  finish() {
    this.pending = null;
    if (this.done) {
      const done = this.done;
      this.done = null;
      done();
    }
  }

  get roundTrip() {
    return this.best ? this.best.roundTrip : null;
  }
}
