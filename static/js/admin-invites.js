// Admin: "Copy link" buttons (data-invite holds the code's invite link) copy the link and say so
// on the button for a moment. One listener on the document serves every button, rows added
// later included. Where the Clipboard API is missing (plain http on a host other than
// localhost), the link is copied through a selected text field instead. The link is also the
// button's title, and on a code's own page it stands in a field beside it.
"use strict";

const SAID_FOR_MS = 2000;

function copyBySelection(text) {
  const field = document.createElement("textarea");
  field.value = text;
  field.setAttribute("readonly", "");
  field.style.position = "fixed";
  field.style.opacity = "0";
  document.body.append(field);
  field.select();
  const copied = document.execCommand("copy");
  field.remove();
  return copied;
}

async function copy(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Refused (no permission, page not focused): try the older way.
    }
  }
  return copyBySelection(text);
}

function say(button, text) {
  clearTimeout(button.sayTimer);
  if (!button.dataset.label) button.dataset.label = button.textContent;
  button.textContent = text;
  button.sayTimer = setTimeout(() => {
    button.textContent = button.dataset.label;
  }, SAID_FOR_MS);
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.invite-copy[data-invite]");
  if (!button) return;
  event.preventDefault();
  const copied = await copy(button.dataset.invite);
  say(button, copied ? "Copied" : "Not copied");
  button.classList.toggle("invite-copied", copied);
});
