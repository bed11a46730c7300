// Users (admin only): a page at a time, create, change role/password/disabled, delete.
import { api, el, notice, problem, when } from "./console.js";
import { actionButton, clearErrors, confirmAction, editMode, formJson, showErrors } from "./forms.js";

const PAGE = 50;
const rows = document.getElementById("user-rows");
const form = document.getElementById("user-form");
const filter = document.getElementById("user-filter");
const nextButton = document.getElementById("user-next");
const firstButton = document.getElementById("user-first");
const disabledField = form.elements.disabled.closest(".field");
let cursor = null;
let nextCursor = null;
const shown = new Map();

function row(u) {
  return el("tr", { dataset: { id: u.id, username: u.username } },
    el("th", { scope: "row" }, u.username),
    el("td", {}, u.id),
    el("td", {}, u.role),
    el("td", {}, u.disabled ? el("span", { class: "badge user-disabled" }, "disabled") : "enabled"),
    el("td", { class: "optional" }, when(u.created_at)),
    el("td", {}, el("div", { class: "row-actions" },
      actionButton("Edit", () => edit(u.id), { "aria-label": `Edit user ${u.username}` }),
      actionButton("Delete", () => remove(u), { class: "danger", "aria-label": `Delete user ${u.username}` }))),
  );
}

async function loadPage() {
  rows.setAttribute("aria-busy", "true");  // until this page is shown
  try { await showPage(); } finally { rows.removeAttribute("aria-busy"); }
}

async function showPage() {
  const role = filter.elements.role.value;
  const result = await api("/api/v1/users", { params: { limit: PAGE, cursor, role } });
  if (!result.ok) { notice(problem(result), "error"); return; }
  shown.clear();
  for (const u of result.data.items) shown.set(u.id, u);
  rows.replaceChildren(...result.data.items.map(row));
  if (!result.data.items.length) rows.append(el("tr", {}, el("td", { colspan: 6 }, "No user matches.")));
  nextCursor = result.data.next_cursor;
  nextButton.disabled = !nextCursor;
  firstButton.disabled = cursor === null;
}

function startNew() {
  editMode(form, "username", "user", null);
  form.dataset.userId = "";
  disabledField.hidden = true;
  form.elements.password.autocomplete = "new-password";
}

function edit(id) {
  const u = shown.get(id);
  editMode(form, "username", "user", u);
  form.dataset.userId = String(u.id);
  disabledField.hidden = false;
}

async function remove(u) {
  if (!await confirmAction(`Delete user ${u.username}? Their tokens stop working and their id tokens become unbound.`, "Delete")) return;
  const result = await api(`/api/v1/users/${u.id}`, { method: "DELETE" });
  if (!result.ok) { notice(problem(result), "error"); return; }
  notice(`User ${u.username} deleted.`);
  await loadPage();
}

filter.addEventListener("submit", (event) => { event.preventDefault(); cursor = null; loadPage(); });
nextButton.addEventListener("click", () => { cursor = nextCursor; loadPage(); });
firstButton.addEventListener("click", () => { cursor = null; loadPage(); });
form.querySelector("[data-cancel-edit]").addEventListener("click", startNew);
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = formJson(form);
  const id = form.dataset.userId;
  let result;
  if (id) {
    delete body.username;
    result = await api(`/api/v1/users/${id}`, { method: "PATCH", json: body });
  } else {
    delete body.disabled;
    result = await api("/api/v1/users", { method: "POST", json: body });
  }
  if (!result.ok) { showErrors(form, result); return; }
  clearErrors(form);
  notice(`User ${result.data.username} ${id ? "saved" : "created"} (${result.data.role}).`);
  startNew();
  await loadPage();
});

startNew();
await loadPage();
