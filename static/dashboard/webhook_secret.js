// An endpoint's signing secret, shown once: the answer of `POST /webhooks` or of
// `POST /webhooks/{id}/rotate-secret` is the only one that carries it. It lives in
// this box's input only, never in the page's lists or in storage, so a reload (or
// "I have saved it") takes it away for good.

import { zonedTime } from "./api.js";

let box;
let value;
let status;
let returnFocus = null;

export function showSecret(answer, { rotated, focusAfter }) {
  returnFocus = focusAfter;
  value.value = answer.secret;
  document.getElementById("webhook-secret-for").textContent = `For ${answer.url}`;
  const note = document.getElementById("webhook-secret-rotated");
  note.hidden = !rotated;
  note.textContent = rotated && answer.previous_secret_expires_at
    ? `The previous secret stays valid until ${zonedTime(answer.previous_secret_expires_at)} `
      + `(${document.getElementById("webhook").dataset.graceHours} hours): `
      + "until then each delivery is signed with both, so receivers can change over without missing one."
    : "";
  status.textContent = "";
  delete status.dataset.kind;
  box.dataset.webhookId = answer.id;
  box.hidden = false;
  document.getElementById("webhook-secret-title").focus();
}

function hideSecret() {
  value.value = "";
  box.hidden = true;
  delete box.dataset.webhookId;
  returnFocus?.focus();
}

async function copy() {
  try {
    await navigator.clipboard.writeText(value.value);
    status.dataset.kind = "ok";
    status.textContent = "Copied.";
  } catch {
    // no clipboard here (an insecure origin, or permission refused): the text is ready to copy
    value.select();
    status.dataset.kind = "error";
    status.textContent = "The browser would not copy it: it is selected, press Ctrl+C (⌘C).";
  }
}

export function initSecret() {
  box = document.getElementById("webhook-secret");
  value = document.getElementById("webhook-secret-value");
  status = document.getElementById("webhook-secret-status");
  value.addEventListener("focus", () => value.select());
  document.getElementById("webhook-secret-copy").addEventListener("click", copy);
  document.getElementById("webhook-secret-done").addEventListener("click", hideSecret);
}
