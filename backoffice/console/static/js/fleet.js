// Fleet: a page of chargers filtered on the server, counts, live row updates, site map.
import { ago, api, el, liveEvents, notice, problem, when } from "./console.js";

const PAGE = 50;
const rows = document.getElementById("fleet-rows");
const form = document.getElementById("fleet-filter");
const nextButton = document.getElementById("fleet-next");
const firstButton = document.getElementById("fleet-first");
const liveLabel = document.getElementById("fleet-live");
let cursor = null;      // this page's cursor (null: first page)
let nextCursor = null;
const dirty = new Set();
let reloadPage = false;
let countsDue = false;

function filters() {
  const data = Object.fromEntries(new FormData(form));
  for (const key of Object.keys(data)) if (!data[key]) delete data[key];
  return data;
}

function connectorBadge(c) {
  const status = String(c.status);
  const label = `${c.evse_id}/${c.connector_id} ${status}`;
  return el("span", {
    class: "conn conn-" + status.toLowerCase(),
    title: c.error_code && c.error_code !== "NoError" ? `${label} (${c.error_code})` : label,
    dataset: { connector: `${c.evse_id}/${c.connector_id}`, status },
  }, label);
}

function row(c) {
  return el("tr", { id: "cp-" + c.charge_point_id, dataset: { state: c.state, id: c.charge_point_id } },
    el("th", { scope: "row" }, el("a", { href: "/chargers/" + encodeURIComponent(c.charge_point_id) }, c.charge_point_id)),
    el("td", {}, el("span", { class: "badge state-" + c.state }, c.state)),
    el("td", { class: "connectors" }, c.connectors.length ? c.connectors.filter((x) => x.connector_id > 0 || c.connectors.length === 1).map(connectorBadge) : "–"),
    el("td", {}, [c.vendor, c.model].filter(Boolean).join(" ") || "–"),
    el("td", {}, c.firmware_version || "–"),
    el("td", {}, c.connected_node || "–"),
    el("td", { title: when(c.last_heartbeat_at) }, ago(c.last_heartbeat_at)),
    el("td", {}, c.site_id || "–"),
  );
}

async function loadCounts() {
  const { site_id, model, q } = filters();
  const result = await api("/api/v1/fleet/summary", { params: { site_id, model, q } });
  if (!result.ok) return;
  for (const node of document.querySelectorAll("[data-count]")) {
    node.textContent = result.data[node.dataset.count];
  }
}

async function loadPage() {
  const result = await api("/api/v1/fleet", { params: { ...filters(), limit: PAGE, cursor } });
  if (!result.ok) { notice(problem(result), "error"); return; }
  notice("");
  rows.replaceChildren(...result.data.items.map(row));
  if (!result.data.items.length) {
    rows.append(el("tr", {}, el("td", { colspan: 8 }, "No charger matches.")));
  }
  nextCursor = result.data.next_cursor;
  nextButton.disabled = !nextCursor;
  firstButton.disabled = cursor === null;
}

async function refreshRows() {
  if (reloadPage) {
    reloadPage = false;
    dirty.clear();
    await loadPage();
    return;
  }
  if (!dirty.size) return;
  const ids = [...dirty].slice(0, 100);
  for (const id of ids) dirty.delete(id);
  const result = await api("/api/v1/fleet", { params: { ...filters(), charge_point_id: ids, limit: ids.length } });
  if (!result.ok) return;
  const found = new Map(result.data.items.map((c) => [c.charge_point_id, c]));
  for (const id of ids) {
    const current = document.getElementById("cp-" + id);
    if (!current) continue;
    const fresh = found.get(id);
    if (!fresh) { current.remove(); continue; }  // no longer matches the filter
    const replacement = row(fresh);
    replacement.classList.add("changed");
    current.replaceWith(replacement);
  }
}

// An event may arrive before its write is visible in PostgreSQL (batched): each changed row
// is read again now and once more a moment later.
const SETTLE_MS = 1500;

function mark(id) {
  if (document.getElementById("cp-" + id)) dirty.add(id);
  else if (cursor === null && rows.querySelectorAll("tr[data-id]").length < PAGE) reloadPage = true;
  countsDue = true;
}

