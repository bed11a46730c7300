// One charger: facts, connectors, the current session's live chart, commands with the
// charger's answer, configuration and the OCPP journal.
import { MeterChart } from "./chart.js";
import { ago, api, el, liveEvents, notice, problem, when } from "./console.js";

const root = document.getElementById("charger");
const id = root.dataset.chargePointId;
const base = "/api/v1/chargers/" + encodeURIComponent(id);
const chart = new MeterChart(document.getElementById("session-chart"));
let activeSession = null;
let journalCursor = null;

function fact(term, value) {
  return [el("dt", {}, term), el("dd", {}, value === null || value === undefined || value === "" ? "–" : value)];
}

async function loadFacts() {
  const [charger, fleetRow] = await Promise.all([
    api(base), api("/api/v1/fleet", { params: { charge_point_id: id, limit: 1 } }),
  ]);
  if (!charger.ok) { notice(problem(charger), "error"); return; }
  const c = charger.data;
  const state = fleetRow.ok && fleetRow.data.items.length ? fleetRow.data.items[0].state : "offline";
  const badge = document.getElementById("charger-state");
  badge.textContent = state;
  badge.className = "badge state-" + state;
  root.dataset.state = state;
  document.getElementById("facts").replaceChildren(
    ...fact("Vendor / model", [c.vendor, c.model].filter(Boolean).join(" ")),
    ...fact("Serial number", c.serial_number),
    ...fact("Firmware", c.firmware_version),
    ...fact("OCPP", c.connected_protocol || c.ocpp_version),
    ...fact("Node", c.owner_node),
    ...fact("Connected", c.connected ? "yes" : "no"),
    ...fact("Registration", c.registration_status),
    ...fact("Last heartbeat", c.last_heartbeat_at ? `${ago(c.last_heartbeat_at)} (${when(c.last_heartbeat_at)})` : null),
    ...fact("Firmware status", c.firmware_status),
    ...fact("Description", c.description),
  );
}

async function loadStatus() {
  const result = await api(base + "/status");
  if (!result.ok) return;
  const s = result.data;
  document.getElementById("connectors").replaceChildren(...s.connectors.map((c) =>
    el("tr", { dataset: { connector: `${c.evse_id}/${c.connector_id}`, status: c.status } },
      el("th", { scope: "row" }, `${c.evse_id}/${c.connector_id}`),
      el("td", {}, el("span", { class: "conn conn-" + c.status.toLowerCase() }, c.status)),
      el("td", {}, c.error_code === "NoError" ? "–" : c.error_code),
      el("td", {}, when(c.status_at)))));
  const active = s.active_transactions[0] || null;
  const summary = document.getElementById("session-summary");
  const box = document.getElementById("session-chart");
  if (!active) {
    activeSession = null;
    summary.textContent = "No session is active.";
    return;
  }
  activeSession = active;
  const stop = document.getElementById("c-stop-tx");
  if (stop && !stop.value) stop.value = active.transaction_id;
  summary.replaceChildren(
    el("a", { href: "/sessions/" + active.id }, `Session ${active.id}`),
    ` on ${active.evse_id}/${active.connector_id} since ${when(active.started_at)}, token ${active.id_token || "–"}, `,
    el("span", { id: "session-energy" }, active.energy_wh === null ? "– kWh" : `${(Number(active.energy_wh) / 1000).toFixed(3)} kWh`));
  box.hidden = false;
  await loadChart();
}

async function loadChart() {
  if (!activeSession) return;
  const result = await api("/api/v1/transactions/" + activeSession.id);
  if (!result.ok) return;
  chart.update(result.data.meter_values);
  const energy = result.data.energy_wh;
  const label = document.getElementById("session-energy");
  if (label && energy !== null) label.textContent = `${(Number(energy) / 1000).toFixed(3)} kWh`;
}

