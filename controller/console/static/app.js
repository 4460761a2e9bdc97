// The console shell: who is signed in, the live event stream, the router between views.
// Every read and action goes through the standard interfaces (RESTCONF, RFC 8040), so the
// server's NACM decides; the shell only hides controls whoami says a user cannot use.

const JSON_MEDIA = "application/yang-data+json";
const VIEWS = ["topology", "alarms", "services", "commits", "slices", "drills"];
const STREAM = "/restconf/streams/NETCONF/json";   // RFC 8040 §6.3 SSE
const HISTORY_OPS = "/restconf/operations/sdqn-history:";
const SLIDER_STEPS = 1000;

export const ctx = {
  whoami: { user: "", groups: [], may: {} },
  listeners: new Set(),
  // GET a resource of <operational> (RFC 8527 §3.1 datastore resource over RESTCONF)
  async operational(path) {
    const res = await fetch(`/restconf/ds/ietf-datastores:operational/${path}`,
                            { headers: { Accept: JSON_MEDIA }, credentials: "same-origin" });
    if (res.status === 404) return null;   // nothing there (yet)
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  },
  async post(url, body) {
    const res = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { Accept: JSON_MEDIA, "Content-Type": JSON_MEDIA },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    // an answer that is not JSON (a proxy's or an overloaded server's page) still has a status
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
    return { ok: res.ok, status: res.status, body: parsed };
  },
  onEvent(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); },
  // Time travel: null is live; else the ISO instant the views render from get-snapshot.
  asOf: null,
  timeListeners: new Set(),
  onTime(fn) { this.timeListeners.add(fn); return () => this.timeListeners.delete(fn); },
  _snap: null,
  // sdqn-history:get-snapshot (an RFC 8040 §3.6 operation resource), one fetch per instant
  snapshot(time) {
    if (this._snap && this._snap.time === time) return this._snap.promise;
    const promise = this.post(HISTORY_OPS + "get-snapshot", { "sdqn-history:input": { time } })
      .then((res) => {
        if (!res.ok) throw new Error(`snapshot: HTTP ${res.status}`);
        return res.body["sdqn-history:output"] || {};
      });
    this._snap = { time, promise };
    return promise;
  },
};

function setLive(on, text) {
  const el = document.getElementById("live");
  el.textContent = text;
  el.className = `live ${on ? "live-on" : "live-off"}`;
}

// The event stream, reopened after an error with a growing delay (max 10 s); the browser
// resumes with Last-Event-ID only within one EventSource, so views also refetch on reopen.
function connectStream(delay = 1000) {
  const source = new EventSource(STREAM, { withCredentials: true });
  source.onopen = () => {
    if (ctx.asOf === null) setLive(true, "live");
    delay = 1000;
    for (const fn of ctx.listeners) fn({ reconnected: true });
  };
  source.onmessage = (msg) => {
    let event = null;
    try { event = JSON.parse(msg.data); } catch { return; }
    if (ctx.asOf === null) for (const fn of ctx.listeners) fn(event);
  };
  source.onerror = () => {
    source.close();
    setLive(false, "reconnecting…");
    setTimeout(() => connectStream(Math.min(delay * 2, 10000)), delay);
  };
}

let current = null;

async function route() {
  const name = (location.hash.match(/^#\/(\w[\w-]*)/) || [])[1] || "topology";
  for (const a of document.querySelectorAll("#nav-list a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (current && current.unmount) current.unmount();
  current = null;
  const main = document.getElementById("main");
  main.replaceChildren();
  main.dataset.view = name;
  if (!VIEWS.includes(name)) {
    main.append(paragraph(`No view “${name}”.`));
    return;
  }
  let module;
  try {
    module = await import(`./views/${name}.js`);
  } catch {
    const h = document.createElement("h2");
    h.textContent = name[0].toUpperCase() + name.slice(1);
    main.append(h, paragraph("This view is not yet available."));
    return;
  }
  current = await module.mount(main, ctx);
}

function paragraph(text) {
  const p = document.createElement("p");
  p.textContent = text;
  return p;
}

// Views other parts of the console add later: their links stay, marked as unavailable.
async function markUnavailable() {
  for (const a of document.querySelectorAll("#nav-list a")) {
    const res = await fetch(`views/${a.dataset.view}.js`, { method: "HEAD" });
    if (!res.ok) {
      a.classList.add("unavailable");
      a.setAttribute("aria-label", `${a.textContent} (not yet available)`);
      a.title = "not yet available";
    }
  }
}

// The time slider: the retained history window, "live" at its right end. Moving it sets
// ctx.asOf and tells the views, which then render get-snapshot(asOf) marked "as of".
let timeWindow = null;

async function loadWindow() {
  const now = new Date().toISOString();
  const res = await ctx.post(HISTORY_OPS + "get-snapshot", { "sdqn-history:input": { time: now } });
  if (!res.ok) return null;
  const out = res.body["sdqn-history:output"] || {};
  timeWindow = { start: Date.parse(out["window-start"]), end: Date.parse(out["window-end"]) };
  return timeWindow;
}

function setTime(iso) {
  ctx.asOf = iso;
  const label = document.getElementById("time-label");
  const bar = document.getElementById("timebar");
  const slider = document.getElementById("time-slider");
  if (iso === null) {
    label.textContent = "Showing live data";
    bar.classList.remove("travelling");
    slider.value = String(SLIDER_STEPS);
    slider.setAttribute("aria-valuetext", "live");
    setLive(true, "live");
  } else {
    const text = new Date(iso).toLocaleString();
    label.textContent = `As of ${text} (history, not live)`;
    bar.classList.add("travelling");
    slider.setAttribute("aria-valuetext", `as of ${text}`);
    placeSlider(slider, Date.parse(iso));
    setLive(false, "history");
  }
  for (const fn of ctx.timeListeners) fn(iso);
  if (iso === null) for (const fn of ctx.listeners) fn({ reconnected: true });
}

// The slider's position for a moment set by code (always left of "live").
async function placeSlider(slider, ms) {
  const w = timeWindow || await loadWindow();
  if (!w || w.end <= w.start) return;
  const v = Math.round(((ms - w.start) / (w.end - w.start)) * SLIDER_STEPS);
  slider.value = String(Math.max(0, Math.min(SLIDER_STEPS - 1, v)));
}

// Move to a moment (ms since the epoch) within the window; tests and the slider use it.
export function travelTo(ms) {
  if (ms === null) return setTime(null);
  return setTime(new Date(ms).toISOString());
}

function initSlider() {
  const slider = document.getElementById("time-slider");
  let pending = null;
  slider.addEventListener("focus", loadWindow);
  slider.addEventListener("input", () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const w = timeWindow || await loadWindow();
      const v = Number(slider.value);
      if (!w || v >= SLIDER_STEPS) { setTime(null); return; }
      setTime(new Date(w.start + (w.end - w.start) * v / SLIDER_STEPS).toISOString());
    }, 200);
  });
  window.sdqnTime = { travelTo, loadWindow, ctx };
  setTime(null);
}

async function start() {
  const res = await fetch("api/whoami", { credentials: "same-origin" });
  if (res.ok) ctx.whoami = await res.json();
  const user = document.getElementById("user");
  user.textContent = `${ctx.whoami.user} (${ctx.whoami.groups.join(", ") || "no group"})`;
  document.body.dataset.user = ctx.whoami.user;
  window.addEventListener("hashchange", route);
  initSlider();
  connectStream();
  await route();
  markUnavailable();
}

start();
