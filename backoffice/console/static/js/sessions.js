// Sessions: staff see every session (/api/v1/transactions), a driver their own
// (/api/v1/me/sessions) and their invoices (/api/v1/me/invoices).
import { api, el, notice, problem, when } from "./console.js";

const root = document.getElementById("sessions");
const mine = root.dataset.scope === "mine";
const form = document.getElementById("sessions-filter");
const rows = document.getElementById("session-rows");
const next = document.getElementById("sessions-next");
const first = document.getElementById("sessions-first");
let cursor = null;
let nextCursor = null;

export function money(amount, currency) {
  if (amount === null || amount === undefined) return "–";
  return `${amount} ${currency || ""}`.trim();
}

export function kwh(wh) {
  return wh === null || wh === undefined ? "–" : `${(Number(wh) / 1000).toFixed(3)} kWh`;
}

function invoiceLink(s) {
  const id = s.charge && s.charge.invoice_id;
  return id ? el("a", { href: `/api/v1/invoices/${id}/pdf` }, `invoice ${id}`) : "–";
}

function row(s) {
  return el("tr", { dataset: { session: s.id, active: String(s.active) } },
    el("th", { scope: "row" }, el("a", { href: "/sessions/" + s.id }, String(s.id))),
    el("td", {}, s.charge_point_id),
    el("td", {}, when(s.started_at)),
    el("td", {}, s.active ? "ongoing" : when(s.ended_at)),
    el("td", {}, kwh(s.energy_wh)),
    el("td", {}, money(s.cost_incl_vat, s.currency)),
    el("td", {}, mine ? invoiceLink(s) : s.id_token || "–"));
}

async function load() {
  const params = Object.fromEntries(new FormData(form));
  const result = await api(mine ? "/api/v1/me/sessions" : "/api/v1/transactions", { params: { ...params, limit: 50, cursor } });
  if (!result.ok) { notice(problem(result), "error"); return; }
  rows.replaceChildren(...result.data.items.map(row));
  if (!result.data.items.length) rows.append(el("tr", {}, el("td", { colspan: 7 }, "No session.")));
  nextCursor = result.data.next_cursor;
  next.disabled = !nextCursor;
  first.disabled = cursor === null;
}

async function loadInvoices() {
  const result = await api("/api/v1/me/invoices", { params: { limit: 50 } });
  const body = document.getElementById("invoice-rows");
  if (!result.ok) { body.replaceChildren(el("tr", {}, el("td", { colspan: 5 }, result.status === 404 ? "No billing account." : problem(result)))); return; }
  const items = result.data.items;
  body.replaceChildren(...(items.length ? items.map((i) => el("tr", {},
    el("th", { scope: "row" }, i.number), el("td", {}, when(i.issued_at)),
    el("td", {}, money(i.total_incl_vat, i.currency)), el("td", {}, i.paid ? "yes" : "no"),
    el("td", {}, el("a", { href: `/api/v1/invoices/${i.id}/pdf` }, "PDF")))) : [el("tr", {}, el("td", { colspan: 5 }, "No invoice yet."))]));
}

form.addEventListener("submit", (event) => { event.preventDefault(); cursor = null; load(); });
next.addEventListener("click", () => { cursor = nextCursor; load(); });
first.addEventListener("click", () => { cursor = null; load(); });
await Promise.all([load(), mine ? loadInvoices() : null]);
