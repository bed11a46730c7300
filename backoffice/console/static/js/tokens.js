// Id tokens: a page at a time (or one found by its value), register, edit, delete.
import { api, el, notice, problem, when } from "./console.js";
import { actionButton, clearErrors, confirmAction, editMode, formJson, showErrors } from "./forms.js";

const PAGE = 50;
const rows = document.getElementById("token-rows");
const form = document.getElementById("token-form");
const find = document.getElementById("token-find");
const nextButton = document.getElementById("token-next");
const firstButton = document.getElementById("token-first");
const operator = Boolean(form);
let cursor = null;
let nextCursor = null;
const shown = new Map();

function row(t) {
  return el("tr", { dataset: { id: t.id_token } },
    el("th", { scope: "row" }, t.id_token),
    el("td", {}, el("span", { class: "badge token-" + t.status.toLowerCase() }, t.status)),
    el("td", { class: "optional" }, t.token_type),
    el("td", { class: "optional" }, t.expiry_date ? when(t.expiry_date) : "never"),
    el("td", { class: "optional" }, t.parent_id_token || "–"),
    el("td", {}, t.user_id === null ? "–" : `user ${t.user_id}`),
    el("td", { class: "optional" }, t.description || "–"),
    operator && el("td", {}, el("div", { class: "row-actions" },
      actionButton("Edit", () => editMode(form, "id_token", "id token", shown.get(t.id_token)), { "aria-label": `Edit id token ${t.id_token}` }),
      t.status === "Accepted"
        ? actionButton("Block", () => setStatus(t, "Blocked"), { "aria-label": `Block id token ${t.id_token}` })
        : actionButton("Accept", () => setStatus(t, "Accepted"), { "aria-label": `Accept id token ${t.id_token}` }),
      actionButton("Delete", () => remove(t), { class: "danger", "aria-label": `Delete id token ${t.id_token}` }))),
  );
}

function show(items) {
  shown.clear();
  for (const t of items) shown.set(t.id_token, t);
  rows.replaceChildren(...items.map(row));
  if (!items.length) rows.append(el("tr", {}, el("td", { colspan: 8 }, "No id token.")));
}

async function loadPage() {
  rows.setAttribute("aria-busy", "true");  // until this page is shown
  try { await showPage(); } finally { rows.removeAttribute("aria-busy"); }
}

async function showPage() {
  const result = await api("/api/v1/id-tokens", { params: { limit: PAGE, cursor } });
  if (!result.ok) { notice(problem(result), "error"); return; }
  show(result.data.items);
  nextCursor = result.data.next_cursor;
  nextButton.disabled = !nextCursor;
  firstButton.disabled = cursor === null;
}

async function findOne(value) {
  const result = await api(`/api/v1/id-tokens/${encodeURIComponent(value)}`);
  if (result.status === 404) { show([]); notice(`No id token ${value}.`); return; }
  if (!result.ok) { notice(problem(result), "error"); return; }
  notice("");
  show([result.data]);
  nextButton.disabled = true;
  firstButton.disabled = false;
}

async function setStatus(t, status) {
  if (status === "Blocked" && !await confirmAction(`Block id token ${t.id_token}? Chargers will refuse it.`, "Block")) return;
  const result = await api(`/api/v1/id-tokens/${encodeURIComponent(t.id_token)}`, { method: "PATCH", json: { status } });
  if (!result.ok) { notice(problem(result), "error"); return; }
  notice(`Id token ${t.id_token}: ${status}.`);
  await reload();
}

async function remove(t) {
  if (!await confirmAction(`Delete id token ${t.id_token}?`, "Delete")) return;
  const result = await api(`/api/v1/id-tokens/${encodeURIComponent(t.id_token)}`, { method: "DELETE" });
  if (!result.ok) { notice(problem(result), "error"); return; }
  notice(`Id token ${t.id_token} deleted.`);
  await reload();
}

function reload() {
  const value = find.elements.id_token.value.trim();
  return value ? findOne(value) : loadPage();
}

find.addEventListener("submit", (event) => { event.preventDefault(); cursor = null; reload(); });
document.getElementById("token-all").addEventListener("click", () => { find.reset(); cursor = null; notice(""); loadPage(); });
nextButton.addEventListener("click", () => { cursor = nextCursor; loadPage(); });
firstButton.addEventListener("click", () => { find.reset(); cursor = null; loadPage(); });

function startNew() {
  editMode(form, "id_token", "id token", null);
  form.elements.token_type.value = "ISO14443";
}

if (form) {
  startNew();
  form.querySelector("[data-cancel-edit]").addEventListener("click", startNew);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = formJson(form);
    const editing = form.dataset.editing;
    let result;
    if (editing) {
      delete body.id_token;
      result = await api(`/api/v1/id-tokens/${encodeURIComponent(editing)}`, { method: "PATCH", json: body });
    } else {
      result = await api("/api/v1/id-tokens", { method: "POST", json: body });
    }
    if (!result.ok) { showErrors(form, result); return; }
    clearErrors(form);
    notice(`Id token ${result.data.id_token} ${editing ? "saved" : "registered"}.`);
    startNew();
    find.elements.id_token.value = result.data.id_token;
    await findOne(result.data.id_token);
  });
}

await loadPage();
