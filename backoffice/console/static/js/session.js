// One session: facts, cost breakdown, invoice link, meter chart (live while it charges).
import { MeterChart } from "./chart.js";
import { api, el, liveEvents, when } from "./console.js";

const root = document.getElementById("session");
const pk = root.dataset.transactionPk;
const mine = root.dataset.scope === "mine";
const chart = new MeterChart(document.getElementById("session-chart"));
let session = null;

const kwh = (wh) => (wh === null || wh === undefined ? "–" : `${(Number(wh) / 1000).toFixed(3)} kWh`);
const fact = (term, value) => [el("dt", {}, term), el("dd", {}, value === null || value === undefined || value === "" ? "–" : String(value))];

async function load() {
  const result = await api("/api/v1/transactions/" + pk);
  const body = document.getElementById("session-body");
  if (!result.ok) {
    // another driver's session answers 404 exactly like one that does not exist
    root.dataset.outcome = String(result.status);
    body.hidden = true;
    root.append(el("p", { class: "error", role: "alert" }, result.status === 404 ? "Session not found." : `Cannot show this session (${result.status}).`));
    return false;
  }
  session = result.data;
  root.dataset.outcome = "200";
  body.hidden = false;
  const s = session;
  document.getElementById("facts").replaceChildren(
    ...fact("Charger", s.charge_point_id),
    ...fact("EVSE / connector", `${s.evse_id}/${s.connector_id}`),
    ...fact("Transaction id", s.transaction_id),
    ...fact("Id token", s.id_token),
    ...fact("Started", when(s.started_at)),
    ...fact("Ended", s.active ? "ongoing" : when(s.ended_at)),
    ...fact("Energy", kwh(s.energy_wh)),
    ...fact("Stop reason", s.stop_reason),
  );
  chart.update(s.meter_values);
  return true;
}

async function loadCost() {
  const result = await api(`/api/v1/transactions/${pk}/cost`);
  if (!result.ok) return;
  const c = result.data;
  document.getElementById("cost-totals").replaceChildren(
    ...fact("Tariff", c.tariff_id ? `${c.tariff_id} v${c.tariff_version}` : "none"),
    ...fact("Excl. VAT", c.total_excl_vat === null ? null : `${c.total_excl_vat} ${c.currency}`),
    ...fact("VAT", c.total_vat === null ? null : `${c.total_vat} ${c.currency}`),
    ...fact("Total", c.total_incl_vat === null ? null : `${c.total_incl_vat} ${c.currency}`),
    ...fact("Final", c.final ? "yes" : !c.tariff_id ? "no tariff applies" : session && !session.active ? "being settled" : "running"),
  );
  document.getElementById("cost-lines").replaceChildren(...c.lines.map((l) => el("tr", {},
    el("th", { scope: "row" }, l.dimension), el("td", {}, l.billed_volume), el("td", {}, l.unit_price),
    el("td", {}, l.vat_rate === null ? "–" : l.vat_rate), el("td", {}, l.excl_vat), el("td", {}, l.vat))));
}

async function loadStaffInvoice() {
  // staff: the invoice that bills this session's charge (GET /api/v1/invoices?transaction_pk=)
  const result = await api("/api/v1/invoices", { params: { transaction_pk: pk, limit: 1 } });
  const target = document.getElementById("invoice");
  if (!result.ok) { target.replaceChildren("Invoice not available."); return; }
  const [invoice] = result.data.items;
  target.replaceChildren(invoice ? el("a", { href: `/api/v1/invoices/${invoice.id}/pdf` }, `Invoice ${invoice.number} (PDF)`) : "Not invoiced yet.");
}

async function loadInvoice() {
  if (!session) return;
  if (!mine) { await loadStaffInvoice(); return; }
  // the driver's view of this session carries its charge and invoice
  const since = session.started_at;
  const until = new Date(new Date(session.started_at).getTime() + 1000).toISOString();
  const result = await api("/api/v1/me/sessions", { params: { charge_point_id: session.charge_point_id, since, until, limit: 10 } });
  if (!result.ok) return;
  const mineRow = result.data.items.find((x) => String(x.id) === String(pk));
  const id = mineRow && mineRow.charge && mineRow.charge.invoice_id;
  document.getElementById("invoice").replaceChildren(id ? el("a", { href: `/api/v1/invoices/${id}/pdf` }, "Invoice (PDF)") : "Not invoiced yet.");
}

if (await load()) {
  await Promise.all([loadCost(), loadInvoice()]);
  if (session.active) {
    let due = false;
    liveEvents({ charge_point_id: session.charge_point_id, types: "transaction" }, {
      "transaction.updated": () => { due = true; },
      "transaction.ended": () => { due = true; },
      "transaction.cost": () => { due = true; },
    });
    setInterval(async () => { if (due) { due = false; await load(); await loadCost(); } }, 500);
  }
}
