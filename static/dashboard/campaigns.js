// Campaigns: the list, one campaign opened below it, and what a member does to them.
//
// The list is a live list (live_list.js): the REST state first (`GET /campaigns`),
// then the `campaign-status-changed` and `campaign-progress` events, in order; every
// change has its event, so the last one applied is the newest. The opened campaign is
// read again, with its page of contacts, after each of its events, one read at a time.

import { api, clearEmpty, problem, showEmpty } from "./api.js";
import { fillAgents } from "./agents.js";
import { initContacts, refreshContacts, showContacts } from "./campaign_contacts.js";
import { initUpload, resetUpload } from "./campaign_upload.js";
import { liveList } from "./live_list.js";

export const CAMPAIGN_TYPES = ["campaign-status-changed", "campaign-progress"];
// What a member may do in each status (docs/campaigns.md#lifecycle); the server decides.
const ACTIONS = {
  draft: ["start"], scheduled: ["pause", "cancel"], running: ["pause", "cancel"], paused: ["resume", "cancel"],
  completed: [], canceled: [],
};
const FINISHED = new Set(["completed", "canceled"]);
const DONE = { start: "Started.", pause: "Paused.", resume: "Resumed.", cancel: "Canceled." };

const list = document.getElementById("campaigns");
const more = document.getElementById("campaigns-more");
const detail = document.getElementById("campaign");
const title = document.getElementById("campaign-title");
const actionStatus = document.getElementById("campaign-action-status");

const state = {
  changes: new Map(), // id -> how many events (or answers) changed it: a read older than one is dropped
  openId: null,
  opener: null,
  reading: false, // the opened campaign is being read again
  readAgain: false,
};

// --- the list -------------------------------------------------------------------------------

const campaigns = liveList({
  path: "/campaigns",
  idOf: (data) => data.campaign_id,
  rows: list,
  more,
  empty: (error) => showEmpty(list, error ? `Campaigns could not be read: ${problem(error)}` : "No campaigns yet."),
  draw,
  change,
});

export async function loadCampaigns() {
  await campaigns.load();
  if (state.openId) readOpened();
}

function draw(campaign, { atTop }) {
  drawRow(campaign, atTop);
  if (campaign.id === state.openId) drawDetail(campaign);
}

function drawRow(campaign, atTop) {
  clearEmpty(list);
  let item = document.getElementById(`campaign-${campaign.id}`);
  if (!item) {
    item = document.createElement("li");
    item.id = `campaign-${campaign.id}`;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open-campaign";
    open.addEventListener("click", () => openCampaign(campaign.id, open));
    const status = document.createElement("span");
    status.className = "state";
    const bar = document.createElement("progress");
    bar.max = 100;
    const line = document.createElement("span");
    line.className = "detail";
    item.append(open, status, bar, line);
    if (atTop) list.prepend(item);
    else list.append(item);
  }
  item.dataset.status = campaign.status;
  item.querySelector(".open-campaign").textContent = campaign.name;
  item.querySelector(".state").textContent = campaign.status;
  item.querySelector("progress").value = campaign.stats.percent;
  item.querySelector("progress").setAttribute("aria-label", `${campaign.name} progress`);
  item.querySelector(".detail").textContent = summary(campaign.stats);
}

function summary(stats) {
  const done = stats.completed + stats.failed + (stats.skipped ?? 0);
  return `${done} of ${stats.total} contacts done, ${stats.failed} failed`;
}

// --- events ---------------------------------------------------------------------------------

export function onCampaignEvent(type, data) {
  campaigns.onEvent(type, data);
}

function change(type, data, known) {
  const changed = type === "campaign-status-changed"
    // the reason comes with the next read; until then a paused campaign keeps the one it had
    ? { ...known, status: data.status, pause_reason: data.status === "paused" ? known.pause_reason : null }
    : { ...known, stats: { ...known.stats, ...progressOf(data) } };
  changedNow(changed);
}

// A change newer than any read under way: drawn now, and the opened campaign read again.
function changedNow(campaign) {
  state.changes.set(campaign.id, (state.changes.get(campaign.id) ?? 0) + 1);
  campaigns.remember(campaign, { atTop: false });
  if (campaign.id === state.openId) readOpened();
}

function progressOf({ total, pending, in_progress, completed, failed, percent }) {
  return { total, pending, in_progress, completed, failed, percent };
}

// --- the opened campaign ----------------------------------------------------------------------

function openCampaign(id, opener) {
  if (!campaigns.items.has(id)) return;
  state.openId = id;
  state.opener = opener;
  detail.hidden = false;
  detail.dataset.campaignId = id;
  if (actionStatus) actionStatus.textContent = "";
  resetUpload();
  drawDetail(campaigns.items.get(id));
  showContacts(id);
  title.focus();
  readOpened();
}

