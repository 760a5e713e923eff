// engaged live dashboard. No build step, no dependencies.
//
// The key is asked for once and kept in sessionStorage: it lives as long as
// this tab, is never put in a URL, and goes only into the Authorization
// header of same-origin requests. EventSource cannot send that header, so the
// stream is read with fetch() and parsed here (text/event-stream framing).
"use strict";

const KEY_ITEM = "engaged.secretKey";
const COUNTERS = ["viewed", "downloaded", "printed", "email_opened", "email_sent", "share_created", "share_revoked"];
// The two kinds of item a page can watch: a render (?render=<id>) or an SDK
// content item (?content=<id>).
const KINDS = {
  render: { path: "renders", label: "Render id", placeholder: "0197…-…" },
  content: { path: "contents", label: "Content id", placeholder: "cnt_…" },
};
const $ = (sel) => document.querySelector(sel);

// Series metrics of each kind (GET /v1/{renders,contents}/:id/series) and the
// one charted first.
const METRICS = {
  render: ["viewed", "downloaded", "printed", "email_opened", "email_sent", "share_created", "share_revoked", "viewers"],
  content: ["total", "impressions", "plays", "watchProgress", "completions", "loops", "likes", "shares", "saves",
    "swipesIn", "swipesOut", "rebuffers", "qualityChanges", "errors", "watchTime", "rebufferTime", "users", "sessions"],
};
const FIRST_METRIC = { render: "viewed", content: "plays" };
const MINUTE = 60e3, HOUR = 3600e3;

let current = null; // AbortController of the running stream

function setStatus(kind, text) {
  const el = $("#status");
  el.className = "status " + kind;
  $("#status-text").textContent = text;
}

function showMessage(text) {
  const el = $("#message");
  el.textContent = text || "";
  el.hidden = !text;
}

function keyUI() {
  const has = !!sessionStorage.getItem(KEY_ITEM);
  $("#key-field").hidden = has;
  $("#forget").hidden = !has;
}

function setValue(name, value) {
  setText(document.querySelector(`[data-counter="${name}"]`), String(value));
}

function setFigure(name, text) {
  setText(document.querySelector(`[data-figure="${name}"]`), text);
}

// setText shows a figure and highlights its card when it changed.
function setText(el, text) {
  const before = el.textContent;
  const first = !el.dataset.shown; // first figures: nothing changed yet
  el.dataset.shown = "1";
  if (before === text) return;
  el.textContent = text;
  if (first) return;
  const card = el.closest(".card");
  card.classList.remove("changed");
  void card.offsetWidth; // restart the highlight
  card.classList.add("changed");
  setTimeout(() => card.classList.remove("changed"), 60);
}

function cell(text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text;
  return td;
}

let seen = new Set();

// render shows a render summary (GET /v1/renders/:id/engagement plus seq).
function render(sum) {
  setValue("total", sum.total);
  setValue("linkOpens", sum.linkOpens);
  for (const c of COUNTERS) setValue(c, sum.counts[c]);
  $("#seq").textContent = sum.seq;
  $("#updated").textContent = new Date().toLocaleTimeString();

  const body = $("#recent");
  body.replaceChildren();
  if (!sum.recent.length) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    tr.appendChild(cell("No events yet.")).colSpan = 6;
    body.appendChild(tr);
  }
  const next = new Set();
  for (const ev of sum.recent) {
    const tr = document.createElement("tr");
    if (seen.size && !seen.has(ev.id)) tr.className = "new";
    next.add(ev.id);
    const when = new Date(ev.createdAt);
    tr.appendChild(cell(when.toLocaleString(), "mono"));
    const type = cell("");
    const pill = document.createElement("span");
    pill.className = "pill";
    pill.textContent = ev.eventType;
    type.appendChild(pill);
    tr.appendChild(type);
    tr.appendChild(cell(ev.actorKind));
    tr.appendChild(cell(ev.sourceIp || "–", "mono"));
    tr.appendChild(cell(ev.shareId || "–", "mono"));
    const md = ev.metadata ? JSON.stringify(ev.metadata) : "–";
    const mdCell = cell(md, "md mono");
    mdCell.title = md;
    tr.appendChild(mdCell);
    body.appendChild(tr);
  }
  seen = next;
}

