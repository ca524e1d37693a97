// How long to wait before trying again: doubling from `first` seconds, with jitter, at most
// `maxVisible` seconds while the viewer can see the page and `maxHidden` in a background tab.

// Hidden: a background tab, unless the player is in a picture-in-picture window (pip-window.js),
// which the viewer watches precisely while the page is in the background.
export function pageHidden() {
  const pip = window.documentPictureInPicture?.window;
  return document.hidden && !(pip && !pip.closed && !pip.document.hidden);
}

export class Backoff {
  constructor({ first = 2, maxVisible = 10, maxHidden = 60, jitter = 0.2 } = {}) {
    this.first = first;
    this.maxVisible = maxVisible;
    this.maxHidden = maxHidden;
    this.jitter = jitter;
    this.delay = first;
  }

  /** Seconds to wait now; the next wait doubles. `random` is for tests. */
  next(hidden = pageHidden(), random = Math.random()) {
    const cap = hidden ? this.maxHidden : this.maxVisible;
    const base = Math.min(this.delay, cap);
    this.delay = Math.min(this.delay * 2, this.maxHidden);
    return Math.min(cap, base * (1 - this.jitter + 2 * this.jitter * random));
  }

  reset() {
    this.delay = this.first;
  }
}
