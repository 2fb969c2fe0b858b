// A list the page keeps live: the REST state first, then the stream's events, in order
// (docs/dashboard.md, "How it stays correct"). The campaigns and the schedules use it;
// what a row shows and what an event changes stay in campaigns.js and schedules.js.
//
// Why the events wait: a status moves both ways (running, paused, running), so an
// event's content cannot tell whether it is older than the REST state; only order can.
// So the events that arrive while the list is read are held and applied after it, in
// order. An event about an item the page has not read (created elsewhere while the
// page is open) has the item read by its id, and that item's further events are held
// until the read is done, so they too apply after the state they follow.

import { api } from "./api.js";

const PAGE_SIZE = 50;

// path: the REST collection ("/campaigns"); idOf(event data): the item it is about;
// rows: the element the rows are drawn in; more: the button that reads the next page;
// empty(error): says there is no row yet (or, with an error, that the list could not
// be read) while there is none; draw(item, { atTop }): draws an item as it now is;
// change(type, data, known): applies an event to an item the page holds.
// `items` (id -> item, as last drawn) is for reading: an item changes through
// `remember`, which draws it.
export function liveList({ path, idOf, rows, more, empty, draw, change }) {
  const items = new Map();
  const held = []; // [type, data] that arrived before the list was read
  const fetching = new Map(); // id -> its events held while it is read for the first time
  let ready = false;
  let nextToken = "";

  function remember(item, { atTop }) {
    items.set(item.id, item);
    draw(item, { atTop });
  }

  async function load() {
    ready = false;
    try {
      const page = await api(`${path}?page_size=${PAGE_SIZE}`);
      items.clear();
      rows.replaceChildren();
      for (const item of page.results) remember(item, { atTop: false });
      nextToken = page.next_page_token;
      empty();
    } catch (error) {
      rows.replaceChildren();
      empty(error);
    }
    more.hidden = !nextToken;
    ready = true;
    for (const [type, data] of held.splice(0)) apply(type, data);
  }

  async function loadOlder() {
    const page = await api(`${path}?page_size=${PAGE_SIZE}&page_token=${encodeURIComponent(nextToken)}`);
    for (const item of page.results) {
      if (!items.has(item.id)) remember(item, { atTop: false });
    }
    nextToken = page.next_page_token;
    more.hidden = !nextToken;
  }

  function onEvent(type, data) {
    if (ready) apply(type, data);
    else held.push([type, data]);
  }

  function apply(type, data) {
    const id = idOf(data);
    if (fetching.has(id)) {
      fetching.get(id).push([type, data]);
      return;
    }
    const known = items.get(id);
    if (known) change(type, data, known);
    else readUnknown(id, [[type, data]]);
  }

  async function readUnknown(id, events) {
    fetching.set(id, events);
    try {
      remember(await api(`${path}/${id}`), { atTop: true });
    } catch {
      fetching.delete(id); // deleted meanwhile, or unreadable: nothing to show
      return;
    }
    const arrived = fetching.get(id);
    fetching.delete(id);
    for (const [type, data] of arrived) apply(type, data);
  }

  more.addEventListener("click", () => loadOlder().catch(() => {}));
  return { items, load, onEvent, remember };
}
