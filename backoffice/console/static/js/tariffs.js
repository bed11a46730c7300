// Tariffs: the list, create and edit (the API's 422 details next to the fields), publish,
// delete; and the assignments (where each tariff applies).
import { api, el, notice, problem } from "./console.js";
import { actionButton, allItems, clearErrors, confirmAction, editMode, FieldError, formJson, showErrors } from "./forms.js";

const EXAMPLE = {
  currency: "EUR",
  elements: [{ price_components: [{ type: "ENERGY", price: "0.30", vat: "21", step_size: 1 }] }],
};
const rows = document.getElementById("tariff-rows");
const form = document.getElementById("tariff-form");
const assignRows = document.getElementById("assignment-rows");
const assignForm = document.getElementById("assign-form");
const operator = Boolean(form);

function versionCell(number, status) {
  return number === null ? "–" : el("span", { class: "badge status-" + status }, `v${number}`);
}

function row(t) {
  const cells = [
    el("th", { scope: "row" }, t.id),
    el("td", {}, t.description || "–"),
    el("td", {}, versionCell(t.published_version, "published")),
    el("td", {}, versionCell(t.draft_version, "draft")),
  ];
  if (operator) {
    cells.push(el("td", {}, el("div", { class: "row-actions" },
      actionButton("Edit", () => edit(t.id), { "aria-label": `Edit tariff ${t.id}` }),
      t.draft_version !== null && actionButton("Publish", () => publish(t.id), { "aria-label": `Publish the draft of tariff ${t.id}` }),
      actionButton("Delete", () => remove(t.id), { class: "danger", "aria-label": `Delete tariff ${t.id}` }),
    )));
  }
  return el("tr", { dataset: { id: t.id } }, cells);
}

async function load() {
  const { ok, result, items } = await allItems(api, "/api/v1/tariffs");
  if (!ok) { notice(problem(result), "error"); return; }
  rows.replaceChildren(...items.map(row));
  if (!items.length) rows.append(el("tr", {}, el("td", { colspan: 5 }, "No tariff yet.")));
  const select = document.getElementById("assign-tariff_id");
  if (select) {
    const published = items.filter((t) => t.published_version !== null);
    select.replaceChildren(...published.map((t) => el("option", { value: t.id }, t.id)));
    if (!published.length) select.append(el("option", { value: "" }, "no published tariff"));
  }
}

async function edit(id) {
  const result = await api(`/api/v1/tariffs/${encodeURIComponent(id)}`);
  if (!result.ok) { notice(problem(result), "error"); return; }
  const t = result.data;
  const current = t.draft || t.published;
  editMode(form, "id", "tariff", { id: t.id, description: t.description, definition: current ? current.definition : EXAMPLE });
}

async function publish(id) {
  const result = await api(`/api/v1/tariffs/${encodeURIComponent(id)}/publish`, { method: "POST" });
  if (!result.ok) { notice(problem(result), "error"); return; }
  notice(`Tariff ${id} version ${result.data.version} published: ${result.data.display_text}`);
  await load();
}

async function remove(id) {
  if (!await confirmAction(`Delete tariff ${id}, its versions and assignments?`, "Delete")) return;
  const result = await api(`/api/v1/tariffs/${encodeURIComponent(id)}`, { method: "DELETE" });
  if (!result.ok) { notice(problem(result), "error"); return; }
  notice(`Tariff ${id} deleted.`);
  await Promise.all([load(), loadAssignments()]);
}

function startNew() {
  editMode(form, "id", "tariff", null);
  form.elements.definition.value = JSON.stringify(EXAMPLE, null, 2);
}

if (form) {
  startNew();
  form.querySelector("[data-cancel-edit]").addEventListener("click", startNew);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let body;
    try { body = formJson(form); } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      showErrors(form, { status: 422, data: { errors: [{ loc: ["body", error.field], msg: error.message }] } });
      return;
    }
    const editing = form.dataset.editing;
    const result = editing
      ? await api(`/api/v1/tariffs/${encodeURIComponent(editing)}`, { method: "PUT", json: { description: body.description || "", definition: body.definition } })
      : await api("/api/v1/tariffs", { method: "POST", json: body });
    if (!result.ok) { showErrors(form, result); return; }
    clearErrors(form);
    notice(`Tariff ${result.data.tariff_id}: draft version ${result.data.version} saved (${result.data.display_text}). Publish it to apply it.`);
    startNew();
    await load();
  });
}

// -- assignments
async function loadAssignments() {
  const { ok, result, items } = await allItems(api, "/api/v1/tariff-assignments");
  if (!ok) { notice(problem(result), "error"); return; }
  assignRows.replaceChildren(...items.map((a) => el("tr", { dataset: { scope: a.scope, target: a.target } },
    el("td", {}, a.scope), el("td", {}, a.target || "–"), el("td", {}, a.tariff_id),
    el("td", { class: "optional" }, a.created_by || "–"),
    operator && el("td", {}, actionButton("Unassign", () => unassign(a), { class: "danger", "aria-label": `Unassign the ${a.scope} tariff ${a.target}` })),
  )));
  if (!items.length) assignRows.append(el("tr", {}, el("td", { colspan: 5 }, "No tariff is assigned.")));
}

async function unassign(a) {
  const where = a.scope === "default" ? "the default tariff" : `the tariff of ${a.scope} ${a.target}`;
  if (!await confirmAction(`Remove ${where}?`, "Unassign")) return;
  const path = a.scope === "default" ? "/api/v1/tariff-assignments/default"
    : `/api/v1/tariff-assignments/${encodeURIComponent(a.scope)}/${encodeURIComponent(a.target)}`;
  const result = await api(path, { method: "DELETE" });
  if (!result.ok) { notice(problem(result), "error"); return; }
  await loadAssignments();
}

if (assignForm) {
  assignForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = formJson(assignForm);
    const result = await api("/api/v1/tariff-assignments", { method: "PUT", json: body });
    if (!result.ok) { showErrors(assignForm, result); return; }
    clearErrors(assignForm);
    notice(`Tariff ${result.data.tariff_id} assigned (${result.data.scope} ${result.data.target}).`);
    await loadAssignments();
  });
}

await Promise.all([load(), loadAssignments()]);