const NONE = "—"; // a ratio or percentile without data (null in the summary)

function percent(x, digits) {
  return x == null ? NONE : Number((x * 100).toFixed(digits)) + "%";
}

function millis(n) {
  return n == null ? NONE : n + " ms";
}

// duration shows seconds watched: 42.5 s, 3 m 20 s, 2 h 5 m.
function duration(sec) {
  if (sec < 60) return Number(sec.toFixed(1)) + " s";
  const s = Math.floor(sec);
  if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
}

// fillCounts lists name → count rows, or one "none" row.
function fillCounts(body, rows, empty) {
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    tr.appendChild(cell(empty)).colSpan = 2;
    body.appendChild(tr);
    return;
  }
  for (const [name, n] of rows) {
    const tr = document.createElement("tr");
    const label = cell("");
    const pill = document.createElement("span");
    pill.className = "pill";
    pill.textContent = name;
    label.appendChild(pill);
    tr.appendChild(label);
    tr.appendChild(cell(String(n), "num"));
    body.appendChild(tr);
  }
}

const byCount = (m) => Object.entries(m || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

// showContent shows an SDK content summary (the data of
// GET /v1/contents/:id/engagement plus seq); the README's "Figures" define
// every number.
function showContent(sum) {
  setFigure("impressions", String(sum.impressions));
  setFigure("plays", String(sum.plays));
  setFigure("completions", String(sum.completions));
  setFigure("completionRate", percent(sum.completionRate, 1));
  setFigure("watchTime", duration(sum.watchTime.total));
  setFigure("startupP50", millis(sum.startupTime.p50));
  setFigure("startupP95", millis(sum.startupTime.p95));
  setFigure("rebufferRatio", percent(sum.rebuffer.ratio, 2));
  setFigure("errors", String(sum.errors.total));
  setFigure("likes", String(sum.likes));
  setFigure("shares", String(sum.shares));
  setFigure("saves", String(sum.saves));
  setFigure("swipesIn", String(sum.swipes.in));
  setFigure("swipesOut", String(sum.swipes.out));
  $("#content-seq").textContent = sum.seq;
  $("#content-last").textContent = sum.lastEventAt ? new Date(sum.lastEventAt).toLocaleString() : "none";
  $("#content-updated").textContent = new Date().toLocaleTimeString();

  const types = Object.entries(sum.counts).concat(Object.entries(sum.customCounts || {}).sort());
  fillCounts($("#by-type"), types, "No events yet.");
  fillCounts($("#by-error"), byCount(sum.errors.byCode), "No errors.");
  fillCounts($("#by-platform"), byCount(sum.sharesByPlatform), "No shares.");
}

// showView shows the figures of one kind of item, cleared until the first
// summary arrives.
function showView(kind) {
  $("#render-view").hidden = kind !== "render";
  $("#content-view").hidden = kind !== "content";
  for (const el of document.querySelectorAll("[data-counter], [data-figure]")) {
    el.textContent = "–";
    delete el.dataset.shown;
  }
}

function kindUI() {
  const k = KINDS[$("#kind").value];
  $("#item-label").textContent = k.label;
  $("#item").placeholder = k.placeholder;
}

// charts holds the two charted series of the watched item: buckets
// [{t (ms), v}] per interval, or null until loaded.
let charts = { kind: "", id: "", metric: "", minute: null, hour: null, gen: 0 };

// loadCharts reads the last two hours by minute and two days by hour.
async function loadCharts() {
  const gen = ++charts.gen;
  const key = sessionStorage.getItem(KEY_ITEM);
  const now = Date.now();
  const get = async (interval, step, n) => {
    const to = Math.ceil((now + 1) / step) * step;
    const q = new URLSearchParams({ metric: charts.metric, interval, from: new Date(to - n * step).toISOString(), to: new Date(to).toISOString() });
    const res = await fetch(`/v1/${KINDS[charts.kind].path}/${encodeURIComponent(charts.id)}/series?${q}`,
      { headers: { "Authorization": "Bearer " + key }, cache: "no-store" });
    if (!res.ok) throw new Error("series: " + res.status);
    const body = await res.json();
    return body.data || body; // contents wrap in {"data","meta"}
  };
  try {
    const [m, h] = await Promise.all([get("minute", MINUTE, 120), get("hour", HOUR, 48)]);
    if (gen !== charts.gen) return; // replaced meanwhile
    const points = (s) => s.buckets.map((b) => ({ t: Date.parse(b.t), v: b.v }));
    charts.minute = points(m);
    charts.hour = points(h);
    $("#complete").textContent = m.completeThrough ? new Date(m.completeThrough).toLocaleTimeString() : "–";
    showUniques(m.uniques);
    drawCharts();
  } catch (e) {
    showMessage("Could not read the series: " + e.message);
  }
}

function showUniques(u) {
  if (!u) return;
  const approx = u.approximate ? "≈ " : "";
  $("#uniques").textContent = "viewers" in u
    ? `${approx}${u.viewers} viewers`
    : `${approx}${u.users} users · ${approx}${u.sessions} sessions`;
}

// liveBucket applies an update's newest bucket to a chart: the buckets
// slide forward to its time, and its value only grows (an update older than
// the read cannot lower it).
function liveBucket(points, b, step, scale) {
  if (!points || !b) return;
  const t = Date.parse(b.t);
  const v = (b.values[charts.metric] || 0) / scale;
  let last = points[points.length - 1].t;
  while (last < t) {
    last += step;
    points.push({ t: last, v: 0 });
    points.shift();
  }
  const p = points.find((x) => x.t === t);
  if (p) p.v = Math.max(p.v, v);
}

function applyLive(sum) {
  showUniques(sum.uniques);
  if (!sum.series) return;
  const scale = charts.kind === "content" && charts.metric === "watchTime" ? 1000 : 1; // updates carry ms
  liveBucket(charts.minute, sum.series.minute, MINUTE, scale);
  liveBucket(charts.hour, sum.series.hour, HOUR, scale);
  drawCharts();
}

const SVG = "http://www.w3.org/2000/svg";

// draw renders points as bars in svg: each rect carries its bucket's start
// (data-t) and value (data-v); the newest is marked open.
function draw(svg, points) {
  svg.replaceChildren();
  if (!points) return;
  const max = Math.max(1, ...points.map((p) => p.v));
  const w = 960 / points.length;
  points.forEach((p, i) => {
    const r = document.createElementNS(SVG, "rect");
    const h = (p.v / max) * 112;
    r.setAttribute("x", (i * w + 0.5).toFixed(1));
    r.setAttribute("width", Math.max(w - 1, 0.5).toFixed(1));
    r.setAttribute("y", (120 - h).toFixed(1));
    r.setAttribute("height", h.toFixed(1));
    r.dataset.t = new Date(p.t).toISOString();
    r.dataset.v = String(p.v);
    if (i === points.length - 1) r.classList.add("open");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${new Date(p.t).toLocaleString()}: ${p.v}`;
    r.appendChild(title);
    svg.appendChild(r);
  });
}

function drawCharts() {
  draw($("#chart-minute"), charts.minute);
  draw($("#chart-hour"), charts.hour);
}

function startCharts(kind, id) {
  charts = { kind, id, metric: FIRST_METRIC[kind], minute: null, hour: null, gen: charts.gen + 1 };
  const sel = $("#metric");
  sel.replaceChildren(...METRICS[kind].map((m) => {
    const o = document.createElement("option");
    o.value = o.textContent = m;
    return o;
  }));
  sel.value = charts.metric;
  $("#charts").hidden = false;
  drawCharts();
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
});

// watch streams one item until it is replaced, the key is refused or the
// item does not exist. Connection losses and server-side stream ends
// (lifetime, shutdown, a dropped slow client) reconnect with Last-Event-ID;
// the first event after a reconnect is the complete current summary.
async function watch(kind, id) {
  const showSummary = kind === "content" ? showContent : render;
  // The first event after connecting is the whole summary: the charts are
  // read then, and each later update moves their newest buckets.
  let fresh = true;
  const show = (sum) => {
    showSummary(sum);
    if (fresh) { fresh = false; loadCharts(); } else applyLive(sum);
  };
  if (current) current.abort();
  const ctl = new AbortController();
  current = ctl;
  let lastId = "";
  let retry = 1000;
  while (!ctl.signal.aborted) {
    const key = sessionStorage.getItem(KEY_ITEM);
    if (!key) { setStatus("idle", "key needed"); keyUI(); return; }
    setStatus("connecting", "connecting…");
    let res;
    try {
      const headers = { "Authorization": "Bearer " + key, "Accept": "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      res = await fetch(`/v1/${KINDS[kind].path}/${encodeURIComponent(id)}/engagement/stream`, { headers, cache: "no-store", signal: ctl.signal });
    } catch (e) {
      if (ctl.signal.aborted) return;
      setStatus("error", "offline, retrying");
      await sleep(retry, ctl.signal);
      continue;
    }
    if (!res.ok) {
      let msg = res.statusText;
      try { msg = (await res.json()).error.message; } catch (e) { /* not the envelope */ }
      if (res.status === 401 || res.status === 403) {
        sessionStorage.removeItem(KEY_ITEM);
        keyUI();
        setStatus("error", "key refused");
        showMessage("The key was refused: " + msg);
        return;
      }
      if (res.status === 404) { setStatus("error", "not found"); showMessage(msg); return; }
      setStatus("error", "unavailable, retrying");
      const after = Number(res.headers.get("Retry-After")) * 1000;
      await sleep(after > 0 ? after : retry, ctl.signal);
      continue;
    }
    showMessage("");
    setStatus("live", "live");
    fresh = true;
    try {
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let end;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let data = "", id = "";
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue; // heartbeat
            const i = line.indexOf(":");
            const field = i < 0 ? line : line.slice(0, i);
            const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
            if (field === "data") data += (data ? "\n" : "") + val;
            else if (field === "id") id = val;
            else if (field === "retry" && /^\d+$/.test(val)) retry = Number(val);
          }
          if (id) lastId = id;
          if (data) show(JSON.parse(data));
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    if (ctl.signal.aborted) return;
    setStatus("connecting", "reconnecting…");
    await sleep(retry, ctl.signal);
  }
}

function start(e) {
  if (e) e.preventDefault();
  const kind = $("#kind").value;
  const id = $("#item").value.trim();
  const key = $("#key").value.trim();
  if (key) { sessionStorage.setItem(KEY_ITEM, key); $("#key").value = ""; }
  keyUI();
  if (!id) return;
  if (!sessionStorage.getItem(KEY_ITEM)) { showMessage("Enter a secret key (sk_…) to watch this item."); return; }
  const url = new URL(location.href);
  for (const k of Object.keys(KINDS)) url.searchParams.delete(k);
  url.searchParams.set(kind, id);
  history.replaceState(null, "", url);
  seen = new Set();
  showView(kind);
  startCharts(kind, id);
  watch(kind, id);
}

document.addEventListener("DOMContentLoaded", () => {
  $("#watch").addEventListener("submit", start);
  $("#forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_ITEM);
    if (current) current.abort();
    setStatus("idle", "key needed");
    keyUI();
  });
  $("#kind").addEventListener("change", kindUI);
  $("#metric").addEventListener("change", () => { charts.metric = $("#metric").value; loadCharts(); });
  keyUI();
  const params = new URL(location.href).searchParams;
  for (const kind of Object.keys(KINDS)) {
    const id = params.get(kind);
    if (!id) continue;
    $("#kind").value = kind;
    $("#item").value = id;
    showView(kind);
    if (sessionStorage.getItem(KEY_ITEM)) start();
    break;
  }
  kindUI();
});
