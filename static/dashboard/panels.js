// Exports, drawn from their workspace events (campaigns have a view of their own:
// campaigns.js; notifications are the bell's: notifications.js).
//
// The exports panel reads its state over REST first (exports.js, GET /exports),
// then moves on with each `data-export-status`; a reconnect replays what was
// missed, like every persisted event.

import { clearEmpty, safeLink } from "./api.js";

export const PANEL_TYPES = ["data-export-status"];
const MAX_ITEMS = 50;

const exports = document.getElementById("exports");

export function applyPanelEvent(type, data) {
  switch (type) {
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
