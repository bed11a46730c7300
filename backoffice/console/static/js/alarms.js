// Alarms: counts of the open ones by severity, a filtered page of alarms (the API filters),
// one alarm's detail with its history, acknowledge (monitor and up) and clear (operator
// and up, asks first), live from the event stream, and the recently cleared ones.
import { api, el, liveEvents, notice, problem, when } from "./console.js";
import { allItems, confirmAction } from "./forms.js";

const PAGE = 50;
const SEVERITIES = ["critical", "major", "minor", "warning", "info"];
const root = document.getElementById("alarms");
const rows = document.getElementById("alarm-rows");
const form = document.getElementById("alarm-filter");
const nextButton = document.getElementById("alarm-next");
const firstButton = document.getElementById("alarm-first");
const liveLabel = document.getElementById("alarm-live");
const detail = document.getElementById("alarm-detail");
const ackForm = document.getElementById("ack-form");
const clearForm = document.getElementById("clear-form");  // operators only
const answer = document.getElementById("alarm-answer");
let cursor = null;
let nextCursor = null;
let shown = null;  // the alarm in the detail panel
let due = false;

function filters() {
  const data = Object.fromEntries(new FormData(form));
  for (const key of Object.keys(data)) if (!data[key]) delete data[key];
  return data;
}

function chargerLink(id) {
  return id ? el("a", { href: "/chargers/" + encodeURIComponent(id) }, id) : "–";
}

function row(a) {
  return el("tr", { id: "alarm-" + a.id, dataset: { id: a.id, state: a.state, severity: a.severity, type: a.type } },
    el("th", { scope: "row" }, `#${a.id} ${a.type}`, a.subject ? el("span", { class: "muted" }, ` ${a.subject}`) : null),
    el("td", {}, el("span", { class: "badge sev-" + a.severity }, a.severity)),
    el("td", {}, el("span", { class: "badge alarm-" + a.state }, a.state)),
    el("td", {}, chargerLink(a.charge_point_id)),
    el("td", {}, a.message),
    el("td", { class: "optional", title: when(a.raised_at) }, when(a.last_raised_at)),
    el("td", { class: "optional" }, String(a.count)),
    el("td", {}, el("button", { type: "button", "aria-label": `Details of alarm ${a.id}`, onclick: () => openDetail(a.id) }, "Details")),
  );
}

async function loadCounts() {
  const found = await allItems(api, "/api/v1/alarms", { state: "open" }, 20);
  if (!found.ok) return;
  const counts = { total: found.items.length };
  for (const s of SEVERITIES) counts[s] = 0;
  for (const a of found.items) counts[a.severity] = (counts[a.severity] || 0) + 1;
  for (const node of document.querySelectorAll("[data-severity-count]")) {
    node.textContent = counts[node.dataset.severityCount] ?? 0;
  }
}

async function loadPage() {
  rows.setAttribute("aria-busy", "true");
  try {
    const result = await api("/api/v1/alarms", { params: { ...filters(), limit: PAGE, cursor } });
    if (!result.ok) { notice(problem(result), "error"); return; }
    notice("");
    rows.replaceChildren(...result.data.items.map(row));
    if (!result.data.items.length) rows.append(el("tr", {}, el("td", { colspan: 8 }, "No alarm matches.")));
    nextCursor = result.data.next_cursor;
    nextButton.disabled = !nextCursor;
    firstButton.disabled = cursor === null;
  } finally {
    rows.removeAttribute("aria-busy");
  }
}

async function loadCleared() {
  const result = await api("/api/v1/alarms", { params: { state: "cleared", limit: 20 } });
  if (!result.ok) return;
  const body = document.getElementById("cleared-rows");
  body.replaceChildren(...result.data.items.map((a) =>
    el("tr", { dataset: { id: a.id } },
      el("th", { scope: "row" }, el("button", { type: "button", class: "link", onclick: () => openDetail(a.id) }, `#${a.id} ${a.type}`)),
      el("td", {}, el("span", { class: "badge sev-" + a.severity }, a.severity)),
      el("td", {}, chargerLink(a.charge_point_id)),
      el("td", {}, a.message),
      el("td", {}, when(a.cleared_at)),
      el("td", {}, a.cleared_by || "automatic"))));
  if (!result.data.items.length) body.append(el("tr", {}, el("td", { colspan: 6 }, "No alarm was cleared yet.")));
}

function fact(term, value) {
  return [el("dt", {}, term), el("dd", {}, value === null || value === undefined || value === "" ? "–" : value)];
}

