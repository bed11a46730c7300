// One firmware campaign: its facts, each wave's progress, the failed chargers, the events;
// pause, resume, cancel (confirmed) and retry-failed. Refreshed every few seconds.
import { api, el, notice, problem, when } from "./console.js";
import { allItems, confirmAction } from "./forms.js";

const id = document.getElementById("campaign-title").dataset.campaign;
const base = `/api/v1/firmware/campaigns/${id}`;
const buttons = {
  pause: document.getElementById("campaign-pause"),
  resume: document.getElementById("campaign-resume"),
  retry: document.getElementById("campaign-retry"),
  cancel: document.getElementById("campaign-cancel"),
};
const FINISHED = new Set(["completed", "cancelled"]);
let eventsCursor = null;
let eventsLoaded = false;

function facts(list, pairs) {
  list.replaceChildren(...pairs.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value ?? "–")]));
}

function targetText(target) {
  return Object.entries(target || {}).map(([key, value]) =>
    Array.isArray(value) ? `${key}: ${value.join(", ")}` : `${key}: ${value}`).join("; ") || "every charger";
}

function waveRow(w) {
  const done = w.succeeded + w.failed + w.cancelled;
  return el("tr", { dataset: { wave: w.number } },
    el("th", { scope: "row" }, `${w.number} ${w.label}`),
    el("td", {}, el("progress", { max: w.size || 1, value: done, "aria-label": `wave ${w.number}: ${done} of ${w.size} done` }), ` ${done}/${w.size}`),
    el("td", {}, w.size),
    el("td", { class: "optional" }, w.pending),
    el("td", { class: "optional" }, w.in_flight),
    el("td", {}, w.succeeded),
    el("td", {}, w.failed),
    el("td", { class: "optional" }, w.cancelled),
    el("td", {}, `${w.failure_rate} %${w.failures_accepted ? " (accepted)" : ""}`),
    el("td", { class: "optional" }, when(w.started_at)),
    el("td", { class: "optional" }, when(w.finished_at)),
  );
}

async function loadCampaign() {
  const result = await api(base);
  if (!result.ok) { notice(problem(result), "error"); return null; }
  const c = result.data;
  document.getElementById("campaign-title").textContent = `Firmware campaign #${c.id}${c.name ? " " + c.name : ""}`;
  const status = document.getElementById("campaign-status");
  status.replaceChildren(el("span", { class: "badge status-" + c.status, id: "campaign-badge" }, c.status),
    c.halted_reason ? ` halted: ${c.halted_reason}` : "", ` · current wave ${c.current_wave}`);
  document.body.dataset.campaignStatus = c.status;
  facts(document.getElementById("campaign-facts"), [
    ["Version", `${c.target_version}${c.signed ? " (signed)" : ""}`],
    ["Target", targetText(c.target)],
    ["Chargers", c.chargers],
    ["Waves", [c.canary ? `canary ${c.canary}` : null, ...c.waves].filter(Boolean).join(" → ")],
    ["Max failure rate", c.max_failure_rate],
    ["At once", c.max_concurrent],
    ["Windows", c.windows.length ? c.windows.join(", ") : "any time"],
    ["Sessions", c.session_policy],
    ["Attempts", `${c.max_attempts}, ${c.retry_delay} s apart`],
    ["Created", `${when(c.created_at)} by ${c.created_by || "–"}`],
    ["Finished", when(c.finished_at)],
  ]);
  facts(document.getElementById("campaign-counts"), Object.entries(c.counts));
  document.getElementById("wave-rows").replaceChildren(...c.wave_progress.map(waveRow));
  if (buttons.pause) {
    buttons.pause.disabled = c.status !== "running";
    buttons.resume.disabled = !["paused", "halted"].includes(c.status);
    buttons.cancel.disabled = FINISHED.has(c.status);
    buttons.retry.disabled = c.status === "cancelled" || !(c.counts.failed > 0);
  }
  return c;
}

async function loadFailures() {
  const { ok, result, items } = await allItems(api, `${base}/targets`, { state: "failed" }, 5);
  if (!ok) { notice(problem(result), "error"); return; }
  const rows = document.getElementById("failure-rows");
  rows.replaceChildren(...items.map((t) => el("tr", { dataset: { id: t.charge_point_id } },
    el("th", { scope: "row" }, el("a", { href: "/chargers/" + encodeURIComponent(t.charge_point_id) }, t.charge_point_id)),
    el("td", {}, t.wave), el("td", {}, t.attempts), el("td", {}, t.last_status || "–"),
    el("td", {}, t.failure || "–"), el("td", { class: "optional" }, when(t.finished_at || t.updated_at)))));
  if (!items.length) rows.append(el("tr", {}, el("td", { colspan: 6 }, "No charger failed.")));
}

async function loadEvents() {
  const result = await api(`${base}/events`, { params: { limit: 50, cursor: eventsCursor } });
  if (!result.ok) return;
  const rows = document.getElementById("event-rows");
  if (!eventsLoaded) rows.replaceChildren();
  eventsLoaded = true;
  for (const e of result.data.items) {
    rows.append(el("tr", {}, el("td", {}, when(e.at)), el("td", {}, e.charge_point_id || "campaign"),
      el("td", {}, [e.kind, e.state].filter(Boolean).join(": ")), el("td", {}, e.detail || "–"),
      el("td", { class: "optional" }, e.actor || "–")));
  }
  if (result.data.next_cursor) eventsCursor = result.data.next_cursor;
  document.getElementById("events-more").disabled = !result.data.next_cursor;
  return result.data.next_cursor;
}

async function act(action, label) {
  if (action === "cancel" && !await confirmAction(`Cancel campaign #${id} for good? Chargers not finished are cancelled.`, "Cancel campaign")) return;
  const result = await api(`${base}/${action}`, { method: "POST" });
  if (!result.ok) { notice(problem(result), "error"); return; }
  const extra = action === "retry-failed" ? ` (${result.data.retried} retried, ${result.data.skipped} skipped)` : "";
  notice(`Campaign #${id}: ${label}${extra}.`);
  eventsCursor = null;
  eventsLoaded = false;
  await Promise.all([refresh(), loadEvents()]);
}

async function refresh() {
  await Promise.all([loadCampaign(), loadFailures()]);
}

if (buttons.pause) {
  buttons.pause.addEventListener("click", () => act("pause", "paused"));
  buttons.resume.addEventListener("click", () => act("resume", "resumed"));
  buttons.retry.addEventListener("click", () => act("retry-failed", "failed chargers retried"));
  buttons.cancel.addEventListener("click", () => act("cancel", "cancelled"));
}
document.getElementById("events-more").addEventListener("click", () => loadEvents());

await Promise.all([refresh(), loadEvents()]);
setInterval(() => { if (document.body.dataset.campaignStatus && !FINISHED.has(document.body.dataset.campaignStatus)) refresh(); }, 3000);
