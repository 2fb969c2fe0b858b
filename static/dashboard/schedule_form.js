// Creating a schedule from the page: `POST /schedules` with a name, the timing (a
// cron expression, or a date and time for once, read in the chosen zone) and the
// action (a call to place, or a draft campaign to start).
//
// While the timing is typed, the page asks the API what it means
// (`GET /schedules/preview`, a moment after the last keystroke): the next five
// times, or the API's 400 naming the field that is wrong. The API is the one judge
// of an expression, so the page never parses cron itself; only a one-off's local
// date and time is turned into an instant here, in the chosen zone.

import { api, problem, zonedTime } from "./api.js";
import { fillAgents } from "./agents.js";

const PREVIEW_DELAY_MS = 300;
// The field a 400 names (`details.field`, or the first of `details.fields`) → the input to mark.
const INPUTS = {
  name: "name", cron: "cron", run_at: "run_at", timezone: "timezone",
  "action.to_number": "to_number", "action.agent": "agent", "action.campaign_id": "campaign_id",
};

let form;
const preview = { timer: null, generation: 0 };

export function initScheduleForm({ created }) {
  form = document.getElementById("schedule-form");
  if (!form) return; // a viewer's page
  fillAgents(form.elements.agent);
  fillZones();
  const details = document.getElementById("new-schedule");
  details.addEventListener("toggle", () => {
    if (details.open && form.elements.does.value === "campaign") fillDrafts();
  });
  for (const radio of form.elements.when) radio.addEventListener("change", () => { showChosen(); previewSoon(); });
  for (const radio of form.elements.does) {
    radio.addEventListener("change", () => {
      showChosen();
      if (form.elements.does.value === "campaign") fillDrafts();
    });
  }
  for (const name of ["cron", "run_at", "timezone"]) form.elements[name].addEventListener("input", previewSoon);
  form.addEventListener("input", (event) => event.target.removeAttribute?.("aria-invalid"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(created);
  });
  showChosen();
}

function showChosen() {
  const when = form.elements.when.value;
  const does = form.elements.does.value;
  for (const field of form.querySelectorAll("[data-when]")) field.hidden = field.dataset.when !== when;
  for (const field of form.querySelectorAll("[data-does]")) field.hidden = field.dataset.does !== does;
  form.elements.cron.required = when === "recurring";
  form.elements.run_at.required = when === "once";
  form.elements.to_number.required = does === "call";
  form.elements.campaign_id.required = does === "campaign";
}

// The browser's zone names as suggestions; the API decides which it takes.
function fillZones() {
  const zones = Intl.supportedValuesOf?.("timeZone") ?? [];
  document.getElementById("schedule-zones").replaceChildren(...zones.map((zone) => new Option(zone)));
}

async function fillDrafts() {
  const select = form.elements.campaign_id;
  let drafts;
  try {
    drafts = (await api("/campaigns?status=draft&page_size=200")).results;
  } catch (error) {
    select.replaceChildren(new Option(`Drafts could not be read: ${problem(error)}`, ""));
    return;
  }
  const chosen = select.value;
  if (!drafts.length) {
    select.replaceChildren(new Option("No draft campaign: create one first", ""));
    return;
  }
  select.replaceChildren(...drafts.map((campaign) => new Option(campaign.name, campaign.id)));
  if (drafts.some((campaign) => campaign.id === chosen)) select.value = chosen;
}

// --- the timing and its preview --------------------------------------------------------------

// The instant (ISO, UTC) at which the wall-clock `local` ("2026-12-07T09:30") happens in `zone`;
// null when the browser does not know the zone. The offset is worked out twice, so a time
// just after a change of offset gets the offset in force then.
export function instantIn(local, zone) {
  const [date, time] = local.split("T");
  const [year, month, day] = date.split("-").map(Number);
  const [hour, minute] = time.split(":").map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  try {
    const first = wall - offsetAt(zone, wall);
    return new Date(wall - offsetAt(zone, first)).toISOString();
  } catch {
    return null; // RangeError: a zone name the browser does not know
  }
}

