// Broadcast-style roll-up captions on the picture: the newest words at the bottom, at most two
// lines (the window is two lines high and anchored at the bottom, so earlier lines roll up out
// of it), the interim continuing the last line until the final replaces it.
// Text goes in with textContent only.

// Enough finals text to fill two lines at the smallest size on the widest screen.
const KEEP_CHARS = 360;

function tail(text, limit) {
  if (text.length <= limit) return text;
  const cut = text.slice(text.length - limit);
  const space = cut.indexOf(" ");
  return space > 0 && space < 40 ? cut.slice(space + 1) : cut;
}

export class RollUp {
  constructor({ window: windowElement, text, final, interim }) {
    this.window = windowElement;
    this.text = text;
    this.finalElement = final;
    this.interimElement = interim;
    this.segments = []; // the finals on screen: { seq, text }, oldest first
    this.interimText = "";
    this.reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  }

  get finals() {
    return this.segments.map((segment) => segment.text).filter(Boolean).join(" ");
  }

  /** What is on screen now: the finals kept and the interim, for the text track. */
  get current() {
    return { final: this.finals, interim: this.interimText };
  }

  get empty() {
    return !this.finals && !this.interimText;
  }

  final(seq, text) {
    this.segments.push({ seq, text });
    // Keep what can fill two lines, no more.
    let length = this.finals.length;
    while (this.segments.length > 1 && length - this.segments[0].text.length > KEEP_CHARS) {
      length -= this.segments.shift().text.length + 1;
    }
    this.interimText = "";
    this.render();
  }

  /** Staff corrected (or removed, with empty text) a final: replace it if it is on screen. */
  correct(seq, text) {
    const segment = this.segments.find((s) => s.seq === seq);
    if (!segment) return false;
    segment.text = text;
    this.render({ roll: false });
    return true;
  }

  interim(text) {
    this.interimText = text;
    this.render();
  }

  /** Drop the interim (e.g. captioning stopped before it was finished). */
  dropInterim() {
    if (!this.interimText) return;
    this.interimText = "";
    this.render();
  }

  clear() {
    this.segments = [];
    this.interimText = "";
    this.render({ roll: false });
  }

  render({ roll = true } = {}) {
    const before = this.text.offsetHeight;
    this.finalElement.textContent = tail(this.finals, KEEP_CHARS);
    const interim = this.interimText ? tail(this.interimText, KEEP_CHARS) : "";
    this.interimElement.textContent = this.finals && interim ? ` ${interim}` : interim;
    this.window.toggleAttribute("data-empty", this.empty);
    if (roll) this.roll(before);
  }

  // A new line pushes the others up: slide them up by that line rather than jump.
  roll(before) {
    const grown = this.text.offsetHeight - before;
    if (grown <= 0 || before === 0 || this.reducedMotion.matches) return;
    this.text.removeAttribute("data-rolling");
    this.text.style.transform = `translateY(${grown}px)`;
    this.text.getBoundingClientRect(); // apply the offset before animating it away
    this.text.setAttribute("data-rolling", "");
    this.text.style.transform = "";
  }
}
