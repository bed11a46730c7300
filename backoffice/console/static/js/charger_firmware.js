// The charger page's firmware history (GET /api/v1/chargers/{id}/firmware): its updates in
// firmware campaigns and the firmware statuses it reported, newest first.
import { api, el, when } from "./console.js";

const id = document.getElementById("charger").dataset.chargePointId;

async function loadFirmware() {
  const summary = document.getElementById("firmware-summary");
  const result = await api(`/api/v1/chargers/${encodeURIComponent(id)}/firmware`);
  if (!result.ok) { summary.textContent = "Not available."; return; }
  const h = result.data;
  summary.textContent = `Version ${h.firmware_version ?? "unknown"}; last reported status: ${h.firmware_status ?? "none"}.`;
  const updates = document.getElementById("firmware-updates");
  updates.replaceChildren(...h.updates.map((u) =>
    el("tr", { dataset: { campaign: u.campaign_id, state: u.state } },
      el("th", { scope: "row" }, el("a", { href: `/firmware/${u.campaign_id}` }, `#${u.campaign_id} ${u.campaign_name}`)),
      el("td", {}, u.version),
      el("td", {}, u.state.replaceAll("_", " ")),
      el("td", {}, u.last_status ?? "–"),
      el("td", {}, u.failure ?? "–"),
      el("td", {}, String(u.attempts)),
      el("td", {}, when(u.updated_at)))));
  if (!h.updates.length) updates.append(el("tr", {}, el("td", { colspan: 7 }, "In no firmware campaign.")));
  const statuses = document.getElementById("firmware-statuses");
  statuses.replaceChildren(...h.statuses.map((s) =>
    el("tr", { dataset: { id: s.id } },
      el("th", { scope: "row" }, s.status ?? "–"),
      el("td", {}, s.action),
      el("td", {}, s.request_id === null ? "–" : String(s.request_id)),
      el("td", {}, when(s.received_at)))));
  if (!h.statuses.length) statuses.append(el("tr", {}, el("td", { colspan: 4 }, "No firmware status reported.")));
}

await loadFirmware();