function offsetAt(zone, instant) {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", second: "numeric",
  });
  const parts = Object.fromEntries(format.formatToParts(new Date(instant)).map((part) => [part.type, part.value]));
  const asWall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return asWall - Math.floor(instant / 1000) * 1000;
}

// What the form's timing says, as the API takes it: {cron} or {run_at}, with the zone.
// null while the one field that is needed is empty.
function timing() {
  const zone = form.elements.timezone.value.trim();
  const when = zone ? { timezone: zone } : {};
  if (form.elements.when.value === "recurring") {
    const cron = form.elements.cron.value.trim();
    return cron ? { ...when, cron } : null;
  }
  const local = form.elements.run_at.value;
  if (!local) return null;
  // A zone the browser does not know is still the API's to refuse (the zone is checked
  // first), so the time goes as it is, read as UTC.
  return { ...when, run_at: instantIn(local, zone || form.elements.timezone.dataset.default) ?? `${local}:00Z` };
}

function previewSoon() {
  clearTimeout(preview.timer);
  preview.generation += 1; // an answer to an older timing is no longer wanted
  preview.timer = setTimeout(showPreview, PREVIEW_DELAY_MS);
}

async function showPreview() {
  const status = document.getElementById("schedule-preview-status");
  const list = document.getElementById("schedule-preview");
  const wanted = timing();
  const generation = preview.generation;
  if (!wanted) {
    list.replaceChildren();
    delete status.dataset.kind;
    status.textContent = "";
    return;
  }
  status.dataset.kind = "busy";
  status.textContent = "…";
  let answer;
  try {
    answer = await api(`/schedules/preview?${new URLSearchParams(wanted)}`);
  } catch (error) {
    if (generation !== preview.generation) return;
    list.replaceChildren();
    refused(status, error);
    return;
  }
  if (generation !== preview.generation) return;
  // the timing holds now, whichever of its fields was wrong before
  for (const name of ["cron", "run_at", "timezone"]) form.elements[name].removeAttribute("aria-invalid");
  status.dataset.kind = "ok";
  status.textContent = answer.next_runs.length
    ? `In ${answer.timezone}:`
    : "It would never run: the time has passed.";
  list.replaceChildren(...answer.next_runs.map((moment) => {
    const item = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = moment;
    time.textContent = zonedTime(moment, answer.timezone);
    item.append(time);
    return item;
  }));
}

// The API's reason, and the input it names marked invalid.
function refused(status, error) {
  status.dataset.kind = "error";
  status.textContent = problem(error);
  const field = error.details?.field ?? error.details?.fields?.[0]?.field;
  const input = form.elements[INPUTS[field]];
  if (input) input.setAttribute("aria-invalid", "true");
}

// --- saving ---------------------------------------------------------------------------------

function payload() {
  const json = { ...timing() };
  const name = form.elements.name.value.trim();
  if (name) json.name = name;
  if (form.elements.does.value === "call") {
    json.action = { type: "call", to_number: form.elements.to_number.value.trim() };
    if (form.elements.agent.value) json.action.agent = form.elements.agent.value;
  } else {
    json.action = { type: "campaign", campaign_id: form.elements.campaign_id.value };
  }
  return json;
}

async function submit(created) {
  const status = document.getElementById("schedule-form-status");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  status.dataset.kind = "busy";
  status.textContent = "Creating…";
  try {
    const schedule = await api("/schedules", { method: "POST", json: payload() });
    status.dataset.kind = "ok";
    status.textContent = `Created “${schedule.name}”.`;
    reset();
    created(schedule);
  } catch (error) {
    refused(status, error);
  } finally {
    button.disabled = false;
  }
}

function reset() {
  form.reset(); // the zone goes back to the workspace's, the input's own value
  showChosen();
  previewSoon();
  document.getElementById("new-schedule").open = false;
}
