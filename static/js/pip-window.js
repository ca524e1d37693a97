// Picture-in-picture that keeps the captions. A plain picture-in-picture window shows the video
// element alone: the captions on the picture, drawn by this page, stay behind. Where the browser
// has the Document Picture-in-Picture API (Chrome and Edge 116+ on desktop), the whole player
// (video, captions, controls) moves into the floating window instead, and comes back when that
// window closes. The video keeps playing across both moves. Elsewhere controls.js falls back to
// the video's own picture-in-picture (Safari shows the captions there from the text track).

const MIRRORED = /^data-/;

export function playerWindowSupported() {
  return "documentPictureInPicture" in window;
}

// The page's state lives on its <body> as data-* attributes (player state, captions state), and
// the stylesheets read some of it; the floating window's body carries the same.
function mirrorData(from, to) {
  for (const { name } of [...to.attributes]) {
    if (MIRRORED.test(name) && !from.hasAttribute(name)) to.removeAttribute(name);
  }
  for (const { name, value } of from.attributes) {
    if (MIRRORED.test(name)) to.setAttribute(name, value);
  }
}

function placeholder(onBack) {
  const box = document.createElement("div");
  box.className = "pip-placeholder";
  box.id = "pip-placeholder";
  box.setAttribute("role", "status"); // screen readers hear where the video went
  const text = document.createElement("p");
  text.textContent = "The video and its captions are playing in a picture-in-picture window.";
  const back = document.createElement("button");
  back.type = "button";
  back.textContent = "Bring the video back";
  back.addEventListener("click", onBack);
  box.append(text, back);
  return box;
}

export class PlayerWindow {
  /** onChange(open, focusWasThere): the player moved out (true) or back (false; whether the
   * focus was in its window or on the placeholder); onKey: keydown out there. Each move also
   * fires `livestream:player-moved` on this page's document, with the player's new document. */
  constructor(player, { onChange, onKey }) {
    this.player = player;
    this.onChange = onChange;
    this.onKey = onKey;
    this.window = null;
    this.stand = null;
    this.mirror = null;
    this.asked = false;
  }

  get open() {
    return this.window !== null;
  }

  async toggle() {
    if (this.window) {
      this.asked = true; // by the viewer, from the window or the placeholder: focus follows
      this.window.close(); // its pagehide brings the player back
      return;
    }
    const { width, height } = this.player.getBoundingClientRect();
    const pip = await window.documentPictureInPicture.requestWindow({
      width: Math.max(320, Math.round(width)),
      height: Math.max(180, Math.round(height)),
    });
    for (const sheet of document.querySelectorAll('link[rel="stylesheet"]')) {
      pip.document.head.append(sheet.cloneNode());
    }
    pip.document.title = document.title;
    pip.document.documentElement.lang = document.documentElement.lang;
    pip.document.body.classList.add("pip-window");
    mirrorData(document.body, pip.document.body);
    this.mirror = new MutationObserver(() => mirrorData(document.body, pip.document.body));
    this.mirror.observe(document.body, { attributes: true });

    this.stand = placeholder(() => this.toggle());
    this.player.before(this.stand);
    pip.document.body.append(this.player);
    pip.document.addEventListener("keydown", this.onKey);
    pip.addEventListener("pagehide", () => this.back(), { once: true });
    this.window = pip;
    this.player.setAttribute("data-pip", "");
    this.moved(pip.document);
    this.onChange(true, false);
  }

  back() {
    if (!this.window) return;
    const focusWasThere = this.asked || this.window.document.hasFocus()
      || this.stand.contains(document.activeElement);
    this.asked = false;
    this.mirror.disconnect();
    this.stand.replaceWith(this.player);
    this.window = this.stand = this.mirror = null;
    this.player.removeAttribute("data-pip");
    this.moved(document);
    this.onChange(false, focusWasThere);
  }

  moved(where) {
    document.dispatchEvent(new CustomEvent("livestream:player-moved", { detail: { document: where } }));
  }
}
