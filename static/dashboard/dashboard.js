// The live dashboard: the public REST API for state, the workspace stream for
// changes. No private data path: what this page shows, any API client can.
//
// Order of work, so nothing is missed or shown twice:
// 1. open the stream (a single-use ticket), and hold its events;
// 2. on `connected`, read the state over REST, draw it, then apply the held
//    events in order (a status only moves forward, so an event older than the
//    state changes nothing);
// 3. on an error, mint a fresh ticket and reconnect from the last cursor
//    (`last_event_id`); on `stream-reset`, read the state again; on `shutdown`,
//    wait `retry_ms` and reconnect.

import { api, money, seconds, TERMINAL } from "./api.js";
import { initCallForm } from "./calls_form.js";
import { CAMPAIGN_TYPES, initCampaigns, loadCampaigns, onCampaignEvent } from "./campaigns.js";
import { CALL_STREAM_TYPES, follow, initDrawer, onCallEvent, openCall } from "./drawer.js";
import { initNotifications, loadNotifications, NOTIFICATION_TYPES, onNotificationEvent } from "./notifications.js";
import { initExports, loadExports } from "./exports.js";
import { applyPanelEvent, PANEL_TYPES } from "./panels.js";
import { initSchedules, loadSchedules, onScheduleEvent, SCHEDULE_TYPES } from "./schedules.js";

const STATE_TYPES = [
  "call-created", "call-status", "call-ended", "call-escalated", "balance-updated", "payment-required",
];
const STATUS_ORDER = ["queued", "ringing", "in-progress", "completed", "failed", "busy", "no-answer", "canceled"];
const rank = (status) => (TERMINAL.has(status) ? STATUS_ORDER.length : STATUS_ORDER.indexOf(status));
const MAX_ROWS = 100;
const RETRY_MS = [500, 1000, 2000, 5000];

const state = {
  calls: new Map(), // id -> call object (as the REST API and call-created give it)
  cursor: null, // the last persisted event's id
  clientId: null, // the open stream connection's, for subscribing to a call
  ready: false, // the REST state is drawn
  held: [], // events that arrived before it was
  source: null,
  failures: 0,
  threshold: null,
  active: 0, // calls not ended yet, as the server last counted them
};

// --- drawing --------------------------------------------------------------------------------

function setConnection(kind, text) {
  const badge = document.getElementById("connection");
  badge.dataset.state = kind;
  badge.textContent = text;
}

function drawCall(call) {
  const body = document.getElementById("calls");
  body.querySelector(".empty-row")?.remove();
  let row = document.getElementById(`call-${call.id}`);
  if (!row) {
    row = document.createElement("tr");
    row.id = `call-${call.id}`;
    row.dataset.callId = call.id;
    for (const name of ["id", "to", "agent", "status", "duration", "cost", "ending"]) {
      const cell = document.createElement("td");
      cell.dataset.field = name;
      row.append(cell);
    }
    // The row's way in, for mouse and keyboard alike: a button that opens the drawer.
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open-call";
    open.setAttribute("aria-label", `Open call ${call.id.slice(0, 8)}`);
    open.addEventListener("click", () => openCall(call.id, open));
    row.querySelector('[data-field="id"]').append(open);
    body.prepend(row);
    while (body.rows.length > MAX_ROWS) body.lastElementChild.remove();
  }
  row.querySelector(".open-call").textContent = call.id.slice(0, 8);
  const fields = {
    to: call.to_number,
    agent: call.agent ?? "",
    status: call.status,
    duration: seconds(call.duration),
    cost: call.cost == null ? "–" : money(call.cost),
    ending: call.end_reason ?? "",
  };
  for (const [name, text] of Object.entries(fields)) {
    row.querySelector(`[data-field="${name}"]`).textContent = text;
  }
  row.dataset.status = call.status;
}

function drawActive(count) {
  state.active = count;
  document.getElementById("active-calls").textContent = String(count);
}

function drawBalance(balance, blocked) {
  document.getElementById("balance").textContent = money(balance);
  const banner = document.getElementById("banner");
  if (blocked) {
    showBanner("Credit exhausted: new calls are refused and running calls end. Top up to continue.", "blocked");
  } else if (state.threshold != null && Number(balance) > Number(state.threshold)) {
    banner.hidden = true;
  }
}

function showBanner(text, kind) {
  const banner = document.getElementById("banner");
  banner.textContent = text;
  banner.dataset.kind = kind;
  banner.hidden = false;
}

// --- state ----------------------------------------------------------------------------------

// Whether the call was new to the page.
function mergeCall(id, changes) {
  const known = state.calls.get(id);
  if (!known) {
    if (!changes.to_number) return false; // a call we never saw created (older than our list): skip
    state.calls.set(id, changes);
    drawCall(changes);
    return true;
  }
  // A status only moves forward: an event older than what the REST state showed changes nothing.
  if (changes.status && rank(changes.status) < rank(known.status)) return false;
  const merged = { ...known, ...changes };
  state.calls.set(id, merged);
  drawCall(merged);
  return false;
}

