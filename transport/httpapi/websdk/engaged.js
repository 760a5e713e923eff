// engaged web SDK: sends SDK events from a browser page to an engaged
// service, which serves this file at /sdk/engaged.js. An ES module with no
// dependencies and no build step.
//
//   import { init, track } from "https://engaged.example/sdk/engaged.js";
//   init({ apiKey: "pk_…" });
//   track("playStart", "cnt_abc123", { startupTime: 250 });
//
// Events wait in a queue in localStorage (bounded; the oldest are dropped)
// and leave in batches, by size or after an interval; each gets its eventId
// once, so every resend is deduplicated by the server. A page going to the
// background flushes through navigator.sendBeacon. Failed sends are retried
// with backoff, honouring Retry-After; events the server rejects are dropped.

// The server's rules (README, "SDK events"): the documented types and the
// data fields each requires, with their JSON types. Ranges are left to the
// server: an event it rejects is dropped with a console warning.
const TYPES = {
  impression: { position: "integer" },
  playStart: { startupTime: "integer" },
  watchProgress: { currentTime: "number", duration: "number" },
  completion: { watchTime: "number" },
  swipe: { fromContentId: "id" },
  like: {},
  share: { platform: "string" },
  save: {},
  rebuffer: { duration: "integer", currentTime: "number" },
  qualityChange: { fromQuality: "string", toQuality: "string" },
  error: { errorCode: "code", errorMessage: "string" },
};
const CUSTOM = /^custom_[A-Za-z0-9_]{1,57}$/;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_BATCH = 100; // events per batch request, the server's limit
const MAX_DATA_BYTES = 8192; // encoded data per event, the server's default limit
const BEACON_BYTES = 60000; // a page's pending beacons are capped at 64 KiB
const MAX_BACKOFF = 60000; // ms

let cfg = null; // init's options, checked
let timer = 0; // the scheduled flush
let timerAt = 0; // when it fires
let retryAt = 0; // no send before this (backoff, Retry-After)
let failures = 0; // consecutive failed sends
let sending = null; // the flush under way, a Promise
let memory = []; // the queue when localStorage is unavailable
let listening = false;
const beaconed = new Set(); // ids this page handed to sendBeacon

/**
 * Starts the SDK. Events queued by an earlier page (sent while offline or
 * the service was down) are sent now.
 * @param {{apiKey: string, host?: string, batchSize?: number, batchInterval?: number,
 *          maxQueue?: number, userId?: string, deviceId?: string, sessionId?: string}} options
 */
export function init(options) {
  const o = options || {};
  if (typeof o.apiKey !== "string" || !o.apiKey.startsWith("pk_")) {
    throw new TypeError("engaged: init needs a publishable apiKey (pk_…); never ship a secret key to a browser");
  }
  const host = String(o.host || new URL(import.meta.url).origin).replace(/\/+$/, "");
  cfg = {
    apiKey: o.apiKey,
    url: host + "/v1/events/batch",
    batchSize: Math.min(MAX_BATCH, Math.max(1, Math.floor(o.batchSize ?? 10))),
    batchInterval: Math.max(0, o.batchInterval ?? 5000),
    maxQueue: Math.max(1, Math.floor(o.maxQueue ?? 1000)),
    storageKey: "engaged.queue:" + host + ":" + o.apiKey,
    ids: {},
  };
  for (const k of ["userId", "deviceId", "sessionId"]) {
    if (o[k] != null) cfg.ids[k] = String(o[k]);
  }
  retryAt = 0;
  failures = 0;
  if (!listening) {
    listening = true;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") beacon();
    });
    window.addEventListener("pagehide", beacon);
    window.addEventListener("online", () => {
      retryAt = 0;
      failures = 0;
      flush();
    });
  }
  if (load().length > 0) flush();
}

