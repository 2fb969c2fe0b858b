// The opened schedule's recent runs (`GET /schedules/{id}/runs`, newest first, one page
// of 20): when each was due and ran, its outcome, the call it placed (which opens in
// the call drawer) or the campaign it started, and the error of one that failed or was
// missed. `schedule-executed` names the run but not all of it, so the page is read
// again on the schedule's events (schedules.js). Rows are updated in place, so a
// keyboard user's focus survives a refresh.

import { api, zonedTime } from "./api.js";

const PAGE_SIZE = 20;
const COLUMNS = ["due", "ran", "outcome", "did", "error"];

const body = document.getElementById("runs");
const count = document.getElementById("runs-count");

const shown = {
  scheduleId: null,
  zone: "UTC", // the schedule's, which its times are shown in
  generation: 0, // a newer read (or another schedule) wins over an older one
};
let openCall; // the drawer's

export function initRuns(hooks) {
  openCall = hooks.openCall;
}

export function showRuns(scheduleId, zone) {
  shown.scheduleId = scheduleId;
  shown.zone = zone;
  shown.generation += 1;
  body.replaceChildren();
  count.textContent = "";
}

export async function refreshRuns(scheduleId, zone) {
  if (scheduleId !== shown.scheduleId) return;
  shown.zone = zone ?? shown.zone;
  const generation = ++shown.generation;
  const answer = await api(`/schedules/${scheduleId}/runs?page_size=${PAGE_SIZE}`);
  if (generation !== shown.generation) return;
  draw(answer.results);
  count.textContent = answer.total_count > answer.results.length
    ? `The newest ${answer.results.length} of ${answer.total_count} runs.`
    : "";
}

function draw(runs) {
  const focused = document.activeElement?.closest?.("#runs tr")?.dataset.runId;
  const same = runs.length === body.rows.length
    && runs.every((run, index) => body.rows[index].dataset.runId === run.id);
  if (!same) body.replaceChildren(...runs.map(newRow));
  runs.forEach((run, index) => fill(body.rows[index], run));
  if (!runs.length) {
    const cell = body.insertRow().insertCell();
    cell.parentElement.className = "empty-row";
    cell.colSpan = COLUMNS.length;
    cell.textContent = "No runs yet.";
  }
  if (!same && focused) body.querySelector(`tr[data-run-id="${focused}"] button`)?.focus();
}

function newRow(run) {
  const row = document.createElement("tr");
  row.id = `run-${run.id}`;
  row.dataset.runId = run.id;
  for (const name of COLUMNS) {
    const cell = document.createElement("td");
    cell.dataset.field = name;
    row.append(cell);
  }
  return row;
}

function fill(row, run) {
  row.dataset.outcome = run.outcome;
  const text = {
    due: zonedTime(run.scheduled_for, shown.zone),
    ran: run.executed_at ? zonedTime(run.executed_at, shown.zone) : "",
    outcome: run.outcome,
    error: run.error ? run.error.message : "",
  };
  for (const [name, value] of Object.entries(text)) row.querySelector(`[data-field="${name}"]`).textContent = value;
  const cell = row.querySelector('[data-field="did"]');
  const did = run.call_id ?? run.campaign_id ?? "";
  if ((cell.dataset.did ?? "") === did) return;
  cell.dataset.did = did;
  cell.replaceChildren();
  if (run.call_id) {
    cell.dataset.callId = run.call_id;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open-call";
    open.textContent = `Call ${run.call_id.slice(0, 8)}`;
    open.setAttribute("aria-label", `Open call ${run.call_id.slice(0, 8)}`);
    open.addEventListener("click", () => openCall(run.call_id, open));
    cell.append(open);
  } else if (run.campaign_id) {
    cell.textContent = `Campaign ${run.campaign_id.slice(0, 8)}`;
  }
}
