// Finals in sequence order, whatever order they arrive in, none skipped.
//
// Every final has a per-stream sequence number and is stored before it is broadcast, so the
// record (the socket's `history`, or `?after=<seq>`) can fill any gap. A final that arrives
// ahead of one still missing waits; if the missing one does not arrive within a moment (it may
// simply be a few milliseconds behind), `onGap(lastSeq)` asks for everything after the last
// final delivered. Nothing is delivered out of order and nothing is delivered twice.

const GAP_GRACE_MS = 400;
const GAP_RETRY_MAX_MS = 8000;

export class FinalsInOrder {
  /**
   * onFinal(caption, origin): each final once, in seq order; origin is "history" (what the
   * page found when it opened), "recovered" (fetched to fill a gap or after a reconnect) or
   * "live". onGap(lastSeq): ask for every final after lastSeq.
   */
  constructor({ onFinal, onGap }) {
    this.onFinal = onFinal;
    this.onGap = onGap;
    this.last = null; // seq of the last final delivered; null until the first history
    this.waiting = new Map(); // seq -> caption, arrived ahead of a missing one
    this.gapTimer = null;
    this.gapRetry = GAP_GRACE_MS;
  }

  get lastSeq() {
    return this.last ?? 0;
  }

  get missing() {
    return this.waiting.size > 0;
  }

  /** A `history` message: the record's finals after what the page asked for. */
  history(captions, origin) {
    const sorted = [...captions].filter((c) => Number.isInteger(c.seq)).sort((a, b) => a.seq - b.seq);
    if (this.last === null) this.last = 0;
    for (const caption of sorted) {
      if (caption.seq > this.last) this.deliver(caption, origin);
    }
    // The record holds every final up to the newest it returned: none before it is missing.
    for (const seq of this.waiting.keys()) {
      if (seq <= this.last) this.waiting.delete(seq);
    }
    this.drain(); // what arrived live while the record was fetched
    this.checkGap(true);
  }

  /** A final from the live stream. */
  live(caption) {
    if (!Number.isInteger(caption.seq)) return;
    if ((this.last !== null && caption.seq <= this.last) || this.waiting.has(caption.seq)) return;
    this.waiting.set(caption.seq, caption);
    if (this.last === null) return; // the history comes first; it decides what is missing
    this.drain();
    this.checkGap(false);
  }

  deliver(caption, origin) {
    this.last = caption.seq;
    this.onFinal(caption, origin);
  }

  drain() {
    for (let next = this.waiting.get(this.last + 1); next; next = this.waiting.get(this.last + 1)) {
      this.waiting.delete(next.seq);
      this.deliver(next, "live");
    }
  }

  checkGap(afterFetch) {
    if (!this.missing) {
      clearTimeout(this.gapTimer);
      this.gapTimer = null;
      this.gapRetry = GAP_GRACE_MS;
      return;
    }
    if (afterFetch) {
      // Asked, and still missing (the record was not yet visible?): ask again, less often.
      clearTimeout(this.gapTimer);
      this.gapTimer = null;
      this.gapRetry = Math.min(this.gapRetry * 2, GAP_RETRY_MAX_MS);
    }
    if (this.gapTimer !== null) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      if (this.missing) this.onGap(this.lastSeq);
    }, this.gapRetry);
  }

  /** A status named the newest final stored: if the page has not had it, ask the record. */
  known(lastSeq) {
    if (this.last === null || !Number.isInteger(lastSeq) || lastSeq <= this.last) return;
    if (this.waiting.has(lastSeq)) return; // it arrived; what is before it is already asked for
    if (this.gapTimer !== null) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      if (lastSeq > this.lastSeq) this.onGap(this.lastSeq);
    }, this.gapRetry); // it may simply be a few milliseconds behind its status
  }

  /** Staff corrected a final that has not been delivered yet: deliver the corrected one. */
  correct(seq, text, removed) {
    const waiting = this.waiting.get(seq);
    if (waiting) this.waiting.set(seq, { ...waiting, text, removed });
  }
}
