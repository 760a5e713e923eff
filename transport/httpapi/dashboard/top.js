// engaged top items: a project's top renders and contents over a window
// (GET /v1/projects/:projectId/top), each linking to the item's dashboard.
// The key is kept as on the item dashboard (sessionStorage, this tab only,
// only ever in the Authorization header). The lists are read every two
// seconds: the server caches each answer for one second, so a page costs
// at most one query per list per second.
"use strict";

const KEY_ITEM = "engaged.secretKey";
const METRICS = {
  render: ["viewed", "downloaded", "printed", "email_opened", "email_sent", "share_created", "share_revoked"],
  content: ["plays", "impressions", "completions", "likes", "shares", "saves", "watchTime", "completionRate",
    "likesPerPlay", "sharesPerPlay", "savesPerPlay", "rebufferRatio", "total", "watchProgress", "loops",
    "swipesIn", "swipesOut", "rebuffers", "qualityChanges", "errors", "rebufferTime"],
};
const REFRESH_MS = 2000;
const $ = (sel) => document.querySelector(sel);
let timer = null;
let generation = 0; // a refresh started for older choices is ignored

function setStatus(kind, text) {
  $("#status").className = "status " + kind;
  $("#status-text").textContent = text;
}

function showMessage(text) {
  $("#message").textContent = text || "";
  $("#message").hidden = !text;
}

function keyUI() {
  const has = !!sessionStorage.getItem(KEY_ITEM);
  $("#key-field").hidden = has;
  $("#forget").hidden = !has;
}

function fillMetrics() {
  for (const kind of Object.keys(METRICS)) {
    const sel = $("#" + kind + "-metric");
    for (const m of METRICS[kind]) {
      const o = document.createElement("option");
      o.value = m;
      o.textContent = m;
      sel.appendChild(o);
    }
  }
}

function format(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}

function showList(kind, list) {
  const body = $("#top-" + kind);
  body.replaceChildren();
  if (list.items.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = document.createElement("td");
    td.colSpan = 3;
    td.textContent = "Nothing in this window.";
    tr.appendChild(td);
    body.appendChild(tr);
    return;
  }
  list.items.forEach((it, i) => {
    const tr = document.createElement("tr");
    const n = document.createElement("td");
    n.textContent = String(i + 1);
    const name = document.createElement("td");
    const a = document.createElement("a");
    a.href = "/dashboard?" + kind + "=" + encodeURIComponent(it.id); // the item's page
    a.textContent = it.id;
    name.appendChild(a);
    const v = document.createElement("td");
    v.className = "num";
    v.textContent = format(it.value);
    tr.append(n, name, v);
    body.appendChild(tr);
  });
}

async function fetchTop(project, kind, metric, window, key) {
  // Rates rank contents with at least the server's default of plays (10).
  const q = new URLSearchParams({ kind, metric, window, limit: "20" });
  const res = await fetch("/v1/projects/" + encodeURIComponent(project) + "/top?" + q, {
    headers: { Authorization: "Bearer " + key },
  });
  const body = await res.json();
  if (!res.ok) {
    const err = new Error(body.error ? body.error.message : "HTTP " + res.status);
    err.status = res.status;
    throw err;
  }
  return body;
}

async function refresh() {
  const gen = ++generation;
  const key = sessionStorage.getItem(KEY_ITEM);
  const project = $("#project").value.trim();
  const window = $("#window").value;
  if (!key || !project) return;
  try {
    const lists = await Promise.all(["render", "content"].map((kind) =>
      fetchTop(project, kind, $("#" + kind + "-metric").value, window, key)));
    if (gen !== generation) return;
    showList("render", lists[0]);
    showList("content", lists[1]);
    const asOf = lists.map((l) => l.asOf).filter(Boolean).sort()[0];
    $("#asof").textContent = asOf ? new Date(asOf).toLocaleTimeString() : "not yet";
    $("#lists").hidden = false;
    showMessage("");
    setStatus("live", "live");
  } catch (err) {
    if (gen !== generation) return;
    if (err.status === 401) {
      sessionStorage.removeItem(KEY_ITEM);
      keyUI();
    }
    showMessage(err.message);
    setStatus("error", "error");
  }
}

function start() {
  clearInterval(timer);
  const url = new URL(location.href);
  url.searchParams.set("project", $("#project").value.trim());
  url.searchParams.set("window", $("#window").value);
  history.replaceState(null, "", url);
  refresh();
  timer = setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  fillMetrics();
  const params = new URLSearchParams(location.search);
  if (params.get("project")) $("#project").value = params.get("project");
  if (params.get("window")) $("#window").value = params.get("window");
  keyUI();
  $("#watch").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const typed = $("#key").value.trim();
    if (typed) {
      sessionStorage.setItem(KEY_ITEM, typed);
      $("#key").value = "";
    }
    keyUI();
    if (!sessionStorage.getItem(KEY_ITEM)) {
      showMessage("A secret key is needed.");
      return;
    }
    start();
  });
  $("#forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_ITEM);
    clearInterval(timer);
    keyUI();
    setStatus("idle", "idle");
  });
  for (const id of ["#window", "#render-metric", "#content-metric"]) {
    $(id).addEventListener("change", () => { if (timer) start(); });
  }
  if (params.get("project") && sessionStorage.getItem(KEY_ITEM)) start();
});
