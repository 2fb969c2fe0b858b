// Exports on the dashboard: the calls table's filter, the button that exports what
// it shows, and the exports panel's state read over REST (GET /exports) before its
// events (`data-export-status`, drawn by panels.js) move it on live.

import { api, problem } from "./api.js";
import { drawExport } from "./panels.js";

const filter = document.getElementById("calls-filter");
const table = document.getElementById("calls");

// The calls list's filters the table shows, as GET /calls (and an export) take them.
export function callFilters() {
  const value = filter?.value ?? "";
  if (value === "") return {};
  if (value === "active") return { active: true };
  return { status: value };
}

function shown(row) {
  const value = filter.value;
  if (value === "" || row.classList.contains("empty-row")) return true;
  if (value === "active") return !["completed", "failed", "busy", "no-answer", "canceled"].includes(row.dataset.status);
  return row.dataset.status === value;
}

function applyFilter() {
  for (const row of table.rows) row.hidden = !shown(row);
}

export async function loadExports() {
  try {
    const page = await api("/exports?page_size=20");
    for (const item of [...page.results].reverse()) drawExport(asEvent(item));
  } catch {
    // the events still draw what changes from now on
  }
}

const asEvent = (item) => ({
  export_id: item.id, status: item.status, progress: item.progress, row_count: item.row_count,
  download_url: item.download_url, error: item.error,
});

export function initExports() {
  if (filter) {
    filter.addEventListener("change", applyFilter);
    // rows come and change status from the stream: each keeps to the filter
    new MutationObserver(applyFilter).observe(table, { childList: true, subtree: true, attributeFilter: ["data-status"] });
  }
  const button = document.getElementById("export-calls");
  if (!button) return; // a viewer's page has no button
  const status = document.getElementById("export-form-status");
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.dataset.kind = "busy";
    status.textContent = "Requesting the export…";
    try {
      const format = document.getElementById("export-format").value;
      const item = await api("/exports", { method: "POST", json: { kind: "calls", format, filters: callFilters() } });
      drawExport(asEvent(item));
      status.dataset.kind = "ok";
      status.dataset.exportId = item.id;
      status.textContent = `Export ${item.id.slice(0, 8)} queued; it shows under Exports.`;
    } catch (error) {
      status.dataset.kind = "error";
      delete status.dataset.exportId;
      status.textContent = problem(error);
    } finally {
      button.disabled = false;
    }
  });
}
