// Schedules: the list, one schedule opened below it with its recent runs, and what a
// member does to them (pause, resume, delete; creating one is schedule_form.js).
//
// The list is a live list, as the campaigns' is (live_list.js): the REST state first
// (`GET /schedules`), then the `schedule-status-changed` and `schedule-executed`
// events, in order; the last one applied is the newest. A run is counted once:
// `schedule-executed` adds one only when it ran after the `last_run_at` the page
// holds, so a run the REST state already counted is not counted again. The events do
// not carry everything (a resumed schedule's next run, the five next times, the runs),
// so a resumed schedule and the opened one are read again after their events, one
// read at a time each. No event says a schedule was deleted: a read that finds it
// gone takes it off the page.

import { api, problem, zonedTime } from "./api.js";
import { liveList } from "./live_list.js";
import { initScheduleForm } from "./schedule_form.js";
import { initRuns, refreshRuns, showRuns } from "./schedule_runs.js";

export const SCHEDULE_TYPES = ["schedule-status-changed", "schedule-executed"];
// What a member may do in each status (docs/reference/rest.md#schedules); the server decides.
const ACTIONS = {
  active: ["pause", "delete"], paused: ["resume", "delete"], completed: ["delete"], failed: ["delete"],
};
const DONE = { pause: "Paused.", resume: "Resumed." };

const body = document.getElementById("schedules");
const more = document.getElementById("schedules-more");
const detail = document.getElementById("schedule");
const title = document.getElementById("schedule-title");
const actionStatus = document.getElementById("schedule-action-status");
const listStatus = document.getElementById("schedules-status");

const state = {
  changes: new Map(), // id -> how many events (or answers) changed it: a read older than one is dropped
  reading: new Set(), // ids being read again
  readAgain: new Set(), // ids to read once more when that read ends
  openId: null,
  opener: null,
};

// --- the list -------------------------------------------------------------------------------

const schedules = liveList({
  path: "/schedules",
  idOf: (data) => data.schedule_id,
  rows: body,
  more,
  empty: (error) => showEmptyRow(error ? `Schedules could not be read: ${problem(error)}` : "No schedules yet."),
  draw,
  change,
});

export async function loadSchedules() {
  await schedules.load();
  if (state.openId) readAgain(state.openId);
}

function showEmptyRow(text) {
  if (body.rows.length) return;
  const cell = body.insertRow().insertCell();
  cell.parentElement.className = "empty-row";
  cell.colSpan = 5;
  cell.textContent = text;
}

function draw(schedule, { atTop }) {
  drawRow(schedule, atTop);
  if (schedule.id === state.openId) drawDetail(schedule);
}

function forget(id) {
  schedules.items.delete(id);
  document.getElementById(`schedule-${id}`)?.remove();
  showEmptyRow("No schedules yet.");
  if (id === state.openId) closeSchedule({ focusBack: false });
}

const when = (schedule) => (schedule.cron
  ? `${schedule.cron} (${schedule.timezone})`
  : `Once, ${zonedTime(schedule.run_at, schedule.timezone)}`);

function drawRow(schedule, atTop) {
  body.querySelector(".empty-row")?.remove();
  let row = document.getElementById(`schedule-${schedule.id}`);
  if (!row) {
    row = document.createElement("tr");
    row.id = `schedule-${schedule.id}`;
    row.dataset.scheduleId = schedule.id;
    for (const name of ["name", "status", "when", "next", "runs"]) {
      const cell = document.createElement("td");
      cell.dataset.field = name;
      row.append(cell);
    }
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open-campaign";
    open.addEventListener("click", () => openSchedule(schedule.id, open));
    row.querySelector('[data-field="name"]').append(open);
    if (atTop) body.prepend(row);
    else body.append(row);
  }
  row.dataset.status = schedule.status;
  row.querySelector(".open-campaign").textContent = schedule.name;
  const text = {
    status: schedule.status,
    when: when(schedule),
    next: schedule.next_run_at ? zonedTime(schedule.next_run_at, schedule.timezone) : "–",
    runs: String(schedule.run_count),
  };
  for (const [name, value] of Object.entries(text)) row.querySelector(`[data-field="${name}"]`).textContent = value;
}

// --- events ---------------------------------------------------------------------------------

export function onScheduleEvent(type, data) {
  schedules.onEvent(type, data);
}

function change(type, data, known) {
  const id = data.schedule_id;
  if (type === "schedule-status-changed") {
    const active = data.status === "active";
    // only an active schedule has a next run; a resumed one's is the server's to work out
    changedNow({ ...known, status: data.status, ...(active ? {} : { next_run_at: null, next_runs: [] }) },
               { read: active && !known.next_run_at });
    return;
  }
  const counted = known.last_run_at && Date.parse(known.last_run_at) >= Date.parse(data.executed_at);
  if (counted) {
    if (id === state.openId) readAgain(id); // its runs may still be older than this one
    return;
  }
  const next = data.next_run_at ? Date.parse(data.next_run_at) : null;
  changedNow({
    ...known,
    run_count: known.run_count + 1,
    last_run_at: data.executed_at,
    next_run_at: data.next_run_at,
    next_runs: next == null ? [] : known.next_runs.filter((moment) => Date.parse(moment) >= next),
  });
}

// A change newer than any read under way: drawn now; the schedule read again when the
// change leaves something unknown, and the opened one always (its next times and runs).
function changedNow(schedule, { read = false } = {}) {
  state.changes.set(schedule.id, (state.changes.get(schedule.id) ?? 0) + 1);
  schedules.remember(schedule, { atTop: false });
  if (read || schedule.id === state.openId) readAgain(schedule.id);
}

