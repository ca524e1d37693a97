// The same captions as a text track on the video, for where the page's own overlay cannot be
// seen: the iPhone's full screen is the system player, which shows the video and its text
// tracks only (and so does Safari's picture-in-picture). One cue at a time, holding the two
// lines on screen now; it is shown ("showing") only while the system player has the video.

const LINE_CHARS = 37; // Apple's and the broadcast guidance: ~32–37 characters a line
const LINES = 2;

function escapeCueText(text) {
  // Cue text is WebVTT markup: these three must be escaped to appear as themselves.
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * The newest words as at most two lines of at most `lineChars` characters: the final words
 * as they are, the interim ones in <i> (provisional).
 */
export function cueText(finalText, interimText, lineChars = LINE_CHARS) {
  const words = [
    ...finalText.split(/\s+/).filter(Boolean).map((word) => ({ word, interim: false })),
    ...interimText.split(/\s+/).filter(Boolean).map((word) => ({ word, interim: true })),
  ];
  const lines = [];
  let line = [];
  let length = 0;
  for (let i = words.length - 1; i >= 0; i -= 1) {
    const word = { ...words[i], word: words[i].word.slice(-lineChars) };
    if (line.length && length + 1 + word.word.length > lineChars) {
      lines.unshift(line);
      line = [];
      length = 0;
      if (lines.length === LINES) break;
    }
    length += (line.length ? 1 : 0) + word.word.length;
    line.unshift(word);
  }
  if (line.length && lines.length < LINES) lines.unshift(line);
  return lines.map(renderLine).join("\n");
}

function renderLine(words) {
  const parts = [];
  let italic = [];
  const flush = () => {
    if (italic.length) parts.push(`<i>${italic.map(escapeCueText).join(" ")}</i>`);
    italic = [];
  };
  for (const { word, interim } of words) {
    if (interim) {
      italic.push(word);
    } else {
      flush();
      parts.push(escapeCueText(word));
    }
  }
  flush();
  return parts.join(" ");
}

/** True where the video goes full screen only in the system player (iPhone Safari). */
export function needsTextTrack(video, doc = document) {
  const elementFullscreen = doc.fullscreenEnabled || doc.webkitFullscreenEnabled;
  return typeof video.webkitEnterFullscreen === "function" && !elementFullscreen;
}

export class TextTrackFeed {
  constructor(video, { label = "Captions", language = "" } = {}) {
    this.video = video;
    this.track = video.addTextTrack("captions", label, language);
    this.track.mode = "hidden";
    this.cue = null;
    this.enabled = true; // CC on
    this.systemPlayer = false; // the video is in the system's full screen or picture-in-picture
    const enter = () => this.setSystemPlayer(true);
    const leave = () => this.setSystemPlayer(false);
    video.addEventListener("webkitbeginfullscreen", enter);
    video.addEventListener("webkitendfullscreen", leave);
    video.addEventListener("enterpictureinpicture", enter);
    video.addEventListener("leavepictureinpicture", leave);
    video.addEventListener("webkitpresentationmodechanged", () => {
      this.setSystemPlayer(video.webkitPresentationMode !== "inline");
    });
  }

  /** Show these words (the overlay's current text) on the track. */
  show(finalText, interimText) {
    const text = cueText(finalText, interimText);
    if (this.cue) {
      this.track.removeCue(this.cue);
      this.cue = null;
    }
    if (!text) return;
    // From the start of the media to far beyond now: shown at whatever position the video is.
    const Cue = window.VTTCue;
    this.cue = new Cue(0, Math.max(0, this.video.currentTime || 0) + 86400, text);
    this.track.addCue(this.cue);
  }

  clear() {
    this.show("", "");
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    this.updateMode();
  }

  setSystemPlayer(active) {
    this.systemPlayer = active;
    this.updateMode();
  }

  updateMode() {
    // Inline, the page's overlay shows the captions: the track stays hidden so they are not
    // drawn twice.
    if (!this.enabled) this.track.mode = "disabled";
    else this.track.mode = this.systemPlayer ? "showing" : "hidden";
  }
}
