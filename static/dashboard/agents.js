// The workspace's voice agents, read once, as the options of the page's agent pickers.

import { api } from "./api.js";

let agents; // the promise of the list, shared by every picker

// Fills `select` with the agents, the default one first and chosen. Until (or unless) the list
// arrives, its one option, "The default agent" (an empty value), stands.
export async function fillAgents(select) {
  agents ??= api("/agents?page_size=200").then((page) => page.results);
  let list;
  try {
    list = await agents;
  } catch {
    agents = undefined; // the next picker asks again
    return;
  }
  if (!list.length) return;
  const sorted = [...list].sort((a, b) => (b.is_default - a.is_default) || a.name.localeCompare(b.name));
  select.replaceChildren(
    ...sorted.map((agent) => {
      const option = document.createElement("option");
      option.value = agent.name;
      option.textContent = agent.is_default ? `${agent.name} (default)` : agent.name;
      option.selected = agent.is_default;
      return option;
    }),
  );
}