function changed(event) {
  const id = event.charge_point_id;
  mark(id);
  setTimeout(() => mark(id), SETTLE_MS);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  cursor = null;
  const query = new URLSearchParams(filters()).toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
  loadPage();
  loadCounts();
});
nextButton.addEventListener("click", () => { cursor = nextCursor; loadPage(); });
firstButton.addEventListener("click", () => { cursor = null; loadPage(); });

// -- site map: markers on a plain background, tiles only if CSMS_CONSOLE_TILE_URL is set
const COLOURS = { faulted: "#b3261e", offline: "#5f6368", charging: "#0b57d0", available: "#12703a", empty: "#8a5a00" };

function siteState(counts) {
  if (!counts.total) return "empty";
  if (counts.faulted) return "faulted";
  if (counts.offline === counts.total) return "offline";
  if (counts.charging) return "charging";
  return "available";
}

async function loadSites() {
  const sites = [];
  let page = null;
  for (let i = 0; i < 20; i++) {
    const result = await api("/api/v1/fleet/sites", { params: { limit: 200, cursor: page } });
    if (!result.ok) break;
    sites.push(...result.data.items);
    page = result.data.next_cursor;
    if (!page) break;
  }
  const select = document.getElementById("f-site");
  const list = document.getElementById("site-list");
  const wanted = new URLSearchParams(location.search).get("site_id");
  list.replaceChildren();
  for (const site of sites) {
    const known = [...select.options].find((o) => o.value === site.site_id);
    if (known) known.textContent = site.name;
    else select.append(el("option", { value: site.site_id, selected: site.site_id === wanted }, site.name));
    const c = site.counts;
    list.append(el("li", { dataset: { site: site.site_id, state: siteState(c) } },
      el("strong", {}, site.name), ` (${site.site_id}): ${c.total} chargers, ${c.online} online, ${c.charging} charging, ${c.faulted} faulted, ${c.offline} offline`));
  }
  drawMap(sites.filter((s) => s.latitude !== null && s.longitude !== null));
}

let map = null;
let markers = null;

function drawMap(sites) {
  const box = document.getElementById("site-map");
  if (!window.L || !sites.length) {
    if (!map) box.replaceChildren(el("p", { class: "live" }, sites.length ? "The map library did not load." : "No site has coordinates."));
    return;
  }
  const first = map === null;
  if (first) {
    map = L.map(box, { attributionControl: false, worldCopyJump: true });
    const tiles = document.body.dataset.tileUrl;
    if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
    markers = L.layerGroup().addTo(map);
  }
  markers.clearLayers();
  const points = [];
  for (const site of sites) {
    const point = [Number(site.latitude), Number(site.longitude)];
    points.push(point);
    const state = siteState(site.counts);
    const c = site.counts;
    L.circleMarker(point, { radius: 9, color: "#1b1f24", weight: 1, fillColor: COLOURS[state], fillOpacity: 0.9 })
      .bindTooltip(`${site.name}: ${c.total} chargers, ${c.charging} charging, ${c.faulted} faulted, ${c.offline} offline`)
      .on("click", () => { document.getElementById("f-site").value = site.site_id; form.requestSubmit(); })
      .addTo(markers);
  }
  if (first) map.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 13 });
}

// start: filters from the URL, the page, counts, sites, then live updates
for (const [key, value] of new URLSearchParams(location.search)) {
  const field = form.elements[key];
  if (!field) continue;
  if (field.tagName === "SELECT" && ![...field.options].some((o) => o.value === value)) {
    field.append(el("option", { value }, value));
  }
  field.value = value;
}
await Promise.all([loadPage(), loadCounts(), loadSites()]);
const handlers = {};
for (const type of ["charger.status", "charger.connected", "charger.disconnected", "transaction.started", "transaction.ended"]) {
  handlers[type] = changed;
}
liveEvents({ types: "charger,transaction.started,transaction.ended" }, handlers, (state) => {
  liveLabel.textContent = "live: " + (state === "live" ? "on" : state);
  document.body.dataset.live = state;
});
setInterval(() => { refreshRows(); }, 400);
// counts and the map's markers follow at most every 2 seconds
setInterval(() => { if (countsDue) { countsDue = false; loadCounts(); loadSites(); } }, 2000);
