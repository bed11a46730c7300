// Forms of the management pages: read a form into the API's JSON, show the API's 422 error
// details next to the fields they name, confirm dangerous actions in a <dialog>.
import { el, problem } from "./console.js";

// The form's fields as JSON. data-type on a field: "number", "decimal" (sent as a string),
// "bool" (a checkbox), "json", "datetime" (datetime-local to ISO 8601 with offset).
// An empty field is left out, sent as null with data-null or as "" with data-empty (to clear it).
export function formJson(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.disabled || field.type === "submit" || field.type === "button") continue;
    const type = field.dataset.type || "text";
    if (type === "bool") { body[field.name] = field.checked; continue; }
    const raw = field.value.trim();
    if (raw === "") {
      if ("null" in field.dataset) body[field.name] = null;
      else if ("empty" in field.dataset) body[field.name] = "";
      continue;
    }
    if (type === "number") body[field.name] = Number(raw);
    else if (type === "json") {
      try { body[field.name] = JSON.parse(raw); } catch (error) {
        throw new FieldError(field.name, "not valid JSON: " + error.message);
      }
    } else if (type === "datetime") body[field.name] = new Date(raw).toISOString();
    else body[field.name] = raw;
  }
  return body;
}

export class FieldError extends Error {
  constructor(field, message) { super(message); this.field = field; }
}

function errorBox(form, name) {
  return form.querySelector(`[data-error-for="${name}"]`);
}

export function clearErrors(form) {
  for (const box of form.querySelectorAll("[data-error-for]")) { box.textContent = ""; box.hidden = true; }
  for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
}

function mark(form, name, message) {
  if (/^\d+$/.test(name)) return false;  // a list index names no field
  const field = form.elements[name];
  const box = errorBox(form, name);
  if (!field || !box || field instanceof RadioNodeList) return false;
  box.textContent = box.textContent ? box.textContent + "; " + message : message;
  box.hidden = false;
  field.setAttribute("aria-invalid", "true");
  return field;
}

// Put each error of an API answer next to its field: the validation errors' loc
// (["body", "id", ...]), or the detail's "field: message" / "path.in.field: message"
// (a service's InvalidInput). What names no field of the form goes to the form's own box,
// or to the field named by data-fallback-field (e.g. a JSON definition's path).
export function showErrors(form, result) {
  clearErrors(form);
  const data = result.data || {};
  const marked = [];
  // path: ["id"], ["definition", "elements", "0"] or ["elements[0].price"] (a detail's path)
  const place = (path, message) => {
    const [head, ...rest] = path;
    const full = path.join(".");
    let field = head !== undefined && mark(form, head, rest.length ? `${rest.join(".")}: ${message}` : message);
    if (!field && form.dataset.fallbackField) {
      field = mark(form, form.dataset.fallbackField, full ? `${full}: ${message}` : message);
    }
    if (field) marked.push(field);
    return Boolean(field);
  };
  let placed = false;
  if (Array.isArray(data.errors) && data.errors.length) {
    for (const error of data.errors) {
      const loc = (error.loc || []).filter((part) => part !== "body");
      placed = place(loc, error.msg || "invalid") || placed;
    }
  } else if (result.status === 422 && typeof data.detail === "string") {
    const match = /^([A-Za-z_][\w.\[\]]*): (.*)$/s.exec(data.detail);
    if (match) {
      const head = match[1].split(/[.[]/)[0];
      placed = form.elements[head] ? place([head, ...rest(match[1], head)], match[2]) : place([match[1]], match[2]);
    }
  }
  const general = errorBox(form, "");
  if (general && !placed) { general.textContent = problem(result); general.hidden = false; }
  if (marked.length) marked[0].focus();
  else if (general) general.focus();
}

function rest(path, head) {
  const tail = path.slice(head.length).replace(/^\./, "");
  return tail ? [tail] : [];
}

// Ask before something that cannot be undone; resolves true when confirmed.
export function confirmAction(text, action = "Confirm") {
  return new Promise((resolve) => {
    const yes = el("button", { type: "button", class: "danger" }, action);
    const no = el("button", { type: "button" }, "Cancel");
    const dialog = el("dialog", { "aria-labelledby": "confirm-text", class: "confirm" },
      el("p", { id: "confirm-text" }, text), el("p", { class: "actions" }, yes, " ", no));
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    yes.addEventListener("click", () => done(true));
    no.addEventListener("click", () => done(false));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();  // the safe answer is the default
  });
}

// Every item of a paged list (the API's cursor pages).
export async function allItems(api, path, params = {}, max = 50) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < max; i++) {
    const result = await api(path, { params: { ...params, limit: 200, cursor } });
    if (!result.ok) return { ok: false, result, items };
    items.push(...result.data.items);
    cursor = result.data.next_cursor;
    if (!cursor) break;
  }
  return { ok: true, items };
}

// Switch a form between "create" and "edit ITEM" (its key field read-only while editing).
export function editMode(form, key, title, item) {
  const heading = document.getElementById(form.getAttribute("aria-labelledby"));
  clearErrors(form);
  form.reset();
  form.dataset.editing = item ? item[key] : "";
  if (form.elements[key]) form.elements[key].readOnly = Boolean(item);
  if (heading) heading.textContent = item ? `Edit ${title} ${item[key]}` : `New ${title}`;
  const cancel = form.querySelector("[data-cancel-edit]");
  if (cancel) cancel.hidden = !item;
  const submit = form.querySelector("[type=submit]");
  if (submit) submit.textContent = item ? "Save" : "Create";
  if (!item) return;
  for (const field of form.elements) {
    if (!field.name || !(field.name in item)) continue;
    const value = item[field.name];
    if (field.dataset.type === "bool") field.checked = Boolean(value);
    else if (field.dataset.type === "json") field.value = JSON.stringify(value, null, 2);
    else if (field.dataset.type === "datetime") field.value = value ? localInput(value) : "";
    else field.value = value === null || value === undefined ? "" : String(value);
  }
  form.scrollIntoView({ block: "start" });
  const first = [...form.elements].find((f) => f.name && !f.readOnly && f.type !== "hidden");
  if (first) first.focus();
}

function localInput(iso) {
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function actionButton(label, handler, attrs = {}) {
  return el("button", { type: "button", ...attrs, onclick: handler }, label);
}
