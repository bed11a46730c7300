// Service status (GET /api/v1/status): dependencies, nodes, breakers, the worker queue,
// alarm and webhook counts; read again every few seconds.
import { ago, api, el, notice, problem, when } from "./console.js";

const EVERY_MS = 5000;

function badge(text, kind) {
  return el("span", { class: "badge health-" + kind }, text);
}

function ms(seconds) {
  return seconds === null || seconds === undefined ? "–" : `${(seconds * 1000).toFixed(1)} ms`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  return seconds < 90 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds / 60)} min`;
}

function empty(body, columns, text) {
  if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: columns }, text)));
}

function counts(id, values, missing) {
  const list = document.getElementById(id);
  if (values === null) { list.replaceChildren(el("dt", {}, missing), el("dd", {}, "–")); return; }
  const entries = Object.entries(values);
  list.replaceChildren(...entries.flatMap(([key, n]) => [el("dt", {}, key), el("dd", { dataset: { count: key } }, String(n))]));
  if (!entries.length) list.replaceChildren(el("dt", {}, "none"), el("dd", {}, "0"));
}

function show(s) {
  const overall = document.getElementById("overall");
  overall.textContent = s.status;
  overall.className = "badge health-" + s.status;
  document.body.dataset.status = s.status;
  document.getElementById("checked").textContent = `Checked ${when(s.checked_at)} by replica ${s.replica_id}; refreshed every ${EVERY_MS / 1000} s.`;
  const unavailable = document.getElementById("unavailable");
  unavailable.hidden = !s.unavailable.length;
  unavailable.textContent = s.unavailable.length ? "Could not be read now: " + s.unavailable.join(", ") : "";

  document.getElementById("dependencies").replaceChildren(...Object.entries(s.dependencies).map(([name, d]) =>
    el("tr", { dataset: { dependency: name, up: d.up ? "yes" : "no" } },
      el("th", { scope: "row" }, name === "postgres" ? "PostgreSQL" : name === "redis" ? "Redis" : name),
      el("td", {}, badge(d.up ? "up" : "down", d.up ? "up" : "down"), d.error ? ` ${d.error}` : ""),
      el("td", {}, ms(d.latency_seconds)))));

  const nodes = document.getElementById("nodes");
  const breakers = document.getElementById("breakers");
  nodes.replaceChildren();
  breakers.replaceChildren();
  for (const n of s.nodes || []) {
    nodes.append(el("tr", { dataset: { node: n.node_id, alive: n.alive ? "yes" : "no" } },
      el("th", { scope: "row" }, n.node_id),
      el("td", {}, badge(n.alive ? "alive" : "gone", n.alive ? "up" : "down")),
      el("td", { class: "chargers" }, n.chargers ?? "–"),
      el("td", { class: "optional" }, n.chargers_recorded ?? "–"),
      el("td", {}, n.messages_per_second === null ? "–" : n.messages_per_second.toFixed(2)),
      el("td", { title: when(n.heartbeat_at) }, n.heartbeat_at ? ago(n.heartbeat_at) : "–"),
      el("td", { class: "optional" }, n.address || "–"),
      el("td", { class: "optional" }, n.version || "–")));
    for (const b of n.breakers) {
      breakers.append(el("tr", { dataset: { node: n.node_id, replica: b.replica_id, state: b.state } },
        el("th", { scope: "row" }, n.node_id), el("td", {}, b.replica_id),
        el("td", {}, badge(b.state, b.state)), el("td", {}, String(b.failures)), el("td", {}, ago(b.reported_at))));
    }
  }
  empty(nodes, 8, s.nodes === null ? "Redis could not be read." : "No node is registered.");
  empty(breakers, 5, "No breaker has reported.");

  const queues = document.getElementById("queues");
  queues.replaceChildren(...(s.queues || []).map((q) =>
    el("tr", { dataset: { entrypoint: q.entrypoint, status: q.status } },
      el("th", { scope: "row" }, q.entrypoint), el("td", {}, q.status), el("td", {}, String(q.jobs)),
      el("td", {}, duration(q.oldest_due_seconds)))));
  empty(queues, 4, s.queues === null ? "PostgreSQL could not be read." : "The queue is empty.");

  counts("alarm-counts", s.alarms, "not available");
  counts("webhook-counts", s.webhook_deliveries, "not available");
}

async function load() {
  const result = await api("/api/v1/status");
  // 503 still carries the status of what could be read
  if (result.data && result.data.dependencies) { notice(""); show(result.data); }
  else notice(problem(result), "error");
}

await load();
setInterval(load, EVERY_MS);