/**
 * Queues one event and returns its eventId. Throws a TypeError for an event
 * the server would always reject (unknown type, bad contentId, a required
 * data field missing or of the wrong type, data over 8 KiB).
 * @param {string} event a documented type or "custom_<name>"
 * @param {string} [contentId] the registered content id (a swipe may give data.toContentId instead)
 * @param {object} [data] the type's fields
 */
export function track(event, contentId, data) {
  if (!cfg) throw new Error("engaged: call init first");
  check(event, contentId, data);
  const ev = { event, eventId: uuid(), timestamp: new Date().toISOString(), ...cfg.ids };
  if (contentId != null) ev.contentId = contentId;
  if (data != null) ev.data = data;
  const q = load();
  q.push(ev);
  save(q);
  schedule(q.length >= cfg.batchSize ? 0 : cfg.batchInterval);
  return ev.eventId;
}

/**
 * Sends the queued events now (unless a backoff is under way) and resolves
 * when the queue is empty or a send failed (then a retry is scheduled).
 * @returns {Promise<void>}
 */
export function flush() {
  if (!cfg) return Promise.resolve();
  if (!sending) sending = drain().finally(() => (sending = null));
  return sending;
}

/** The number of events waiting to be sent. */
export function pending() {
  return cfg ? load().length : 0;
}

function check(event, contentId, data) {
  const known = Object.prototype.hasOwnProperty.call(TYPES, event);
  if (typeof event !== "string" || !(known || CUSTOM.test(event))) {
    throw new TypeError(`engaged: unknown event type ${JSON.stringify(event)} (one of ${Object.keys(TYPES).join(", ")}, or custom_<name>)`);
  }
  if (data != null && (typeof data !== "object" || Array.isArray(data))) {
    throw new TypeError("engaged: data must be an object");
  }
  const d = data || {};
  if (contentId == null) {
    if (!(event === "swipe" && d.toContentId != null)) throw new TypeError("engaged: contentId is required");
  } else if (typeof contentId !== "string" || !ID.test(contentId)) {
    throw new TypeError("engaged: contentId must be 1 to 64 characters of A-Z a-z 0-9 _ -");
  }
  const fields = known ? { ...TYPES[event] } : {};
  if (event === "swipe") {
    if (d.toContentId != null) fields.toContentId = "id";
    fields[d.watchTime == null && d.watchTimeOnFrom != null ? "watchTimeOnFrom" : "watchTime"] = "number";
  }
  for (const [name, kind] of Object.entries(fields)) {
    const v = d[name];
    if (v == null) throw new TypeError(`engaged: ${event} needs data.${name}`);
    const ok =
      kind === "integer" ? Number.isInteger(v) :
      kind === "number" ? typeof v === "number" && Number.isFinite(v) :
      kind === "id" ? typeof v === "string" && ID.test(v) :
      kind === "code" ? (typeof v === "string" && v !== "") || Number.isInteger(v) :
      typeof v === "string" && v !== "";
    if (!ok) throw new TypeError(`engaged: data.${name} must be ${kind === "id" ? "a content id" : kind === "code" ? "a string or an integer" : "a " + (kind === "string" ? "non-empty string" : kind)}`);
  }
  if (data != null && new Blob([JSON.stringify(data)]).size > MAX_DATA_BYTES) {
    throw new TypeError(`engaged: data exceeds ${MAX_DATA_BYTES} bytes`);
  }
}

// uuid is crypto.randomUUID, which needs a secure context, else a version 4
// UUID from getRandomValues.
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// The queue lives in localStorage, read and written whole at each change, so
// a reload, a crash or another tab of the same site never loses it; where
// localStorage is unavailable it lives in memory for this page only.
function load() {
  try {
    const s = localStorage.getItem(cfg.storageKey);
    return s ? JSON.parse(s) : [];
  } catch {
    return memory.slice();
  }
}

function save(q) {
  if (q.length > cfg.maxQueue) {
    console.warn(`engaged: queue full, dropping the ${q.length - cfg.maxQueue} oldest events`);
    q = q.slice(q.length - cfg.maxQueue);
  }
  memory = q;
  try {
    if (q.length) localStorage.setItem(cfg.storageKey, JSON.stringify(q));
    else localStorage.removeItem(cfg.storageKey);
  } catch {
    // Full or disabled storage: the queue stays in memory.
  }
}