function apply(type, data) {
  switch (type) {
    case "call-escalated":
      break; // the drawer shows it
    case "call-created":
      // call-created carries no count; the next call-status brings the server's again
      if (mergeCall(data.id, data) && !TERMINAL.has(data.status)) drawActive(state.active + 1);
      break;
    case "call-status":
      mergeCall(data.call_id, { status: data.status });
      drawActive(data.active_calls);
      break;
    case "call-ended":
      mergeCall(data.call_id, {
        status: data.status, end_reason: data.end_reason, duration: data.duration, cost: data.cost,
      });
      drawActive(data.active_calls);
      break;
    case "balance-updated":
      drawBalance(data.balance, Number(data.balance) <= 0);
      break;
    case "payment-required":
      if (data.blocked) drawBalance(data.balance, true);
      else showBanner(`Credit is low: ${money(data.balance)} left (threshold ${money(data.threshold)}).`, "low");
      break;
  }
}

async function loadState() {
  state.ready = false;
  const [recent, active, balance] = await Promise.all([
    api(`/calls?page_size=50`),
    api(`/calls?active=true&page_size=200`),
    api(`/billing/balance`),
  ]);
  state.calls.clear();
  const body = document.getElementById("calls");
  body.replaceChildren();
  for (const call of [...recent.results].reverse()) mergeCall(call.id, call);
  for (const call of active.results) mergeCall(call.id, call);
  if (!state.calls.size) {
    const row = body.insertRow();
    row.className = "empty-row";
    const cell = row.insertCell();
    cell.colSpan = 7;
    cell.textContent = "No calls yet.";
  }
  drawActive(active.total_count);
  state.threshold = balance.low_balance_threshold;
  document.getElementById("balance-detail").textContent =
    `${money(balance.rate_per_minute)} a minute · alert at ${money(balance.low_balance_threshold)}`;
  drawBalance(balance.balance, balance.blocked);
  state.ready = true;
  const held = state.held.splice(0);
  for (const event of held) apply(event.type, event.data);
}

// --- the stream -----------------------------------------------------------------------------

function onStateEvent(message) {
  const envelope = received(message);
  if (state.ready) apply(message.type, envelope.data);
  else state.held.push({ type: message.type, data: envelope.data });
  // after the table: the drawer's facts read the merged call
  if (envelope.call_id) onCallEvent(envelope);
}

function onCallStreamEvent(message) {
  onCallEvent(received(message));
}

function onPanelEvent(message) {
  applyPanelEvent(message.type, received(message).data);
}

function onNotificationStreamEvent(message) {
  onNotificationEvent(message.type, received(message).data);
}

function onCampaignStreamEvent(message) {
  onCampaignEvent(message.type, received(message).data);
}

function onScheduleStreamEvent(message) {
  onScheduleEvent(message.type, received(message).data);
}

function received(message) {
  if (message.lastEventId) state.cursor = message.lastEventId;
  return JSON.parse(message.data);
}

function reconnectLater(delay) {
  state.source?.close();
  state.source = null;
  state.clientId = null;
  setConnection("reconnecting", "Reconnecting…");
  setTimeout(connect, delay);
}

async function connect() {
  let ticket;
  try {
    ({ ticket } = await api("/auth/sse-ticket", { method: "POST" }));
  } catch (error) {
    state.failures += 1;
    setConnection("offline", "Offline");
    setTimeout(connect, RETRY_MS[Math.min(state.failures, RETRY_MS.length - 1)]);
    return;
  }
  const query = new URLSearchParams({ ticket });
  if (state.cursor) query.set("last_event_id", state.cursor);
  const source = new EventSource(`/api/v1/sse/connect?${query}`);
  state.source = source;
  source.addEventListener("connected", (message) => {
    state.clientId = JSON.parse(message.data).data.client_id;
    state.failures = 0;
    setConnection("live", "Live");
    if (!state.ready) {
      loadState().catch(() => reconnectLater(RETRY_MS[1]));
      // each on its own: a failure there leaves the calls alone, and says so
      loadCampaigns();
      loadSchedules();
      loadNotifications();
      loadExports();
    }
    // a new connection has no subscriptions: the open drawer follows its call again
    follow().catch(() => {});
  });
  for (const type of STATE_TYPES) source.addEventListener(type, onStateEvent);
  for (const type of CALL_STREAM_TYPES) source.addEventListener(type, onCallStreamEvent);
  for (const type of PANEL_TYPES) source.addEventListener(type, onPanelEvent);
  for (const type of NOTIFICATION_TYPES) source.addEventListener(type, onNotificationStreamEvent);
  for (const type of CAMPAIGN_TYPES) source.addEventListener(type, onCampaignStreamEvent);
  for (const type of SCHEDULE_TYPES) source.addEventListener(type, onScheduleStreamEvent);
  source.addEventListener("stream-reset", () => {
    state.cursor = null;
    loadCampaigns();
    loadSchedules();
    loadNotifications();
    loadExports();
    loadState()
      .then(follow)
      .catch(() => reconnectLater(RETRY_MS[1]));
  });
  source.addEventListener("shutdown", (message) => {
    const { data } = JSON.parse(message.data);
    reconnectLater(data.retry_ms ?? RETRY_MS[1]);
  });
  // EventSource would retry the same URL, and a ticket works once: reconnect ourselves.
  source.onerror = () => {
    if (state.source !== source) return;
    state.failures += 1;
    reconnectLater(RETRY_MS[Math.min(state.failures, RETRY_MS.length - 1)]);
  };
}

document.getElementById("workspace-switcher")?.addEventListener("change", (event) => {
  event.target.form.requestSubmit();
});
initDrawer({ call: (id) => state.calls.get(id), clientId: () => state.clientId });
initCallForm();
initCampaigns({ openCall });
initSchedules({ openCall });
initNotifications();
initExports();
connect();
