// The public REST API as the page uses it (session cookie, CSRF header, the
// workspace the page shows), and the few formats every part of the page shares.

export const workspace = document.getElementById("dashboard").dataset.workspace;

function cookie(name) {
  const match = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return match ? decodeURIComponent(match[1]) : "";
}

// A refused request: the status and the API's error body (docs/reference/errors.md).
export class ApiError extends Error {
  constructor(method, path, status, error) {
    super(error?.message ?? `${method} ${path}: ${status}`);
    this.status = status;
    this.code = error?.code ?? "http_error";
    this.details = error?.details ?? {};
  }
}

// `json` is sent as JSON; `body` as it is, with its `type` (a CSV file's text).
export async function api(path, { method = "GET", json, body, type } = {}) {
  const headers = { "X-Workspace": workspace, "X-CSRFToken": cookie("csrftoken"), Accept: "application/json" };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  else if (body !== undefined) headers["Content-Type"] = type;
  const response = await fetch(`/api/v1${path}`, {
    method,
    credentials: "same-origin",
    headers,
    body: json === undefined ? body : JSON.stringify(json),
  });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    throw new ApiError(method, path, response.status, answer.error);
  }
  return response.status === 204 ? null : response.json();
}

// What to tell a person about a refused request: the API's sentence, and the first
// field it names when the input did not validate.
export function problem(error) {
  const field = error.details?.fields?.[0];
  if (field) return `${error.message} ${field.field ? `${field.field}: ` : ""}${field.message}`;
  return error.message || "Something went wrong; try again.";
}

export const TERMINAL = new Set(["completed", "failed", "busy", "no-answer", "canceled"]);
export const money = (value) => (value == null ? "–" : `$${Number(value).toFixed(4)}`);
export const seconds = (value) => (value == null ? "–" : `${Math.round(value)} s`);
export const clock = (timestamp) => new Date(timestamp).toLocaleTimeString([], { hour12: false });

// A date and time as it reads in `zone` (a schedule's), with the zone's abbreviation;
// in the browser's own zone when the browser does not know that one.
export function zonedTime(timestamp, zone) {
  if (timestamp == null) return "–";
  const style = {
    weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", hour12: false, timeZoneName: "short",
  };
  try {
    return new Date(timestamp).toLocaleString([], { ...style, timeZone: zone });
  } catch {
    return new Date(timestamp).toLocaleString([], style);
  }
}

// A list that shows one line of text while it is empty.
export function showEmpty(list, text) {
  if (list.children.length) return;
  const item = document.createElement("li");
  item.className = "empty";
  item.textContent = text;
  list.append(item);
}

export function clearEmpty(list) {
  list.querySelector(":scope > .empty")?.remove();
}

// A link the page may render from event data: a path of this site ("/…", never
// "//host" or "/\host", which browsers read as another host) or an https
// address; anything else (javascript:, data:, http:) is not a link. The address
// as the browser resolved it, or null.
export function safeLink(value) {
  if (typeof value !== "string" || value === "") return null;
  let url;
  try {
    url = new URL(value, window.location.origin);
  } catch {
    return null;
  }
  if (/^https:\/\//i.test(value) && url.protocol === "https:") return url.href;
  if (value.startsWith("/") && url.origin === window.location.origin) return url.pathname + url.search + url.hash;
  return null;
}