function forget(ids) {
  save(load().filter((e) => !ids.has(e.eventId)));
}

// schedule makes sure a flush runs within delay ms, never before retryAt.
function schedule(delay) {
  const at = Math.max(Date.now() + delay, retryAt);
  if (timer && timerAt <= at) return;
  clearTimeout(timer);
  timerAt = at;
  timer = setTimeout(() => {
    timer = 0;
    flush();
  }, at - Date.now());
}

async function drain() {
  for (;;) {
    const q = load();
    if (q.length === 0) return;
    if (Date.now() < retryAt) return schedule(0);
    const batch = q.slice(0, MAX_BATCH);
    let res;
    try {
      res = await fetch(cfg.url, {
        method: "POST",
        headers: { Authorization: "Bearer " + cfg.apiKey, "Content-Type": "application/json" },
        body: JSON.stringify({ events: batch, sentAt: new Date().toISOString() }),
      });
    } catch {
      return retry(0); // offline, or the service cannot be reached
    }
    const s = res.status;
    if (s === 408 || s === 429 || s >= 500) return retry(retryAfter(res));
    // Stored (each event accepted, a duplicate of one stored before, or
    // rejected), or the whole batch refused: resending cannot help.
    failures = 0;
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      console.warn(`engaged: ${batch.length} events refused (${s}):`, body && body.error);
    } else if (body && body.data && body.data.failed > 0) {
      for (const r of body.data.results) {
        if (r.status === "rejected") console.warn("engaged: event rejected:", r.eventId, r.error);
      }
    }
    forget(new Set(batch.map((e) => e.eventId)));
    const left = load().length;
    if (left < cfg.batchSize) {
      if (left > 0) schedule(cfg.batchInterval);
      return;
    }
  }
}

// retry schedules the next attempt after wait ms, or after an exponential
// backoff with jitter (1 s, 2 s, 4 s, … up to a minute) when the server
// named no wait.
function retry(wait) {
  failures++;
  const backoff = Math.min(MAX_BACKOFF, 1000 * 2 ** (failures - 1));
  const delay = wait > 0 ? wait : backoff / 2 + Math.random() * (backoff / 2);
  retryAt = Date.now() + delay;
  schedule(0);
}

function retryAfter(res) {
  const v = res.headers.get("Retry-After");
  if (!v) return 0;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.min(secs * 1000, 10 * MAX_BACKOFF);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, Math.min(at - Date.now(), 10 * MAX_BACKOFF)) : 0;
}

// beacon hands the queue to navigator.sendBeacon as the page goes away:
// text/plain with the key in the body, so no preflight is needed. A beacon's
// answer is never seen (the service may be down while the browser is
// online), so its events stay queued until a later send confirms them: the
// page's next flush if it comes back, else the next page's init. The server
// answers "duplicate" for those the beacon delivered and counts them once.
function beacon() {
  if (!cfg || !navigator.sendBeacon || navigator.onLine === false) return;
  // visibilitychange and pagehide both fire as a page goes away.
  const q = load().filter((e) => !beaconed.has(e.eventId));
  let budget = BEACON_BYTES;
  for (let i = 0; i < q.length; ) {
    let n = Math.min(MAX_BATCH, q.length - i);
    let blob;
    for (;;) {
      const body = { apiKey: cfg.apiKey, events: q.slice(i, i + n), sentAt: new Date().toISOString() };
      blob = new Blob([JSON.stringify(body)], { type: "text/plain" });
      if (blob.size <= budget || n === 1) break;
      n = Math.ceil(n / 2);
    }
    if (blob.size > budget || !navigator.sendBeacon(cfg.url, blob)) break;
    budget -= blob.size;
    for (const e of q.slice(i, i + n)) beaconed.add(e.eventId);
    i += n;
  }
}