function closeCampaign() {
  state.openId = null;
  detail.hidden = true;
  delete detail.dataset.campaignId;
  state.opener?.focus();
}

// Reads the opened campaign and its contacts again; calls while a read is under way
// make one more read after it, not one each.
async function readOpened() {
  if (state.reading) {
    state.readAgain = true;
    return;
  }
  state.reading = true;
  try {
    do {
      state.readAgain = false;
      const id = state.openId;
      if (!id) break;
      const before = state.changes.get(id);
      const [campaign] = await Promise.all([api(`/campaigns/${id}`), refreshContacts(id)]);
      // a change came while reading: this answer may be older than it, and a read follows
      if (state.changes.get(id) === before) campaigns.remember(campaign, { atTop: false });
    } while (state.readAgain);
  } catch {
    // the next event or reconnect reads it again
  } finally {
    state.reading = false;
  }
}

function drawDetail(campaign) {
  if (!campaign) return;
  title.textContent = campaign.name;
  const pill = document.getElementById("campaign-state");
  pill.textContent = campaign.pause_reason ? `${campaign.status} (${campaign.pause_reason})` : campaign.status;
  pill.dataset.status = campaign.status;
  detail.dataset.status = campaign.status;
  const facts = [`Agent ${campaign.agent}`, `${campaign.max_concurrency} at once`];
  if (campaign.from_number) facts.push(`from ${campaign.from_number}`);
  if (campaign.calls_per_minute) facts.push(`${campaign.calls_per_minute} a minute`);
  document.getElementById("campaign-facts").textContent = facts.join(" · ");
  const bar = document.getElementById("campaign-progress");
  bar.value = campaign.stats.percent;
  for (const cell of document.querySelectorAll("#campaign-counters [data-stat]")) {
    const value = campaign.stats[cell.dataset.stat] ?? 0;
    cell.textContent = cell.dataset.stat === "percent" ? `${Math.floor(value)}%` : String(value);
  }
  const allowed = ACTIONS[campaign.status] ?? [];
  for (const button of detail.querySelectorAll("[data-action]")) {
    button.hidden = !allowed.includes(button.dataset.action);
  }
  const upload = document.getElementById("upload-form");
  if (upload) upload.hidden = FINISHED.has(campaign.status);
}

async function act(button) {
  const id = state.openId;
  const action = button.dataset.action;
  const buttons = [...detail.querySelectorAll("[data-action]")];
  for (const each of buttons) each.disabled = true;
  actionStatus.dataset.kind = "busy";
  actionStatus.textContent = "…";
  try {
    const campaign = await api(`/campaigns/${id}/${action}`, { method: "POST" });
    if (campaign?.id === id) changedNow(campaign);
    actionStatus.dataset.kind = "ok";
    actionStatus.textContent = DONE[action];
  } catch (error) {
    actionStatus.dataset.kind = "error";
    actionStatus.textContent = problem(error);
  } finally {
    for (const each of buttons) each.disabled = false;
  }
  // The pressed button may have gone with the status: focus stays in the campaign.
  if (button.hidden) (buttons.find((each) => !each.hidden) ?? title).focus();
}

// --- creating one -----------------------------------------------------------------------------

function initCreate() {
  const form = document.getElementById("campaign-form");
  if (!form) return; // a viewer's page
  const status = document.getElementById("campaign-form-status");
  fillAgents(form.elements.agent);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const json = {
      name: form.elements.name.value.trim(),
      max_concurrency: Number(form.elements.max_concurrency.value),
    };
    if (form.elements.agent.value) json.agent = form.elements.agent.value;
    if (form.elements.from_number.value.trim()) json.from_number = form.elements.from_number.value.trim();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    status.dataset.kind = "busy";
    status.textContent = "Creating…";
    try {
      const campaign = await api("/campaigns", { method: "POST", json });
      if (!campaigns.items.has(campaign.id)) campaigns.remember(campaign, { atTop: true });
      status.dataset.kind = "ok";
      status.textContent = `Created “${campaign.name}”.`;
      form.reset();
      document.getElementById("new-campaign").open = false;
      const opener = document.querySelector(`#campaign-${campaign.id} .open-campaign`);
      openCampaign(campaign.id, opener);
      actionStatus.textContent = "A draft: upload its contacts, then start it.";
    } catch (error) {
      status.dataset.kind = "error";
      status.textContent = problem(error);
    } finally {
      button.disabled = false;
    }
  });
}

export function initCampaigns({ openCall }) {
  document.getElementById("campaign-close").addEventListener("click", closeCampaign);
  for (const button of detail.querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => act(button));
  }
  initCreate();
  initContacts({ openCall });
  initUpload({ campaignId: () => state.openId, uploaded: readOpened });
}
