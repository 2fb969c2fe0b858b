// Webhooks: the workspace's endpoints, one opened below them with its delivery log
// (webhook_deliveries.js), and what an owner or admin does to them: create one
// (webhook_form.js), send a test event, disable and enable, rotate the secret, delete.
//
// The list is a live list, as the schedules' is (live_list.js): the REST state first
// (`GET /webhooks`), then the `webhook-status-changed` events, in order; enabled
// moves both ways, so order keeps it right. No event says an endpoint was created or
// deleted: the page that does it shows it at once, another page when it reads it
// (an endpoint's first status change, a reload; a read that answers 404 takes it off).
//
// A secret comes back only from create and rotate, and is shown once (webhook_secret.js); it
// is never kept with the endpoint the list holds.

import { api, problem, zonedTime } from "./api.js";
import { liveList } from "./live_list.js";
import { initSecret, showSecret } from "./webhook_secret.js";
import { initWebhookForm } from "./webhook_form.js";
import { addDelivery, closeDeliveries, initDeliveries, refreshDeliveries, showDeliveries } from "./webhook_deliveries.js";

export const WEBHOOK_TYPES = ["webhook-status-changed"];
const REASONS = {
  manual: "disabled by a user",
  gone: "disabled: the receiver answered 410 Gone",
  failing: "disabled: every attempt failed for days",
};
const COUNTERPART = { disable: "enable", enable: "disable" };
const DONE = { disable: "Disabled.", enable: "Enabled: events committed from now on are sent." };

let body;
let detail;
let title;
let actionStatus;
let listStatus;
let webhooks;
const state = { openId: null, opener: null };

const status = (webhook) => (webhook.enabled ? "enabled" : "disabled");
const statusText = (webhook) => (webhook.enabled ? "Enabled" : `Disabled (${webhook.disabled_reason ?? "manual"})`);
const eventsText = (webhook) => (webhook.event_types === "all" ? "All" : webhook.event_types.join(", "));
// The endpoint as the list keeps it: never its secret.
const withoutSecret = ({ secret, ...webhook }) => webhook;

// --- the list -------------------------------------------------------------------------------

export async function loadWebhooks() {
  await webhooks.load();
  if (state.openId && !webhooks.items.has(state.openId)) closeWebhook({ focusBack: false });
  if (state.openId) refreshDeliveries();
}

function showEmptyRow(text) {
  if (body.rows.length) return;
  const cell = body.insertRow().insertCell();
  cell.parentElement.className = "empty-row";
  cell.colSpan = 5;
  cell.textContent = text;
}

function draw(webhook, { atTop }) {
  drawRow(webhook, atTop);
  if (webhook.id === state.openId) drawDetail(webhook);
}

function forget(id) {
  webhooks.items.delete(id);
  document.getElementById(`webhook-${id}`)?.remove();
  showEmptyRow("No webhooks yet.");
  if (id === state.openId) closeWebhook({ focusBack: false });
}

function drawRow(webhook, atTop) {
  body.querySelector(".empty-row")?.remove();
  let row = document.getElementById(`webhook-${webhook.id}`);
  if (!row) {
    row = document.createElement("tr");
    row.id = `webhook-${webhook.id}`;
    row.dataset.webhookId = webhook.id;
    for (const name of ["url", "description", "events", "status", "created"]) {
      const cell = document.createElement("td");
      cell.dataset.field = name;
      row.append(cell);
    }
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open-campaign";
    open.addEventListener("click", () => openWebhook(webhook.id, open));
    row.querySelector('[data-field="url"]').append(open);
    if (atTop) body.prepend(row);
    else body.append(row);
  }
  row.dataset.status = status(webhook);
  const open = row.querySelector(".open-campaign");
  open.textContent = webhook.url;
  open.setAttribute("aria-label", `Open the webhook ${webhook.url}`);
  const text = {
    description: webhook.description,
    events: eventsText(webhook),
    status: statusText(webhook),
    created: zonedTime(webhook.created_at),
  };
  for (const [name, value] of Object.entries(text)) row.querySelector(`[data-field="${name}"]`).textContent = value;
}

// --- events ---------------------------------------------------------------------------------

export function onWebhookEvent(type, data) {
  webhooks.onEvent(type, data);
}

function change(type, data, known) {
  if (type !== "webhook-status-changed") return;
  webhooks.remember({
    ...known,
    enabled: data.enabled,
    disabled_reason: data.enabled ? null : data.reason,
    failing_since: data.enabled ? null : known.failing_since,
  }, { atTop: false });
  // a disabled endpoint's open deliveries fail when the sender next claims them
  if (data.webhook_id === state.openId) refreshDeliveries();
}

// --- the opened endpoint --------------------------------------------------------------------

function openWebhook(id, opener) {
  const webhook = webhooks.items.get(id);
  if (!webhook) return;
  state.openId = id;
  state.opener = opener;
  detail.hidden = false;
  detail.dataset.webhookId = id;
  actionStatus.textContent = "";
  delete actionStatus.dataset.kind;
  drawDetail(webhook);
  showDeliveries(id);
  title.focus();
}

function closeWebhook({ focusBack = true } = {}) {
  state.openId = null;
  detail.hidden = true;
  delete detail.dataset.webhookId;
  delete detail.dataset.status;
  closeDeliveries();
  if (focusBack) state.opener?.focus();
}

function fact(term, description) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = description;
  return [dt, dd];
}

