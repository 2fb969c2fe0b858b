// The call drawer: one call's conversation and what happened on it.
//
// A live call's speech is not on the workspace stream until the page asks for
// it: `POST /calls/{id}/subscribe` with the stream connection's `client_id`
// adds that call's events to the open connection. The same initial-state rule
// as the rest of the page holds: subscribe first and hold what arrives, then
// read the recorded timeline (`GET /calls/{id}/events`), then apply the held
// events; an event already shown (same `event_id`) is skipped. After a
// reconnect the connection is a new one, so the drawer follows the call again
// from the top. An ended call has only its recorded timeline.

import { api, clearEmpty, clock, money, safeLink, seconds, showEmpty, TERMINAL } from "./api.js";

// The call-stream types (docs/reference/events.md#call-events) the page listens for, besides the call's
// own status events, which the workspace stream carries anyway.
export const CALL_STREAM_TYPES = [
  "call-transcript", "call-interim", "call-tts", "call-node-transition", "call-dtmf", "call-tool",
  "call-recording", "call-metrics", "call-error",
];
const MAX_TIMELINE_PAGES = 25; // 5,000 events: more than any call the runtimes play

const panel = document.getElementById("drawer");
const title = document.getElementById("drawer-title");
const facts = document.getElementById("drawer-facts");
const transcript = document.getElementById("transcript");
const activity = document.getElementById("activity");
const closeButton = document.getElementById("drawer-close");

const drawer = {
  callId: null,
  generation: 0, // a newer follow() makes an older one's late answers count for nothing
  ready: false,
  held: [],
  seen: new Set(),
  subscribedWith: null, // the client_id the call was added to
  opener: null, // where focus goes back to
  node: null, // the call's node, as its transitions say
};
let page; // { call(id), clientId() } from the dashboard
// A call the calls table does not hold (an older one, opened from a campaign's
// contacts): read when the drawer opens it, kept while it is open.
const outside = new Map();
const callOf = (id) => page.call(id) ?? outside.get(id);

export function initDrawer(hooks) {
  page = hooks;
  closeButton.addEventListener("click", closeCall);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeCall();
  });
}

export function openCall(id, opener) {
  if (drawer.callId && drawer.callId !== id) leave();
  drawer.callId = id;
  drawer.opener = opener;
  panel.hidden = false;
  panel.dataset.callId = id;
  closeButton.focus();
  return follow();
}

export function closeCall() {
  if (!drawer.callId) return;
  leave();
  panel.hidden = true;
  delete panel.dataset.callId;
  drawer.opener?.focus();
}

function leave() {
  const { callId, subscribedWith } = drawer;
  drawer.callId = null;
  drawer.generation += 1;
  outside.delete(callId);
  drawer.subscribedWith = null;
  if (subscribedWith && subscribedWith === page.clientId()) {
    // best effort: the connection forgets its subscriptions when it closes anyway
    api(`/calls/${callId}/unsubscribe`, { method: "POST", json: { client_id: subscribedWith } }).catch(() => {});
  }
}

// (Re)builds the drawer for the open call: subscribe, read the record, apply what was held.
export async function follow() {
  const id = drawer.callId;
  if (!id) return;
  const generation = ++drawer.generation;
  drawer.ready = false;
  drawer.held = [];
  drawer.seen.clear();
  drawer.node = null;
  transcript.replaceChildren();
  activity.replaceChildren();
  panel.dataset.ready = "false";
  drawFacts(callOf(id));
  if (!callOf(id)) {
    outside.set(id, await api(`/calls/${id}`));
    if (generation !== drawer.generation) return;
  }
  drawFacts(callOf(id));

  const call = callOf(id);
  const clientId = page.clientId();
  if (call && !TERMINAL.has(call.status) && clientId) {
    try {
      await api(`/calls/${id}/subscribe`, { method: "POST", json: { client_id: clientId } });
      if (generation !== drawer.generation) {
        // closed or moved on while subscribing: leave() could not know about this one
        if (drawer.callId !== id) {
          api(`/calls/${id}/unsubscribe`, { method: "POST", json: { client_id: clientId } }).catch(() => {});
        }
        return;
      }
      drawer.subscribedWith = clientId;
    } catch {
      // the connection closed meanwhile: the next `connected` follows the call again
    }
  }
  const recorded = []; // newest first, as every list comes
  let token = "";
  for (let n = 0; n < MAX_TIMELINE_PAGES; n += 1) {
    const query = new URLSearchParams({ page_size: "200" });
    if (token) query.set("page_token", token);
    const timeline = await api(`/calls/${id}/events?${query}`);
    if (generation !== drawer.generation) return;
    recorded.push(...timeline.results);
    token = timeline.next_page_token;
    if (!token) break;
  }
  for (const envelope of recorded.reverse()) show(envelope);
  drawer.ready = true;
  for (const envelope of drawer.held.splice(0)) show(envelope);
  showEmpty(transcript, "Nobody has spoken yet.");
  showEmpty(activity, "Nothing yet.");
  panel.dataset.ready = "true";
}

