// The workspace stream for a page other than the dashboard's own (the webhooks page),
// kept the way dashboard.js keeps it (docs/dashboard.md, "How it stays correct"): a
// single-use ticket per connection; on an error, a fresh ticket and the last cursor
// (`last_event_id`), so the server replays what was missed; on `stream-reset`, the
// state read again; on `shutdown`, `retry_ms` waited and a reconnect.
//
// `handlers`: event type -> function(type, data); `load()`: reads the page's state
// (on the first `connected`, and on `stream-reset`); the events that arrive while it
// reads are each page part's to hold (live_list.js does).

import { api } from "./api.js";

const RETRY_MS = [500, 1000, 2000, 5000];

export function openStream({ handlers, load }) {
  const state = { cursor: null, source: null, failures: 0, loaded: false };
  const badge = document.getElementById("connection");

  function setConnection(kind, text) {
    badge.dataset.state = kind;
    badge.textContent = text;
  }

  function reconnectLater(delay) {
    state.source?.close();
    state.source = null;
    setConnection("reconnecting", "Reconnecting…");
    setTimeout(connect, delay);
  }

  function onEvent(message) {
    if (message.lastEventId) state.cursor = message.lastEventId;
    handlers[message.type](message.type, JSON.parse(message.data).data);
  }

  async function connect() {
    let ticket;
    try {
      ({ ticket } = await api("/auth/sse-ticket", { method: "POST" }));
    } catch {
      state.failures += 1;
      setConnection("offline", "Offline");
      setTimeout(connect, RETRY_MS[Math.min(state.failures, RETRY_MS.length - 1)]);
      return;
    }
    const query = new URLSearchParams({ ticket });
    if (state.cursor) query.set("last_event_id", state.cursor);
    const source = new EventSource(`/api/v1/sse/connect?${query}`);
    state.source = source;
    source.addEventListener("connected", () => {
      state.failures = 0;
      setConnection("live", "Live");
      if (!state.loaded) {
        state.loaded = true;
        load();
      }
    });
    for (const type of Object.keys(handlers)) source.addEventListener(type, onEvent);
    source.addEventListener("stream-reset", () => {
      state.cursor = null;
      load();
    });
    source.addEventListener("shutdown", (message) => {
      const { data } = JSON.parse(message.data);
      reconnectLater(data.retry_ms ?? RETRY_MS[1]);
    });
    // EventSource would retry the same URL, and a ticket works once: reconnect ourselves.
    source.onerror = () => {
      if (state.source !== source) return;
      state.failures += 1;
      reconnectLater(RETRY_MS[Math.min(state.failures, RETRY_MS.length - 1)]);
    };
  }

  connect();
}
