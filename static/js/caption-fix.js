// Staff fix a final caption in place on the player page: every line of the on-page transcript
// gets "Edit" and "Remove". They post to /watch/<slug>/captions/<seq>/ (text=… or remove=1,
// with the CSRF token the page was rendered with: the cookie itself is HttpOnly). On success
// the page shows the change at once (captions.js applies it as it applies a `correction`
// message; every other viewer gets that message from the server). A refusal's reason is shown
// beside the line. Loaded only for staff who may change captions (watch.html).
// Text goes in with textContent only.

const token = JSON.parse(document.getElementById("caption-fix-token").textContent);
const endpoint = JSON.parse(document.getElementById("caption-fix-url").textContent); // …/0/
const list = document.getElementById("transcript-list");

const GENERIC_ERROR = "The change was not saved. Try again.";

function urlFor(seq) {
  return endpoint.replace(/0\/$/, `${seq}/`);
}

function lineLabel(item) {
  const time = item.querySelector(".transcript-time")?.textContent || "";
  return time ? `caption at ${time}` : `caption ${item.dataset.seq}`;
}

/** Tell captions.js: it updates the transcript, the picture and the text track. */
function applyLocally(seq, text, removed) {
  document.dispatchEvent(
    new CustomEvent("livestream:correction", { detail: { seq, text, removed } }),
  );
}

async function post(seq, fields) {
  let response;
  try {
    response = await fetch(urlFor(seq), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token },
      body: new URLSearchParams(fields),
    });
  } catch {
    return { error: "The server could not be reached; the change was not saved." };
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.ok && body) return { caption: body };
  if (response.status === 400 && body && body.error) return { error: String(body.error) };
  if (response.status === 403) return { error: "You may no longer change captions (signed out?)." };
  if (response.status === 404) return { error: "This caption is no longer in the record." };
  return { error: GENERIC_ERROR };
}

function button(text, label, className) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = text;
  element.setAttribute("aria-label", label);
  return element;
}

function showError(item, message) {
  let error = item.querySelector(".transcript-fix-error");
  if (!error) {
    error = document.createElement("p");
    error.className = "transcript-fix-error";
    error.setAttribute("role", "alert");
    item.append(error);
  }
  error.textContent = message;
  return error;
}

function clearError(item) {
  item.querySelector(".transcript-fix-error")?.remove();
}

function closeEditor(item, { focus = true } = {}) {
  item.querySelector(".transcript-edit")?.remove();
  item.classList.remove("editing");
  clearError(item);
  if (focus) item.querySelector(".transcript-fix-edit")?.focus();
}

function openEditor(item) {
  if (item.querySelector(".transcript-edit")) {
    item.querySelector(".transcript-edit textarea").focus();
    return;
  }
  const seq = Number(item.dataset.seq);
  const current = item.querySelector(".transcript-text").textContent;
  const form = document.createElement("form");
  form.className = "transcript-edit";
  const fieldId = `caption-fix-${seq}`;
  const label = document.createElement("label");
  label.className = "visually-hidden";
  label.htmlFor = fieldId;
  label.textContent = `Corrected text of the ${lineLabel(item)}`;
  const field = document.createElement("textarea");
  field.id = fieldId;
  field.name = "text";
  field.rows = 2;
  field.value = current;
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const cancel = button("Cancel", `Cancel editing the ${lineLabel(item)}`, "button-quiet");
  const actions = document.createElement("div");
  actions.className = "transcript-edit-actions";
  actions.append(save, cancel);
  form.append(label, field, actions);
  item.classList.add("editing");
  item.append(form);
  field.focus();
  field.select();

  cancel.addEventListener("click", () => closeEditor(item));
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      closeEditor(item);
    } else if (event.key === "Enter" && !event.shiftKey && event.target === field) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.setAttribute("aria-busy", "true");
    save.disabled = true;
    const result = await post(seq, { text: field.value });
    form.removeAttribute("aria-busy");
    save.disabled = false;
    if (result.error) {
      const error = showError(item, result.error);
      error.id = `${fieldId}-error`;
      field.setAttribute("aria-describedby", error.id);
      field.setAttribute("aria-invalid", "true");
      field.focus();
      return;
    }
    closeEditor(item);
    applyLocally(seq, result.caption.text, Boolean(result.caption.removed));
  });
}

async function removeLine(item, removeButton) {
  const seq = Number(item.dataset.seq);
  const text = item.querySelector(".transcript-text").textContent;
  if (!window.confirm(`Remove this caption for every viewer?\n\n“${text}”`)) return;
  // Where the keyboard goes once the line is gone (the server's own correction message may
  // take the line out before this post's answer comes back).
  const neighbour = item.nextElementSibling || item.previousElementSibling;
  removeButton.disabled = true;
  const result = await post(seq, { remove: "1" });
  removeButton.disabled = false;
  if (result.error) {
    showError(item, result.error);
    removeButton.focus();
    return;
  }
  applyLocally(seq, "", true);
  const target = neighbour?.isConnected ? neighbour.querySelector(".transcript-fix-edit") : null;
  if (target) target.focus();
  else list.focus();
}

function addControls(item) {
  if (!item.dataset.seq || item.querySelector(".transcript-fix")) return;
  const controls = document.createElement("span");
  controls.className = "transcript-fix";
  const edit = button("Edit", `Edit the ${lineLabel(item)}`, "transcript-fix-edit");
  const remove = button("Remove", `Remove the ${lineLabel(item)}`, "transcript-fix-remove");
  controls.append(edit, remove);
  item.append(controls);
  edit.addEventListener("click", () => openEditor(item));
  remove.addEventListener("click", () => removeLine(item, remove));
}

for (const item of list.children) addControls(item);
new MutationObserver((changes) => {
  for (const change of changes) {
    for (const node of change.addedNodes) {
      if (node instanceof HTMLLIElement) addControls(node);
    }
  }
}).observe(list, { childList: true });
if (!list.hasAttribute("tabindex")) list.tabIndex = -1; // somewhere for focus after a removal
