// The opened endpoint's delivery log (`GET /webhooks/{id}/deliveries`, newest first,
// 20 a page, older ones on request): each delivery's event type, status, attempts,
// the last answer's HTTP status, the last error and its times, and Retry on one
// that failed or is waiting to retry (`POST …/deliveries/{id}/retry`). One a sender
// is sending now (`in_flight`) shows "sending" and no Retry (the API refuses it, 409).
//
// No event tells of a delivery (the sender writes them), so the newest page is read
// again: after an action here (a test event, a retry, enabling or disabling), on the
// endpoint's status events, on Refresh, and while a delivery shown is still open
// (pending or retrying): a second after a change, then twice as long after each read
// that changed nothing, at most 30 s, and never much later than the next attempt is
// due (an attempt under way, `in_flight`, has no due time: read again a second
// later). One read at a time; an answer for an endpoint no longer opened
// is dropped. Rows are updated in place, so focus survives a read.

import { api, problem } from "./api.js";

const PAGE_SIZE = 20;
const COLUMNS = ["event", "status", "attempts", "response", "error", "created", "attempted", "next", "retry"];
const OPEN = new Set(["pending", "retrying"]);
const RETRYABLE = new Set(["failed", "retrying"]);
const POLL_MIN_MS = 1000;
const POLL_MAX_MS = 30_000;

let body;
let more;
let status;
let gone; // the endpoint was deleted elsewhere
const shown = {
  webhookId: null,
  deliveries: new Map(), // id -> delivery, as drawn
  nextToken: "",
  generation: 0, // a newer read (or another endpoint) wins over an older one
  firstRead: true, // the next read is the endpoint's first: its page token is the one "more" follows
  pollMs: POLL_MIN_MS,
  reading: false,
  readAgain: false,
  timer: null,
};

const time = (timestamp) => (timestamp == null ? "–" : new Date(timestamp).toLocaleString([], {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
}));

export function showDeliveries(webhookId) {
  closeDeliveries();
  shown.webhookId = webhookId;
  body.replaceChildren();
  status.textContent = "";
  delete status.dataset.kind;
  more.hidden = true;
  refreshDeliveries();
}

export function closeDeliveries() {
  shown.webhookId = null;
  shown.generation += 1;
  shown.deliveries.clear();
  shown.nextToken = "";
  shown.firstRead = true;
  shown.pollMs = POLL_MIN_MS;
  clearTimeout(shown.timer);
  shown.timer = null;
}

// Reads the newest page again; a call while a read is under way makes one more after it.
export async function refreshDeliveries() {
  if (!shown.webhookId) return;
  if (shown.reading) {
    shown.readAgain = true;
    return;
  }
  shown.reading = true;
  clearTimeout(shown.timer);
  try {
    do {
      shown.readAgain = false;
      const generation = shown.generation;
      const id = shown.webhookId;
      let page;
      try {
        page = await api(`/webhooks/${id}/deliveries?page_size=${PAGE_SIZE}`);
      } catch (error) {
        if (generation !== shown.generation) continue;
        if (error.status === 404) {
          gone(id);
          return;
        }
        status.dataset.kind = "error";
        status.textContent = `The deliveries could not be read: ${problem(error)}`;
        continue;
      }
      if (generation !== shown.generation) continue;
      // a change: the next read soon; none: the one after it later
      shown.pollMs = merge(page.results) ? POLL_MIN_MS : Math.min(shown.pollMs * 2, POLL_MAX_MS);
      if (shown.firstRead) {
        shown.firstRead = false;
        shown.nextToken = page.next_page_token;
        more.hidden = !shown.nextToken;
      }
      if (status.dataset.kind === "error") status.textContent = "";
    } while (shown.readAgain && shown.webhookId);
  } finally {
    shown.reading = false;
  }
  pollWhileOpen();
}

// A delivery the page just made (a test event) or changed (a retry): drawn now, and
// followed like the others.
export function addDelivery(delivery) {
  if (delivery.webhook_id !== shown.webhookId) return;
  merge([delivery]);
  shown.pollMs = POLL_MIN_MS;
  refreshDeliveries();
}

async function loadOlder() {
  const id = shown.webhookId;
  const generation = shown.generation;
  const page = await api(
    `/webhooks/${id}/deliveries?page_size=${PAGE_SIZE}&page_token=${encodeURIComponent(shown.nextToken)}`,
  );
  if (generation !== shown.generation) return;
  for (const delivery of page.results) {
    if (!shown.deliveries.has(delivery.id)) body.append(newRow(delivery));
    draw(delivery);
  }
  shown.nextToken = page.next_page_token;
  more.hidden = !shown.nextToken;
}