function showDetail(a) {
  shown = a;
  detail.hidden = false;
  detail.dataset.id = a.id;
  detail.dataset.state = a.state;
  document.getElementById("h-alarm").textContent = `Alarm #${a.id}: ${a.type}`;
  document.getElementById("alarm-facts").replaceChildren(
    ...fact("Severity", el("span", { class: "badge sev-" + a.severity }, a.severity)),
    ...fact("State", el("span", { class: "badge alarm-" + a.state }, a.state)),
    ...fact("Charger", chargerLink(a.charge_point_id)),
    ...fact("Site", a.site_id),
    ...fact("Subject", a.subject),
    ...fact("Message", a.message),
    ...fact("Raised", `${when(a.raised_at)} (last ${when(a.last_raised_at)}, ${a.count}×)`),
    ...fact("Acknowledged", a.acknowledged_at ? `${when(a.acknowledged_at)} by ${a.acknowledged_by}` : null),
    ...fact("Cleared", a.cleared_at ? `${when(a.cleared_at)} ${a.cleared_by ? "by " + a.cleared_by : "(automatic)"}` : null),
    ...fact("Details", Object.keys(a.details || {}).length ? JSON.stringify(a.details) : null),
  );
  document.getElementById("alarm-history").replaceChildren(...a.history.map((h) =>
    el("tr", { dataset: { action: h.action } },
      el("td", {}, when(h.at)), el("td", {}, h.action), el("td", {}, h.state),
      el("td", { class: "by" }, h.by || "system"), el("td", { class: "note" }, h.note || "–"))));
  ackForm.hidden = a.state !== "raised";
  if (clearForm) clearForm.hidden = a.state === "cleared";
}

async function openDetail(id) {
  answer.textContent = "";
  const result = await api(`/api/v1/alarms/${id}`);
  if (!result.ok) { notice(problem(result), "error"); return; }
  ackForm.reset();
  if (clearForm) clearForm.reset();
  showDetail(result.data);
  detail.scrollIntoView({ block: "start" });
  document.getElementById("h-alarm").setAttribute("tabindex", "-1");
  document.getElementById("h-alarm").focus();
}

async function act(verb, note) {
  const result = await api(`/api/v1/alarms/${shown.id}/${verb}`, { method: "POST", json: { note } });
  if (!result.ok) {
    answer.className = "error";
    answer.textContent = problem(result);
    return;
  }
  answer.className = "";
  answer.textContent = verb === "ack" ? "Acknowledged." : "Cleared.";
  showDetail(result.data);
  due = true;
}

ackForm.addEventListener("submit", (event) => {
  event.preventDefault();
  act("ack", ackForm.elements.note.value);
});
if (clearForm) {
  clearForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!(await confirmAction(`Clear alarm #${shown.id} (${shown.type})? If its condition still holds it is raised again.`, "Clear alarm"))) return;
    act("clear", clearForm.elements.note.value);
  });
}
document.getElementById("alarm-close").addEventListener("click", () => { detail.hidden = true; shown = null; });

form.addEventListener("submit", (event) => {
  event.preventDefault();
  cursor = null;
  const query = new URLSearchParams(filters()).toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
  loadPage();
});
nextButton.addEventListener("click", () => { cursor = nextCursor; loadPage(); });
firstButton.addEventListener("click", () => { cursor = null; loadPage(); });

// start: filters from the URL, the page, counts, the cleared ones, then live updates
for (const [key, value] of new URLSearchParams(location.search)) {
  const field = form.elements[key];
  if (field) field.value = value;
}
await Promise.all([loadPage(), loadCounts(), loadCleared()]);

// an event may arrive a moment before its row is visible: read again a little later too
const SETTLE_MS = 1500;

function changed(event) {
  due = true;
  setTimeout(() => { due = true; }, SETTLE_MS);
  if (shown && event.data && Number(event.data.alarm_id) === shown.id && !detail.hidden) {
    api(`/api/v1/alarms/${shown.id}`).then((r) => { if (r.ok && shown && r.data.id === shown.id) showDetail(r.data); });
  }
}
liveEvents({ types: "alarm" }, { "alarm.raised": changed, "alarm.acknowledged": changed, "alarm.cleared": changed }, (state) => {
  liveLabel.textContent = "live: " + (state === "live" ? "on" : state);
  document.body.dataset.live = state;
});
// the list, counts and history follow the stream, redrawn at most twice a second
setInterval(() => {
  if (!due) return;
  due = false;
  loadPage(); loadCounts(); loadCleared();
}, 500);
root.dataset.ready = "yes";