// Reads a schedule (and, when it is the opened one, its runs) again; calls while a read
// of it is under way make one more read after it, not one each.
async function readAgain(id) {
  if (state.reading.has(id)) {
    state.readAgain.add(id);
    return;
  }
  state.reading.add(id);
  try {
    do {
      state.readAgain.delete(id);
      const before = state.changes.get(id);
      const known = schedules.items.get(id);
      const runs = id === state.openId ? refreshRuns(id, known?.timezone) : null;
      const [schedule] = await Promise.all([api(`/schedules/${id}`), runs]);
      // a change came while reading: this answer may be older than it, and a read follows
      if (state.changes.get(id) === before && schedules.items.has(id)) {
        schedules.remember(schedule, { atTop: false });
      }
    } while (state.readAgain.has(id));
  } catch (error) {
    if (error.status === 404) forget(id); // deleted elsewhere
    // otherwise the next event or reconnect reads it again
  } finally {
    state.reading.delete(id);
    state.readAgain.delete(id);
  }
}

// --- the opened schedule ----------------------------------------------------------------------

function openSchedule(id, opener) {
  const schedule = schedules.items.get(id);
  if (!schedule) return;
  state.openId = id;
  state.opener = opener;
  detail.hidden = false;
  detail.dataset.scheduleId = id;
  if (actionStatus) actionStatus.textContent = "";
  showRuns(id, schedule.timezone);
  drawDetail(schedule);
  title.focus();
  readAgain(id);
}

function closeSchedule({ focusBack = true } = {}) {
  state.openId = null;
  detail.hidden = true;
  delete detail.dataset.scheduleId;
  delete detail.dataset.status;
  if (focusBack) state.opener?.focus();
}

function fact(term, description) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = description;
  return [dt, dd];
}

function actionText(action) {
  if (action.type === "campaign") return `Starts campaign ${action.campaign_id.slice(0, 8)}`;
  return `Calls ${action.to_number} with ${action.agent ? `agent ${action.agent}` : "the default agent"}`;
}

function drawDetail(schedule) {
  title.textContent = schedule.name;
  const pill = document.getElementById("schedule-state");
  pill.textContent = schedule.status;
  pill.dataset.status = schedule.status;
  detail.dataset.status = schedule.status;
  document.getElementById("schedule-facts").replaceChildren(
    ...fact("When", when(schedule)),
    ...fact("Does", actionText(schedule.action)),
    ...fact("Last run", schedule.last_run_at ? zonedTime(schedule.last_run_at, schedule.timezone) : "Not yet"),
    ...fact("Runs", String(schedule.run_count)),
    ...fact("May start late by", `${schedule.misfire_grace_seconds} s`),
  );
  const next = document.getElementById("schedule-next");
  next.replaceChildren(...schedule.next_runs.map((moment) => {
    const item = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = moment;
    time.textContent = zonedTime(moment, schedule.timezone);
    item.append(time);
    return item;
  }));
  if (!schedule.next_runs.length) {
    const item = document.createElement("li");
    item.className = "empty";
    item.textContent = schedule.status === "paused" ? "None while paused." : "None: it has no run left.";
    next.append(item);
  }
  const allowed = ACTIONS[schedule.status] ?? [];
  for (const button of detail.querySelectorAll("[data-schedule-action]")) {
    button.hidden = !allowed.includes(button.dataset.scheduleAction);
  }
}

async function act(button) {
  const id = state.openId;
  const action = button.dataset.scheduleAction;
  const name = schedules.items.get(id)?.name;
  if (action === "delete" && !window.confirm(`Delete the schedule “${name}” and its runs?`)) return;
  const buttons = [...detail.querySelectorAll("[data-schedule-action]")];
  for (const each of buttons) each.disabled = true;
  actionStatus.dataset.kind = "busy";
  actionStatus.textContent = "…";
  try {
    if (action === "delete") {
      await api(`/schedules/${id}`, { method: "DELETE" });
      forget(id);
      listStatus.dataset.kind = "ok";
      listStatus.textContent = `Deleted “${name}”.`;
      document.getElementById("schedules-title").focus();
    } else {
      const schedule = await api(`/schedules/${id}/${action}`, { method: "POST" });
      if (schedule?.id === id) changedNow(schedule);
      actionStatus.dataset.kind = "ok";
      actionStatus.textContent = DONE[action];
    }
  } catch (error) {
    if (error.status === 404) { // deleted elsewhere: no event says so
      forget(id);
      listStatus.dataset.kind = "error";
      listStatus.textContent = `“${name}” is no longer there: it was deleted elsewhere.`;
      document.getElementById("schedules-title").focus();
    } else {
      actionStatus.dataset.kind = "error";
      actionStatus.textContent = problem(error);
    }
  } finally {
    for (const each of buttons) each.disabled = false;
  }
  // The pressed button may have gone with the status: focus stays in the schedule.
  if (!detail.hidden && button.hidden) (buttons.find((each) => !each.hidden) ?? title).focus();
}

function created(schedule) {
  if (!schedules.items.has(schedule.id)) schedules.remember(schedule, { atTop: true });
  openSchedule(schedule.id, document.querySelector(`#schedule-${schedule.id} .open-campaign`));
}

export function initSchedules({ openCall }) {
  document.getElementById("schedule-close").addEventListener("click", () => closeSchedule());
  for (const button of detail.querySelectorAll("[data-schedule-action]")) {
    button.addEventListener("click", () => act(button));
  }
  initRuns({ openCall });
  initScheduleForm({ created });
}