// The newest page, merged with what is shown: new deliveries on top, known ones in
// place. Whether anything changed.
function merge(deliveries) {
  body.querySelector(".empty-row")?.remove();
  const fresh = deliveries.filter((delivery) => !shown.deliveries.has(delivery.id));
  const changed = fresh.length > 0 || deliveries.some((delivery) => {
    const known = shown.deliveries.get(delivery.id);
    return known.status !== delivery.status || known.attempts !== delivery.attempts
      || known.in_flight !== delivery.in_flight;
  });
  body.prepend(...fresh.map(newRow));
  for (const delivery of deliveries) draw(delivery);
  if (!body.rows.length) {
    const cell = body.insertRow().insertCell();
    cell.parentElement.className = "empty-row";
    cell.colSpan = COLUMNS.length;
    cell.textContent = "No deliveries yet: send a test event.";
  }
  return changed;
}

function pollWhileOpen() {
  clearTimeout(shown.timer);
  shown.timer = null;
  if (!shown.webhookId) return;
  const due = [...shown.deliveries.values()]
    .filter((delivery) => OPEN.has(delivery.status))
    .map((delivery) => (delivery.next_attempt_at ? Date.parse(delivery.next_attempt_at) : Date.now()));
  if (!due.length) return;
  const untilDue = Math.min(...due) + POLL_MIN_MS - Date.now();
  const wait = Math.max(Math.min(shown.pollMs, untilDue), POLL_MIN_MS); // pollMs is at most POLL_MAX_MS
  shown.timer = setTimeout(refreshDeliveries, wait);
}

function newRow(delivery) {
  const row = document.createElement("tr");
  row.id = `delivery-${delivery.id}`;
  row.dataset.deliveryId = delivery.id;
  for (const name of COLUMNS) {
    const cell = document.createElement("td");
    cell.dataset.field = name;
    row.append(cell);
  }
  const retry = document.createElement("button");
  retry.type = "button";
  retry.textContent = "Retry";
  retry.setAttribute("aria-label", `Retry the ${delivery.event_type} delivery`);
  retry.addEventListener("click", () => retryDelivery(delivery.id, retry));
  row.querySelector('[data-field="retry"]').append(retry);
  return row;
}

function draw(delivery) {
  shown.deliveries.set(delivery.id, delivery);
  const row = document.getElementById(`delivery-${delivery.id}`);
  if (!row) return;
  row.dataset.status = delivery.status;
  row.dataset.inFlight = String(delivery.in_flight);
  row.dataset.eventId = delivery.event_id;
  const text = {
    event: delivery.event_type,
    status: delivery.in_flight ? "sending" : delivery.status,
    attempts: String(delivery.attempts),
    response: delivery.response_status_code == null ? "–" : String(delivery.response_status_code),
    error: delivery.last_error ?? "",
    created: time(delivery.created_at),
    attempted: time(delivery.last_attempt_at),
    next: delivery.delivered_at ? `Delivered ${time(delivery.delivered_at)}`
      : delivery.next_attempt_at ? `Next ${time(delivery.next_attempt_at)}` : "–",
  };
  for (const [name, value] of Object.entries(text)) row.querySelector(`[data-field="${name}"]`).textContent = value;
  row.querySelector('[data-field="event"]').title = `Event ${delivery.event_id}`;
  const retry = row.querySelector('[data-field="retry"] button');
  const hide = !RETRYABLE.has(delivery.status) || delivery.in_flight;
  if (hide && document.activeElement === retry) document.getElementById("deliveries-title").focus();
  retry.hidden = hide;
}

async function retryDelivery(deliveryId, button) {
  const webhookId = shown.webhookId;
  if (button.getAttribute("aria-disabled") === "true") return; // sent already, answer awaited
  // aria-disabled, not disabled: a disabled button loses the keyboard's focus
  button.setAttribute("aria-disabled", "true");
  status.dataset.kind = "busy";
  status.textContent = "…";
  try {
    const delivery = await api(`/webhooks/${webhookId}/deliveries/${deliveryId}/retry`, { method: "POST" });
    status.dataset.kind = "ok";
    status.textContent = "Sent again: its status follows here.";
    addDelivery(delivery);
  } catch (error) {
    status.dataset.kind = "error";
    status.textContent = problem(error);
    if (error.status === 404) refreshDeliveries(); // the delivery, or its endpoint, is gone
  } finally {
    button.removeAttribute("aria-disabled");
  }
}

export function initDeliveries(hooks) {
  gone = hooks.gone;
  body = document.getElementById("deliveries");
  more = document.getElementById("deliveries-more");
  status = document.getElementById("deliveries-status");
  more.addEventListener("click", () => loadOlder().catch((error) => {
    status.dataset.kind = "error";
    status.textContent = problem(error);
  }));
  document.getElementById("deliveries-refresh").addEventListener("click", refreshDeliveries);
}
