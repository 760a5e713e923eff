// engaged live dashboard. No build step, no dependencies.
//
// The key is asked for once and kept in sessionStorage: it lives as long as
// this tab, is never put in a URL, and goes only into the Authorization
// header of same-origin requests. EventSource cannot send that header, so the
// stream is read with fetch() and parsed here (text/event-stream framing).
"use strict";

const KEY_ITEM = "engaged.secretKey";
const COUNTERS = ["viewed", "downloaded", "printed", "email_opened", "email_sent", "share_created", "share_revoked"];
const $ = (sel) => document.querySelector(sel);

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
  const el = document.querySelector(`[data-counter="${name}"]`);
  const text = String(value);
  const before = el.textContent;
  if (before === text) return;
  el.textContent = text;
  if (before === "–") return; // first figures: nothing changed yet
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
// SDK content summaries would get a renderer of their own here.
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

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
});

// watch streams one render until it is replaced, the key is refused or the
// render does not exist. Connection losses and server-side stream ends
// (lifetime, shutdown, a dropped slow client) reconnect with Last-Event-ID;
// the first event after a reconnect is the complete current summary.
async function watch(id) {
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
      res = await fetch(`/v1/renders/${encodeURIComponent(id)}/engagement/stream`, { headers, cache: "no-store", signal: ctl.signal });
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
          if (data) render(JSON.parse(data));
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
  const id = $("#render").value.trim();
  const key = $("#key").value.trim();
  if (key) { sessionStorage.setItem(KEY_ITEM, key); $("#key").value = ""; }
  keyUI();
  if (!id) return;
  if (!sessionStorage.getItem(KEY_ITEM)) { showMessage("Enter a secret key (sk_…) to watch this render."); return; }
  const url = new URL(location.href);
  url.searchParams.set("render", id);
  history.replaceState(null, "", url);
  seen = new Set();
  watch(id);
}

document.addEventListener("DOMContentLoaded", () => {
  $("#watch").addEventListener("submit", start);
  $("#forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_ITEM);
    if (current) current.abort();
    setStatus("idle", "key needed");
    keyUI();
  });
  keyUI();
  const id = new URL(location.href).searchParams.get("render");
  if (id) { $("#render").value = id; if (sessionStorage.getItem(KEY_ITEM)) start(); }
});