// Every event about a call passes here; the drawer keeps those of its call.
export function onCallEvent(envelope) {
  if (envelope.call_id !== drawer.callId) return;
  if (envelope.type === "call-status" || envelope.type === "call-ended") {
    const known = outside.get(drawer.callId);
    if (known) outside.set(drawer.callId, { ...known, ...endingOf(envelope.data) });
    drawFacts(callOf(drawer.callId));
  }
  if (drawer.ready) show(envelope);
  else drawer.held.push(envelope);
}

function endingOf({ status, end_reason, duration, cost }) {
  return end_reason === undefined ? { status } : { status, end_reason, duration, cost };
}

function drawFacts(call) {
  title.textContent = call ? `Call to ${call.to_number}` : "Call";
  const rows = call
    ? [
        ["Status", call.status],
        ["Agent", call.agent ?? "–"],
        ["Node", drawer.node ?? call.current_node ?? "–"],
        ["Duration", seconds(call.duration)],
        ["Cost", money(call.cost)],
        ["Ended because", call.end_reason ?? "–"],
      ]
    : [];
  facts.replaceChildren(
    ...rows.flatMap(([term, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      dd.dataset.fact = term.toLowerCase().replaceAll(" ", "-");
      return [dt, dd];
    }),
  );
}

function show(envelope) {
  if (drawer.seen.has(envelope.event_id)) {
    // A final the timeline already showed, held again: an interim held before it is stale.
    if (envelope.type === "call-transcript") dropInterim(envelope.data.role);
    return;
  }
  drawer.seen.add(envelope.event_id);
  const { type, data, timestamp } = envelope;
  switch (type) {
    case "call-transcript":
      say(data.role, data.text, false);
      break;
    case "call-interim": // the words so far; the final transcript replaces them
      say(data.role, data.text, true);
      break;
    case "call-tts": // the agent starts speaking; its transcript follows
      say("agent", data.text, true);
      break;
    case "call-node-transition": // the call's current_node moves, and no workspace event says so
      drawer.node = data.to_node;
      facts.querySelector("[data-fact=node]").textContent = data.to_node;
      note(timestamp, type, describe(type, data));
      break;
    case "call-recording": // the runtime names the address: a link only if it is a safe one
      note(timestamp, type, describe(type, data), safeLink(data.recording_url));
      break;
    default: {
      const text = describe(type, data);
      if (text) note(timestamp, type, text);
    }
  }
}

function say(role, text, interim) {
  clearEmpty(transcript);
  const pending = transcript.querySelector(`li.interim[data-role="${role}"]`);
  const line = pending ?? document.createElement("li");
  line.className = interim ? "interim" : "final";
  line.dataset.role = role;
  line.textContent = "";
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "agent" ? "Agent" : "Caller";
  line.append(who, document.createTextNode(text));
  if (!pending) transcript.append(line);
}

function dropInterim(role) {
  transcript.querySelector(`li.interim[data-role="${role}"]`)?.remove();
}

function note(timestamp, type, text, href = null) {
  clearEmpty(activity);
  const item = document.createElement("li");
  item.dataset.type = type;
  const time = document.createElement("time");
  time.dateTime = timestamp;
  time.textContent = clock(timestamp);
  if (href) {
    const anchor = document.createElement("a");
    anchor.href = href;
    anchor.rel = "noopener noreferrer";
    anchor.target = "_blank";
    anchor.textContent = text;
    item.append(time, anchor);
  } else {
    item.append(time, document.createTextNode(text));
  }
  activity.append(item);
}

function describe(type, data) {
  switch (type) {
    case "call-created":
      return `Created (${data.direction}, ${data.source})`;
    case "call-status":
      return `Status ${data.status}`;
    case "call-ended":
      return `Ended: ${data.end_reason ?? data.status}, ${seconds(data.duration)}, ${money(data.cost)}`;
    case "call-node-transition":
      return `Node ${data.from_node ?? "start"} → ${data.to_node} (${data.trigger})`;
    case "call-tool":
      if (data.phase === "started") return `Tool ${data.tool_name} started`;
      return data.succeeded
        ? `Tool ${data.tool_name} done in ${data.duration_ms} ms`
        : `Tool ${data.tool_name} failed: ${data.error ?? "no reason given"}`;
    case "call-dtmf":
      return `Keypad ${data.digit}`;
    case "call-recording":
      return `Recording ${data.recording_status}`;
    case "call-escalated":
      return `Handed to a human: ${data.reason ?? data.trigger}`;
    case "call-metrics":
      return `Turn latency ${data.turn_latency_ms} ms`;
    case "call-error":
      return `Error ${data.code}: ${data.message}`;
    default:
      return null; // speech segments, turn summaries, TTS words: the transcript already shows them
  }
}
