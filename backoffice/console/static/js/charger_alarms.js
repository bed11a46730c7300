// The charger page's open alarms (GET /api/v1/alarms?charger=...) and configuration drift
// (GET /api/v1/config/chargers/{id}/drift), the alarms followed live.
import { api, el, liveEvents, when } from "./console.js";

const root = document.getElementById("charger");
const id = root.dataset.chargePointId;
const alarms = document.getElementById("charger-alarms");

async function loadAlarms() {
  const result = await api("/api/v1/alarms", { params: { charger: id, state: "open", limit: 50 } });
  if (!result.ok) return;
  alarms.replaceChildren(...result.data.items.map((a) =>
    el("tr", { dataset: { id: a.id, state: a.state, type: a.type } },
      el("th", { scope: "row" }, el("a", { href: "/alarms?charger=" + encodeURIComponent(id) }, `#${a.id} ${a.type}`), a.subject ? ` ${a.subject}` : ""),
      el("td", {}, el("span", { class: "badge sev-" + a.severity }, a.severity)),
      el("td", {}, el("span", { class: "badge alarm-" + a.state }, a.state)),
      el("td", {}, a.message),
      el("td", {}, when(a.last_raised_at)))));
  if (!result.data.items.length) alarms.append(el("tr", {}, el("td", { colspan: 5 }, "No open alarm.")));
}

async function loadDrift() {
  const result = await api(`/api/v1/config/chargers/${encodeURIComponent(id)}/drift`);
  const summary = document.getElementById("drift-summary");
  if (!result.ok) { summary.textContent = "Not available."; return; }
  const report = result.data;
  const states = Object.entries(report.states).map(([k, n]) => `${n} ${k.replace("_", " ")}`).join(", ");
  summary.textContent = report.items.length ? `Desired settings: ${states}.` : "No configuration profile sets a value for this charger.";
  document.getElementById("drift").replaceChildren(...report.items.map((d) =>
    el("tr", { dataset: { setting: d.setting, state: d.state } },
      el("th", { scope: "row" }, d.setting), el("td", {}, d.desired), el("td", {}, d.reported ?? "–"),
      el("td", {}, d.state.replace("_", " ")), el("td", {}, d.profile_id))));
}

await Promise.all([loadAlarms(), loadDrift()]);
let due = false;
const changed = () => { due = true; setTimeout(() => { due = true; }, 1500); };
liveEvents({ types: "alarm", charge_point_id: id }, { "alarm.raised": changed, "alarm.acknowledged": changed, "alarm.cleared": changed });
setInterval(() => { if (due) { due = false; loadAlarms(); } }, 500);
