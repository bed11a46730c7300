// Firmware campaigns: a page of them, newest id last (the API's order), by status.
import { api, el, notice, problem, when } from "./console.js";

const PAGE = 50;
const rows = document.getElementById("campaign-rows");
const filter = document.getElementById("campaign-filter");
const nextButton = document.getElementById("campaign-next");
const firstButton = document.getElementById("campaign-first");
let cursor = null;
let nextCursor = null;

function targetText(target) {
  return Object.entries(target || {}).map(([key, value]) =>
    Array.isArray(value) ? `${key}: ${value.length}` : `${key}: ${value}`).join(", ") || "every charger";
}

function row(c) {
  return el("tr", { dataset: { id: c.id, status: c.status } },
    el("th", { scope: "row" }, el("a", { href: `/firmware/${c.id}` }, `#${c.id}${c.name ? " " + c.name : ""}`)),
    el("td", {}, el("span", { class: "badge status-" + c.status }, c.status)),
    el("td", {}, c.target_version),
    el("td", { class: "optional" }, targetText(c.target)),
    el("td", { class: "optional" }, [c.canary ? `canary ${c.canary}` : null, ...c.waves].filter(Boolean).join(" → ")),
    el("td", { class: "optional" }, when(c.created_at)),
  );
}

async function loadPage() {
  rows.setAttribute("aria-busy", "true");  // until this page is shown
  try { await showPage(); } finally { rows.removeAttribute("aria-busy"); }
}

async function showPage() {
  const status = filter.elements.status.value;
  const result = await api("/api/v1/firmware/campaigns", { params: { limit: PAGE, cursor, status } });
  if (!result.ok) { notice(problem(result), "error"); return; }
  rows.replaceChildren(...result.data.items.map(row));
  if (!result.data.items.length) rows.append(el("tr", {}, el("td", { colspan: 6 }, "No campaign matches.")));
  nextCursor = result.data.next_cursor;
  nextButton.disabled = !nextCursor;
  firstButton.disabled = cursor === null;
}

filter.addEventListener("submit", (event) => { event.preventDefault(); cursor = null; loadPage(); });
nextButton.addEventListener("click", () => { cursor = nextCursor; loadPage(); });
firstButton.addEventListener("click", () => { cursor = null; loadPage(); });
await loadPage();
