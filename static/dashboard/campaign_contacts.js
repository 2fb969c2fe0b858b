// The opened campaign's contacts, a page at a time (`GET /campaigns/{id}/contacts`,
// newest first, optionally one status): each contact's status, attempts, outcome and
// last call, which opens in the call drawer. No event names a contact, so the page
// is read again when its campaign's events say something moved (campaigns.js).
// Rows are updated in place, so a keyboard user's focus survives a refresh.

import { api, clock } from "./api.js";

const PAGE_SIZE = 50;
const COLUMNS = ["number", "status", "attempts", "outcome", "call", "next"];

const body = document.getElementById("contacts");
const filter = document.getElementById("contact-status");
const previous = document.getElementById("contacts-previous");
const next = document.getElementById("contacts-next");
const count = document.getElementById("contacts-count");

const page = {
  campaignId: null,
  token: "", // this page's
  back: [], // the tokens of the pages before it
  next: "",
  generation: 0, // a newer read (another page, filter or campaign) wins over an older one
};
let openCall; // the drawer's

export function initContacts(hooks) {
  openCall = hooks.openCall;
  const go = (token, back) => {
    page.token = token;
    page.back = back;
    refreshContacts(page.campaignId).catch(() => {});
  };
  filter.addEventListener("change", () => go("", []));
  previous.addEventListener("click", () => go(page.back.at(-1) ?? "", page.back.slice(0, -1)));
  next.addEventListener("click", () => go(page.next, [...page.back, page.token]));
}

export function showContacts(campaignId) {
  page.campaignId = campaignId;
  page.token = "";
  page.back = [];
  page.next = "";
  page.generation += 1;
  filter.value = "";
  body.replaceChildren();
  count.textContent = "";
  previous.disabled = next.disabled = true;
}

export async function refreshContacts(campaignId) {
  if (campaignId !== page.campaignId) return;
  const generation = ++page.generation;
  const query = new URLSearchParams({ page_size: String(PAGE_SIZE) });
  if (filter.value) query.set("status", filter.value);
  if (page.token) query.set("page_token", page.token);
  const answer = await api(`/campaigns/${campaignId}/contacts?${query}`);
  if (generation !== page.generation) return;
  draw(answer.results);
  page.next = answer.next_page_token;
  previous.disabled = page.back.length === 0;
  next.disabled = !page.next;
  const first = page.back.length * PAGE_SIZE;
  count.textContent = answer.results.length
    ? `${first + 1}–${first + answer.results.length} of ${answer.total_count}`
    : "";
}

function draw(contacts) {
  const focused = document.activeElement?.closest?.("#contacts tr")?.dataset.contactId;
  const same = contacts.length === body.rows.length
    && contacts.every((contact, index) => body.rows[index].dataset.contactId === contact.id);
  if (!same) body.replaceChildren(...contacts.map(newRow));
  contacts.forEach((contact, index) => fill(body.rows[index], contact));
  if (!contacts.length) {
    const cell = body.insertRow().insertCell();
    cell.parentElement.className = "empty-row";
    cell.colSpan = COLUMNS.length;
    cell.textContent = filter.value ? "No contact has this status." : "No contacts yet: upload a CSV file.";
  }
  if (!same && focused) body.querySelector(`tr[data-contact-id="${focused}"] button`)?.focus();
}

function newRow(contact) {
  const row = document.createElement("tr");
  row.id = `contact-${contact.id}`;
  row.dataset.contactId = contact.id;
  for (const name of COLUMNS) {
    const cell = document.createElement("td");
    cell.dataset.field = name;
    row.append(cell);
  }
  return row;
}

function fill(row, contact) {
  row.dataset.status = contact.status;
  const text = {
    number: contact.phone_number,
    status: contact.status,
    attempts: String(contact.attempts),
    outcome: contact.outcome ?? "",
    next: contact.next_attempt_at ? clock(contact.next_attempt_at) : "",
  };
  for (const [name, value] of Object.entries(text)) row.querySelector(`[data-field="${name}"]`).textContent = value;
  const cell = row.querySelector('[data-field="call"]');
  if ((cell.dataset.callId ?? "") === (contact.last_call_id ?? "")) return;
  cell.replaceChildren();
  if (contact.last_call_id) {
    cell.dataset.callId = contact.last_call_id;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open-call";
    open.textContent = contact.last_call_id.slice(0, 8);
    open.setAttribute("aria-label", `Open call ${contact.last_call_id.slice(0, 8)} to ${contact.phone_number}`);
    open.addEventListener("click", () => openCall(contact.last_call_id, open));
    cell.append(open);
  } else {
    delete cell.dataset.callId;
  }
}
