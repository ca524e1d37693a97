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
    this.finals = "";
    this.interimText = "";
    this.reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  }

  /** What is on screen now: the finals kept and the interim, for the text track. */
  get current() {
    return { final: this.finals, interim: this.interimText };
  }

  get empty() {
    return !this.finals && !this.interimText;
  }

  final(text) {
    this.finals = tail(this.finals ? `${this.finals} ${text}` : text, KEEP_CHARS);
    this.interimText = "";
    this.render();
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
    this.finals = "";
    this.interimText = "";
    this.render();
  }

  render() {
    const before = this.text.offsetHeight;
    this.finalElement.textContent = this.finals;
    const interim = this.interimText ? tail(this.interimText, KEEP_CHARS) : "";
    this.interimElement.textContent = this.finals && interim ? ` ${interim}` : interim;
    this.window.toggleAttribute("data-empty", this.empty);
    this.roll(before);
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
