// Uploading the opened campaign's contacts: the chosen CSV file's text, sent as
// `POST /campaigns/{id}/contacts` with `Content-Type: text/csv`. The answer counts
// what was added, what was a duplicate and what is on the suppression list, and
// names the rows that were not added (its row number, 1 = the first data row, its
// number and why; the first of them when there are many, `error_count` counting
// them all): the page shows them, up to a limit, in a table.

import { api, problem } from "./api.js";

const MAX_SHOWN = 200; // rows with errors drawn; the summary counts them all

const summary = document.getElementById("upload-summary");
const result = document.getElementById("upload-result");

export function initUpload({ campaignId, uploaded }) {
  const form = document.getElementById("upload-form");
  if (!form) return; // a viewer's page
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.elements.file.files[0];
    const id = campaignId();
    if (!file || !id) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    resetUpload();
    summary.dataset.kind = "busy";
    summary.textContent = `Uploading ${file.name}…`;
    try {
      const answer = await api(`/campaigns/${id}/contacts`, { method: "POST", body: await file.text(), type: "text/csv" });
      if (id !== campaignId()) return; // another campaign was opened meanwhile
      show(answer);
      form.reset();
      uploaded();
    } catch (error) {
      summary.dataset.kind = "error";
      summary.textContent = `${file.name} was not uploaded: ${problem(error)}`;
    } finally {
      button.disabled = false;
    }
  });
}

export function resetUpload() {
  if (!result) return;
  summary.textContent = "";
  delete summary.dataset.kind;
  result.hidden = true;
  result.querySelector("tbody").replaceChildren();
}

function show({ accepted, duplicates, suppressed, errors, error_count: refused = errors.length }) {
  const parts = [`${accepted} added`, `${duplicates} ${duplicates === 1 ? "duplicate" : "duplicates"}`,
    `${suppressed} suppressed`];
  if (refused) parts.push(`${refused} ${refused === 1 ? "row" : "rows"} not added`);
  summary.dataset.kind = refused ? "error" : "ok";
  summary.textContent = `${parts.join(", ")}.`;
  const shown = errors.slice(0, MAX_SHOWN);
  const rows = shown.map((error) => {
    const row = document.createElement("tr");
    row.dataset.code = error.code;
    for (const text of [String(error.row), error.phone_number ?? "", error.message]) {
      row.insertCell().textContent = text;
    }
    return row;
  });
  if (refused > shown.length) {
    const cell = document.createElement("tr").insertCell();
    cell.colSpan = 3;
    cell.textContent = `and ${refused - shown.length} more`;
    rows.push(cell.parentElement);
  }
  result.querySelector("tbody").replaceChildren(...rows);
  result.hidden = refused === 0;
}
