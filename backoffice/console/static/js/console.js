// Shared by every page: calls to the JSON API with the session cookie (CSRF header on
// anything that may change something, one refresh and retry on 401), DOM helpers, logout.

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
let refreshing = null;

export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

export function csrfHeaders() {
  return { "X-CSRF-Token": cookie("csms_csrf") };
}

export function toLogin() {
  const here = location.pathname + location.search;
  location.assign("/login?next=" + encodeURIComponent(here));
}

// A fresh access token from the refresh cookie; false when the session is over.
export function refresh() {
  if (!refreshing) {
    refreshing = fetch("/api/v1/auth/session/refresh", {
      method: "POST", credentials: "same-origin", headers: csrfHeaders(),
    }).then((r) => r.ok).catch(() => false).finally(() => { refreshing = null; });
  }
  return refreshing;
}

// Call the API: {ok, status, data}; data is the JSON body (a problem+json on errors).
export async function api(path, { method = "GET", json, params, retry = true } = {}) {
  let url = path;
  if (params) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null || value === "") continue;
      for (const v of Array.isArray(value) ? value : [value]) query.append(key, v);
    }
    const text = query.toString();
    if (text) url += (url.includes("?") ? "&" : "?") + text;
  }
  const headers = { Accept: "application/json" };
  if (!SAFE.has(method)) Object.assign(headers, csrfHeaders());
  if (json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, credentials: "same-origin",
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  if (response.status === 401 && retry) {
    if (await refresh()) return api(path, { method, json, params, retry: false });
    toLogin();
  }
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json") && response.status !== 204) {
    const text = await response.text();
    if (text) data = JSON.parse(text);
  }
  return { ok: response.ok, status: response.status, data };
}

export function problem(result) {
  const data = result.data || {};
  let text = data.detail || data.title || `HTTP ${result.status}`;
  if (Array.isArray(data.errors)) {
    text += ": " + data.errors.map((e) => `${(e.loc || []).join(".")} ${e.msg || ""}`).join("; ");
  }
  return text;
}

// el("a", {href: "/x", class: "y"}, "text", child): never innerHTML, so no markup injection.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function ago(iso) {
  if (!iso) return "never";
  const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function notice(text, kind = "info") {
  const box = document.getElementById("notice");
  if (!box) return;
  box.textContent = text;
  box.className = "notice" + (kind === "error" ? " error" : "");
  box.hidden = !text;
}

// A live event stream; it reconnects after the access token expired (refreshing it first).
export function liveEvents(params, handlers, onState) {
  let source = null;
  let stopped = false;
  const open = () => {
    const query = new URLSearchParams(params).toString();
    source = new EventSource("/api/v1/events" + (query ? "?" + query : ""));
    source.onopen = () => onState && onState("live");
    source.onerror = () => onState && onState("reconnecting");
    for (const [type, handler] of Object.entries(handlers)) {
      source.addEventListener(type, (message) => handler(JSON.parse(message.data)));
    }
    source.addEventListener("token-expired", async () => {
      source.close();
      if (stopped) return;
      if (await refresh()) open(); else toLogin();
    });
  };
  open();
  return { close() { stopped = true; if (source) source.close(); } };
}

const logout = document.getElementById("logout");
if (logout) {
  logout.addEventListener("click", async () => {
    await api("/api/v1/auth/session", { method: "DELETE", retry: false });
    location.assign("/login");
  });
}