async function loadConfiguration() {
  const result = await api(base + "/configuration", { params: { limit: 200 } });
  const body = document.getElementById("configuration");
  if (!result.ok) { body.replaceChildren(el("tr", {}, el("td", { colspan: 3 }, problem(result)))); return; }
  const items = result.data.items;
  if (!items.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 3 }, "Nothing reported yet (send get_configuration or get_base_report).")));
    return;
  }
  body.replaceChildren(...items.map((v) => el("tr", {},
    el("th", { scope: "row" }, v.key),
    el("td", {}, v.value === null || v.value === undefined ? "–" : String(v.value)),
    el("td", {}, when(v.reported_at || v.updated_at)))));
}

const TYPES = { 2: "CALL", 3: "RESULT", 4: "ERROR" };

function frame(f) {
  const arrow = f.direction === "in" ? "⇠ from charger" : "⇢ to charger";
  return el("details", { class: "journal-entry", dataset: { action: f.action || "", direction: f.direction } },
    el("summary", {}, `${when(f.at)} `, el("span", { class: "dir-" + f.direction }, arrow),
      ` ${TYPES[f.message_type] || f.message_type} ${f.action || ""} `, el("code", {}, f.message_id)),
    el("pre", { class: "frame" }, JSON.stringify(f.payload, null, 2)));
}

async function loadJournal(more = false) {
  const form = document.getElementById("journal-search");
  const params = Object.fromEntries(new FormData(form));
  if (!more) journalCursor = null;
  const result = await api(base + "/messages", { params: { ...params, limit: 50, cursor: journalCursor } });
  const box = document.getElementById("journal");
  if (!result.ok) { box.replaceChildren(el("p", { class: "error" }, problem(result))); return; }
  const frames = result.data.items.map(frame);
  if (more) box.append(...frames);
  else box.replaceChildren(...(frames.length ? frames : [el("p", {}, "No frame matches.")]));
  journalCursor = result.data.next_cursor;
  document.getElementById("journal-more").hidden = !journalCursor;
}

function commandParams(form) {
  const params = {};
  for (const [key, raw] of new FormData(form)) {
    const value = String(raw).trim();
    if (value === "") continue;
    if (key === "operative") params[key] = value === "true";
    else if (key.endsWith("_id") && key !== "transaction_id" && /^\d+$/.test(value)) params[key] = Number(value);
    else params[key] = value;
  }
  return params;
}

for (const form of document.querySelectorAll("form[data-command]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const params = commandParams(form);
    const condition = form.dataset.confirmWhen;
    const risky = form.dataset.confirm && (!condition || String(params[condition.split("=")[0]]) === condition.split("=")[1]);
    if (risky && !window.confirm(form.dataset.confirm)) return;
    const answer = document.getElementById("command-answer");
    const button = form.querySelector("button");
    button.disabled = true;
    answer.textContent = `${form.dataset.command}: waiting for the charger…`;
    try {
      const result = await api(`${base}/commands/${form.dataset.command}`, { method: "POST", json: params });
      answer.textContent = result.ok
        ? `${result.data.action}: ${JSON.stringify(result.data.response, null, 2)}`
        : `${form.dataset.command} failed (${result.status}): ${problem(result)}`;
      answer.dataset.outcome = result.ok ? "ok" : "error";
    } finally {
      button.disabled = false;
    }
    loadStatus();
  });
}

document.getElementById("journal-search").addEventListener("submit", (event) => { event.preventDefault(); loadJournal(); });
document.getElementById("journal-more").addEventListener("click", () => loadJournal(true));

await Promise.all([loadFacts(), loadStatus(), loadConfiguration(), loadJournal()]);

let statusDue = false;
let chartDue = false;
const onCharger = () => { statusDue = true; setTimeout(() => { statusDue = true; }, 1500); };
liveEvents({ charge_point_id: id }, {
  "charger.status": onCharger,
  "charger.connected": onCharger,
  "charger.disconnected": onCharger,
  "transaction.started": onCharger,
  "transaction.ended": onCharger,
  "transaction.updated": () => { chartDue = true; },
}, (state) => { root.dataset.live = state; });
setInterval(async () => {
  if (statusDue) { statusDue = false; await Promise.all([loadFacts(), loadStatus()]); }
  else if (chartDue) { chartDue = false; await loadChart(); }
}, 500);
