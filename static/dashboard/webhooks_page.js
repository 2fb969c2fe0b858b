// The webhooks page (/dashboard/webhooks/): the bell, the connection indicator and,
// for owners and admins, the webhooks view (webhooks.js). Anyone else's page says
// who manages webhooks, and loads no part of that view: the API would refuse it
// every read (403).

import { initNotifications, loadNotifications, NOTIFICATION_TYPES, onNotificationEvent } from "./notifications.js";
import { openStream } from "./stream.js";

const handlers = Object.fromEntries(NOTIFICATION_TYPES.map((type) => [type, onNotificationEvent]));
const loads = [loadNotifications];

if (document.getElementById("webhooks-section")) {
  const { initWebhooks, loadWebhooks, onWebhookEvent, WEBHOOK_TYPES } = await import("./webhooks.js");
  initWebhooks();
  for (const type of WEBHOOK_TYPES) handlers[type] = onWebhookEvent;
  loads.push(loadWebhooks);
}

document.getElementById("workspace-switcher")?.addEventListener("change", (event) => {
  event.target.form.requestSubmit();
});
initNotifications();
// each on its own: one that cannot be read says so, and the others go on
openStream({ handlers, load: () => { for (const load of loads) load(); } });
