// Placing one call from the page: `POST /calls` with the number and the agent. The
// new call's row comes the way every row does, from its `call-created` event.

import { api, problem } from "./api.js";
import { fillAgents } from "./agents.js";

export function initCallForm() {
  const form = document.getElementById("call-form");
  if (!form) return; // a viewer's page has no form
  const status = document.getElementById("call-form-status");
  const number = form.elements.to_number;
  fillAgents(form.elements.agent);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const json = { to_number: number.value.trim() };
    if (form.elements.agent.value) json.agent = form.elements.agent.value;
    button.disabled = true;
    status.dataset.kind = "busy";
    status.textContent = "Placing the call…";
    try {
      const call = await api("/calls", { method: "POST", json });
      status.dataset.kind = "ok";
      status.dataset.callId = call.id;
      status.textContent = `Call ${call.id.slice(0, 8)} to ${call.to_number} placed.`;
      number.value = "";
    } catch (error) {
      status.dataset.kind = "error";
      delete status.dataset.callId;
      status.textContent = problem(error);
      number.setAttribute("aria-invalid", String(error.status === 400));
    } finally {
      button.disabled = false;
      number.focus();
    }
  });
  number.addEventListener("input", () => number.removeAttribute("aria-invalid"));
}
