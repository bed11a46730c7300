// Sites: the list, create, edit (PATCH of the fields shown), delete with confirmation.
import { api, el, notice, problem } from "./console.js";
import { actionButton, allItems, clearErrors, confirmAction, editMode, formJson, showErrors } from "./forms.js";

const rows = document.getElementById("site-rows");
const form = document.getElementById("site-form");
const operator = Boolean(form);
let sites = new Map();

function row(s) {
  const address = [s.address, s.postal_code, s.city, s.country].filter(Boolean).join(", ");
  const coordinates = s.latitude !== null && s.longitude !== null ? `${s.latitude}, ${s.longitude}` : "–";
  return el("tr", { dataset: { id: s.id } },
    el("th", { scope: "row" }, s.id),
    el("td", {}, s.name),
    el("td", { class: "optional" }, s.time_zone),
    el("td", { class: "optional" }, address || "–"),
    el("td", {}, coordinates),
    operator && el("td", {}, el("div", { class: "row-actions" },
      actionButton("Edit", () => editMode(form, "id", "site", sites.get(s.id)), { "aria-label": `Edit site ${s.id}` }),
      actionButton("Delete", () => remove(s), { class: "danger", "aria-label": `Delete site ${s.id}` }))),
  );
}

async function load() {
  const { ok, result, items } = await allItems(api, "/api/v1/sites");
  if (!ok) { notice(problem(result), "error"); return; }
  sites = new Map(items.map((s) => [s.id, s]));
  rows.replaceChildren(...items.map(row));
  if (!items.length) rows.append(el("tr", {}, el("td", { colspan: 6 }, "No site yet.")));
}

async function remove(s) {
  if (!await confirmAction(`Delete site ${s.id} (${s.name})? Its chargers are then at no site and its tariff assignment is removed.`, "Delete")) return;
  const result = await api(`/api/v1/sites/${encodeURIComponent(s.id)}`, { method: "DELETE" });
  if (!result.ok) { notice(problem(result), "error"); return; }
  notice(`Site ${s.id} deleted.`);
  await load();
}

if (form) {
  editMode(form, "id", "site", null);
  form.querySelector("[data-cancel-edit]").addEventListener("click", () => editMode(form, "id", "site", null));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = formJson(form);
    const editing = form.dataset.editing;
    let result;
    if (editing) {
      delete body.id;
      result = await api(`/api/v1/sites/${encodeURIComponent(editing)}`, { method: "PATCH", json: body });
    } else {
      result = await api("/api/v1/sites", { method: "POST", json: body });
    }
    if (!result.ok) { showErrors(form, result); return; }
    clearErrors(form);
    notice(`Site ${result.data.id} ${editing ? "saved" : "created"}.`);
    editMode(form, "id", "site", null);
    await load();
  });
}

await load();
