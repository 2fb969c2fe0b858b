// Notifications and exports, drawn from their workspace events (campaigns have a
// view of their own: campaigns.js).
//
// The exports panel reads its state over REST first (exports.js, GET /exports),
// then moves on with each `data-export-status`. Notifications' REST endpoints are
// not built yet (docs/reference/rest.md#to-come names them), so that panel starts
// empty on every page load and fills from the stream; a reconnect replays what was
// missed, like every persisted event.

import { clearEmpty, clock, safeLink } from "./api.js";

export const PANEL_TYPES = ["notification", "data-export-status"];
const MAX_ITEMS = 50;

const notifications = document.getElementById("notifications");
const unread = document.getElementById("unread-count");
const exports = document.getElementById("exports");

export function applyPanelEvent(type, data) {
  switch (type) {
    case "notification":
      return addNotification(data);
    case "data-export-status":
      return drawExport(data);
  }
}

// An export's line, from its event or its REST object in the event's shape.
export function drawExport(data) {
  return drawProgress(exports, "export", data.export_id, {
    status: data.status,
    percent: data.progress,
    detail: data.error ?? `${data.row_count} rows`,
    link: data.download_url,
  });
}

function addNotification(notification) {
  if (document.getElementById(`notification-${notification.id}`)) return;
  clearEmpty(notifications);
  const item = document.createElement("li");
  item.id = `notification-${notification.id}`;
  item.dataset.severity = notification.severity;
  item.dataset.read = String(notification.read);
  const heading = document.createElement("strong");
  heading.textContent = notification.title;
  const time = document.createElement("time");
  time.dateTime = notification.created_at;
  time.textContent = clock(notification.created_at);
  const body = document.createElement("p");
  body.textContent = notification.body;
  item.append(heading, time, body);
  notifications.prepend(item);
  while (notifications.children.length > MAX_ITEMS) notifications.lastElementChild.remove();
  const count = notifications.querySelectorAll('li[data-read="false"]').length;
  unread.textContent = String(count);
  unread.hidden = count === 0;
}

// One line per export, updated in place as its events arrive.
function drawProgress(list, kind, id, { status, percent, detail, link }) {
  clearEmpty(list);
  let item = document.getElementById(`${kind}-${id}`);
  if (!item) {
    item = document.createElement("li");
    item.id = `${kind}-${id}`;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `Export ${id.slice(0, 8)}`;
    const state = document.createElement("span");
    state.className = "state";
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `${name.textContent} progress`);
    const line = document.createElement("span");
    line.className = "detail";
    item.append(name, state, bar, line);
    list.prepend(item);
    while (list.children.length > MAX_ITEMS) list.lastElementChild.remove();
  }
  if (status) {
    item.dataset.status = status;
    item.querySelector(".state").textContent = status;
  }
  if (percent != null) item.querySelector("progress").value = percent;
  if (detail) item.querySelector(".detail").textContent = detail;
  const href = safeLink(link);
  if (href) {
    let anchor = item.querySelector("a");
    if (!anchor) {
      anchor = document.createElement("a");
      anchor.textContent = "Download";
      anchor.download = ""; // a file to save, named by the server's Content-Disposition
      item.append(anchor);
    }
    anchor.href = href;
  } else if (status && status !== "completed") {
    item.querySelector("a")?.remove(); // expired: the file is gone
  }
}
