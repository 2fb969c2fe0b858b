// Creating a webhook from the page: `POST /webhooks` with the URL, a description and
// the event types (all, or the ones chosen from the catalogue's workspace types,
// which the page lists). The API is the one judge of a URL: its refusal is shown as
// it says it, and the field it names is marked invalid.

import { api, problem } from "./api.js";

let form;

export function initWebhookForm({ created }) {
  form = document.getElementById("webhook-form");
  for (const radio of form.elements.which) radio.addEventListener("change", showChosen);
  form.addEventListener("input", (event) => {
    event.target.removeAttribute?.("aria-invalid");
    if (event.target.name === "event_types") document.getElementById("webhook-types").removeAttribute("aria-invalid");
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(created);
  });
  showChosen();
}

function showChosen() {
  document.getElementById("webhook-types").hidden = form.elements.which.value !== "chosen";
}

function payload() {
  const chosen = form.elements.which.value === "chosen";
  return {
    url: form.elements.url.value.trim(),
    description: form.elements.description.value.trim(),
    event_types: chosen
      ? [...form.querySelectorAll("input[name=event_types]:checked")].map((box) => box.value)
      : "all",
  };
}

function refused(status, error) {
  status.dataset.kind = "error";
  status.textContent = problem(error);
  const field = String(error.details?.field ?? error.details?.fields?.[0]?.field ?? "");
  if (field.startsWith("url")) {
    form.elements.url.setAttribute("aria-invalid", "true");
    return form.elements.url;
  }
  if (error.code === "unknown_event_type" || field.startsWith("event_types")) {
    const types = document.getElementById("webhook-types");
    types.setAttribute("aria-invalid", "true");
    return types.hidden ? form.elements.which[1] : types.querySelector("input");
  }
  return null;
}

async function submit(created) {
  const status = document.getElementById("webhook-form-status");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  status.dataset.kind = "busy";
  status.textContent = "Creating…";
  try {
    const answer = await api("/webhooks", { method: "POST", json: payload() });
    status.dataset.kind = "ok";
    status.textContent = `Created the webhook ${answer.url}.`;
    form.reset();
    showChosen();
    document.getElementById("new-webhook").open = false;
    created(answer);
  } catch (error) {
    refused(status, error)?.focus();
  } finally {
    button.disabled = false;
  }
}
