// The bell: the unread count in the page header and the notifications panel it opens
// (docs/dashboard.md, "Notifications").
//
// State first, then the stream, as the rest of the page: on `connected` the list's
// newest page and the unread count are read over REST (`loadNotifications`); the
// `notification` events that arrive meanwhile are held and applied after, and an
// event about a notification the page already holds (a replay after a reconnect, or
// one the REST read already counted) changes nothing.
//
// Read state is the user's own and is not a workspace event, so other tabs of the
// same browser hear of a mark through a BroadcastChannel, and read the count again;
// any tab also reads the count again when it comes back into view (another device
// may have marked something read meanwhile).

import { api, clearEmpty, clock, problem, showEmpty, workspace } from "./api.js";

export const NOTIFICATION_TYPES = ["notification"];
const PAGE_SIZE = 20;
const MAX_ITEMS = 200;

const bell = document.getElementById("bell");
const badge = document.getElementById("unread-count");
const panel = document.getElementById("notifications-panel");
const list = document.getElementById("notifications");
const more = document.getElementById("notifications-more");
const readAll = document.getElementById("notifications-read-all");
const status = document.getElementById("notifications-status");
const channel = "BroadcastChannel" in window ? new BroadcastChannel(`callboard-notifications:${workspace}`) : null;

const state = {
  items: new Map(), // id -> notification, as drawn
  unread: 0,
  ready: false,
  held: [], // notifications that arrived before the REST state
  nextToken: "",
};

// --- drawing --------------------------------------------------------------------------------

function drawCount(count) {
  state.unread = Math.max(0, count);
  badge.textContent = String(state.unread);
  badge.hidden = state.unread === 0;
  bell.setAttribute("aria-label", `Notifications, ${state.unread} unread`);
}

function draw(notification, { atTop }) {
  state.items.set(notification.id, notification);
  clearEmpty(list);
  let item = document.getElementById(`notification-${notification.id}`);
  if (!item) {
    item = document.createElement("li");
    item.id = `notification-${notification.id}`;
    item.dataset.notificationId = notification.id;
    item.dataset.kind = notification.kind;
    item.dataset.severity = notification.severity;
    const heading = document.createElement("strong");
    heading.textContent = notification.title;
    const time = document.createElement("time");
    time.dateTime = notification.created_at;
    time.textContent = clock(notification.created_at);
    const body = document.createElement("p");
    body.textContent = notification.body;
    const mark = document.createElement("button");
    mark.type = "button";
    mark.className = "mark-read";
    mark.textContent = "Mark read";
    mark.setAttribute("aria-label", `Mark “${notification.title}” read`);
    mark.addEventListener("click", () => markRead(notification.id));
    item.append(heading, time, body, mark);
    if (atTop) list.prepend(item);
    else list.append(item);
    while (list.children.length > MAX_ITEMS) list.lastElementChild.remove();
  }
  item.dataset.read = String(notification.read);
  item.querySelector(".mark-read").hidden = notification.read;
}

function showRead(id) {
  const known = state.items.get(id);
  if (known && !known.read) draw({ ...known, read: true }, { atTop: false });
}

// --- state ----------------------------------------------------------------------------------

export async function loadNotifications() {
  state.ready = false;
  try {
    const [page, count] = await Promise.all([
      api(`/notifications?page_size=${PAGE_SIZE}`),
      api("/notifications/unread-count"),
    ]);
    state.items.clear();
    list.replaceChildren();
    for (const notification of page.results) draw(notification, { atTop: false });
    state.nextToken = page.next_page_token;
    drawCount(count.unread);
    showEmpty(list, "No notifications.");
    status.textContent = "";
  } catch (error) {
    status.textContent = `Notifications could not be read: ${problem(error)}`;
    status.dataset.kind = "error";
  }
  more.hidden = !state.nextToken;
  state.ready = true;
  for (const notification of state.held.splice(0)) add(notification);
}

async function loadOlder() {
  const page = await api(`/notifications?page_size=${PAGE_SIZE}&page_token=${encodeURIComponent(state.nextToken)}`);
  for (const notification of page.results) {
    if (!state.items.has(notification.id)) draw(notification, { atTop: false });
  }
  state.nextToken = page.next_page_token;
  more.hidden = !state.nextToken;
}

async function reloadCount() {
  try {
    drawCount((await api("/notifications/unread-count")).unread);
  } catch {
    // the next focus, mark or event tries again
  }
}

// --- events ---------------------------------------------------------------------------------

export function onNotificationEvent(type, notification) {
  if (type !== "notification") return;
  if (!state.ready) state.held.push(notification);
  else add(notification);
}

function add(notification) {
  if (state.items.has(notification.id)) return; // counted already (REST, or an earlier delivery)
  draw(notification, { atTop: true });
  if (!notification.read) drawCount(state.unread + 1);
}

// --- marking read ---------------------------------------------------------------------------

async function markRead(id) {
  try {
    await api(`/notifications/${id}/read`, { method: "POST" });
  } catch (error) {
    status.textContent = problem(error);
    status.dataset.kind = "error";
    return;
  }
  const wasUnread = state.items.get(id)?.read === false;
  showRead(id);
  if (wasUnread) drawCount(state.unread - 1);
  channel?.postMessage({ type: "read", id });
}

async function markAllRead() {
  try {
    await api("/notifications/read-all", { method: "POST" });
  } catch (error) {
    status.textContent = problem(error);
    status.dataset.kind = "error";
    return;
  }
  for (const id of state.items.keys()) showRead(id);
  drawCount(0);
  channel?.postMessage({ type: "read-all" });
}

// Another tab of this browser marked something read: show it, and count again.
function onOtherTab({ data }) {
  if (data?.type === "read") showRead(data.id);
  else if (data?.type === "read-all") for (const id of state.items.keys()) showRead(id);
  else return;
  reloadCount();
}

// --- the panel ------------------------------------------------------------------------------

function toggle(open = panel.hidden) {
  panel.hidden = !open;
  bell.setAttribute("aria-expanded", String(open));
  if (open) panel.querySelector("button:not([hidden])")?.focus();
}

export function initNotifications() {
  drawCount(0);
  bell.addEventListener("click", () => toggle());
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      toggle(false);
      bell.focus();
    }
  });
  readAll.addEventListener("click", markAllRead);
  more.addEventListener("click", () => loadOlder().catch((error) => { status.textContent = problem(error); }));
  channel?.addEventListener("message", onOtherTab);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.ready) reloadCount();
  });
}