function drawDetail(webhook) {
  title.textContent = webhook.url;
  const pill = document.getElementById("webhook-state");
  pill.textContent = status(webhook);
  pill.dataset.status = status(webhook);
  detail.dataset.status = status(webhook);
  const facts = [
    ...fact("URL", webhook.url),
    ...fact("Description", webhook.description || "–"),
    ...fact("Events", webhook.event_types === "all" ? "All event types, also those added later" : eventsText(webhook)),
    ...fact("Status", webhook.enabled ? "Enabled" : REASONS[webhook.disabled_reason] ?? "Disabled"),
    ...fact("Created", zonedTime(webhook.created_at)),
  ];
  if (webhook.failing_since) facts.push(...fact("Failing since", zonedTime(webhook.failing_since)));
  if (webhook.previous_secret_expires_at && Date.parse(webhook.previous_secret_expires_at) > Date.now()) {
    facts.push(...fact("Previous secret signs until", zonedTime(webhook.previous_secret_expires_at)));
  }
  document.getElementById("webhook-facts").replaceChildren(...facts);
  for (const button of detail.querySelectorAll("[data-webhook-action]")) {
    const action = button.dataset.webhookAction;
    if (action === "disable" || action === "test") button.hidden = !webhook.enabled;
    else if (action === "enable") button.hidden = webhook.enabled;
  }
}

const CONFIRM = {
  delete: (url) => `Delete the webhook ${url} and its delivery log? Its receiver gets nothing more.`,
  rotate: () => "Rotate the signing secret? The current one keeps signing, beside the new one, "
    + `for ${detail.dataset.graceHours} hours.`,
};

async function act(button) {
  const id = state.openId;
  const action = button.dataset.webhookAction;
  const url = webhooks.items.get(id)?.url;
  if (CONFIRM[action] && !window.confirm(CONFIRM[action](url))) return;
  if (detail.dataset.busy) return; // one action at a time
  const buttons = [...detail.querySelectorAll("[data-webhook-action]")];
  // aria-disabled, not disabled: a disabled button loses the keyboard's focus
  detail.dataset.busy = "true";
  for (const each of buttons) each.setAttribute("aria-disabled", "true");
  actionStatus.dataset.kind = "busy";
  actionStatus.textContent = "…";
  try {
    if (action === "delete") {
      await api(`/webhooks/${id}`, { method: "DELETE" });
      forget(id);
      listStatus.dataset.kind = "ok";
      listStatus.textContent = `Deleted the webhook ${url}.`;
      document.getElementById("webhooks-title").focus();
    } else if (action === "test") {
      const delivery = await api(`/webhooks/${id}/test`, { method: "POST" });
      addDelivery(delivery);
      actionStatus.dataset.kind = "ok";
      actionStatus.textContent = "Test event queued: its delivery is at the top of the log.";
    } else if (action === "rotate") {
      const answer = await api(`/webhooks/${id}/rotate-secret`, { method: "POST" });
      webhooks.remember(withoutSecret(answer), { atTop: false });
      actionStatus.dataset.kind = "ok";
      actionStatus.textContent = "Secret rotated.";
      showSecret(answer, { rotated: true, focusAfter: title });
    } else {
      const webhook = await api(`/webhooks/${id}`, { method: "PATCH", json: { enabled: action === "enable" } });
      webhooks.remember(webhook, { atTop: false });
      actionStatus.dataset.kind = "ok";
      actionStatus.textContent = DONE[action];
      refreshDeliveries();
    }
  } catch (error) {
    if (error.status === 404) { // deleted elsewhere: no event says so
      forget(id);
      listStatus.dataset.kind = "error";
      listStatus.textContent = `The webhook ${url} is no longer there: it was deleted elsewhere.`;
      document.getElementById("webhooks-title").focus();
    } else {
      actionStatus.dataset.kind = "error";
      actionStatus.textContent = problem(error);
    }
  } finally {
    delete detail.dataset.busy;
    for (const each of buttons) each.removeAttribute("aria-disabled");
  }
  // The pressed button may have gone with the status: focus moves to its counterpart
  // (Disable becomes Enable), so it stays in the endpoint.
  if (!detail.hidden && button.hidden) {
    const counterpart = detail.querySelector(`[data-webhook-action="${COUNTERPART[action]}"]`);
    (counterpart && !counterpart.hidden ? counterpart : buttons.find((each) => !each.hidden) ?? title).focus();
  }
}

function created(answer) {
  const webhook = withoutSecret(answer);
  webhooks.remember(webhook, { atTop: true });
  const opener = document.querySelector(`#webhook-${webhook.id} .open-campaign`);
  openWebhook(webhook.id, opener);
  showSecret(answer, { rotated: false, focusAfter: title });
}

export function initWebhooks() {
  body = document.getElementById("webhooks");
  detail = document.getElementById("webhook");
  title = document.getElementById("webhook-title");
  actionStatus = document.getElementById("webhook-action-status");
  listStatus = document.getElementById("webhooks-status");
  webhooks = liveList({
    path: "/webhooks",
    idOf: (data) => data.webhook_id,
    rows: body,
    more: document.getElementById("webhooks-more"),
    empty: (error) => showEmptyRow(error ? `Webhooks could not be read: ${problem(error)}` : "No webhooks yet."),
    draw,
    change,
  });
  document.getElementById("webhook-close").addEventListener("click", () => closeWebhook());
  for (const button of detail.querySelectorAll("[data-webhook-action]")) {
    button.addEventListener("click", () => act(button));
  }
  detail.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.target.closest("input, select")) closeWebhook();
  });
  initSecret();
  initDeliveries({ gone: forget });
  initWebhookForm({ created });
}
