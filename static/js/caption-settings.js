// Caption settings, remembered per browser, after the FCC's caption display standards (47 CFR
// 79.103(c)): size, text colour, background colour and opacity, font (proportional or
// monospace); and whether to show captions as soon as they arrive rather than in step with the
// video. The panel sits inside the player, so it works in full screen too.

const STORAGE_KEY = "captions.settings";
const CHOICES = {
  size: ["small", "medium", "large"],
  color: ["white", "yellow", "green", "cyan", "blue", "magenta", "red", "black"],
  background: ["black", "white", "gray", "blue", "yellow"],
  opacity: ["0", "25", "50", "75", "100"],
  font: ["sans", "serif", "mono"],
};
export const DEFAULTS = {
  size: "medium",
  color: "white",
  background: "black",
  opacity: "75",
  font: "sans",
  immediate: false,
  shown: true,
};

const overlay = document.getElementById("captions");
const panel = document.getElementById("caption-settings");
const toggle = document.getElementById("settings-toggle");
const immediateBox = document.getElementById("caption-immediate");

function valid(name, value) {
  if (name === "immediate" || name === "shown") return typeof value === "boolean";
  return CHOICES[name] ? CHOICES[name].includes(value) : false;
}

function load() {
  const settings = { ...DEFAULTS };
  try {
    const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}");
    for (const [name, value] of Object.entries(stored)) {
      if (valid(name, value)) settings[name] = value;
    }
    // Earlier versions kept these two on their own.
    const oldSize = localStorage.getItem("captions.size");
    if (!("size" in stored) && valid("size", oldSize)) settings.size = oldSize;
    if (!("shown" in stored) && localStorage.getItem("captions.shown") === "false") settings.shown = false;
  } catch {
    // Storage refused (private mode) or garbled: the defaults.
  }
  return settings;
}

function save(settings) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(settings));
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

export class CaptionSettings {
  constructor() {
    this.values = load();
    this.listeners = [];
    for (const name of Object.keys(CHOICES)) {
      panel.elements[name].addEventListener("change", (event) => this.set(name, event.target.value));
    }
    immediateBox.addEventListener("change", () => this.set("immediate", immediateBox.checked));
    toggle.addEventListener("click", () => this.open(panel.hidden));
    document.getElementById("caption-settings-done").addEventListener("click", () => this.open(false));
    document.getElementById("caption-settings-reset").addEventListener("click", () => {
      const { shown } = this.values;
      this.values = { ...DEFAULTS, shown };
      this.apply();
      save(this.values);
      this.notify();
    });
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.open(false);
      }
    });
    // A click elsewhere closes the panel: in this page, or in the picture-in-picture window
    // the player may have moved to (pip-window.js), whose document is the player's then.
    this.closeOnClickElsewhere = (event) => {
      if (!panel.hidden && !panel.contains(event.target) && !toggle.contains(event.target)) {
        this.open(false, { restoreFocus: false });
      }
    };
    document.addEventListener("pointerdown", this.closeOnClickElsewhere);
    document.addEventListener("livestream:player-moved", (event) => {
      event.detail.document.addEventListener("pointerdown", this.closeOnClickElsewhere);
    });
    this.apply();
  }

  get(name) {
    return this.values[name];
  }

  set(name, value) {
    if (!valid(name, value) || this.values[name] === value) return;
    this.values[name] = value;
    this.apply();
    save(this.values);
    this.notify();
  }

  onChange(listener) {
    this.listeners.push(listener);
  }

  notify() {
    for (const listener of this.listeners) listener(this.values);
  }

  apply() {
    for (const name of Object.keys(CHOICES)) {
      overlay.dataset[name] = this.values[name];
      panel.elements[name].value = this.values[name];
    }
    immediateBox.checked = this.values.immediate;
  }

  open(open, { restoreFocus = true } = {}) {
    const hadFocus = panel.contains(panel.ownerDocument.activeElement);
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      panel.elements.size.focus();
    } else if (restoreFocus && hadFocus) {
      toggle.focus();
    }
  }
}
