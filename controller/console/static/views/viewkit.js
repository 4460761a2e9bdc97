// Small DOM and RESTCONF helpers shared by the views.

export const JSON_MEDIA = "application/yang-data+json";
export const PATCH_MEDIA = "application/yang-patch+json";   // RFC 8072 §2.3

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...children.filter((c) => c !== undefined && c !== null));
  return e;
}

// A table with a caption (its accessible name), a header row and one row per entry.
export function table(id, caption, headers, rows) {
  return el("table", { id },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows));
}

export function row(attrs, ...cells) {
  return el("tr", attrs, ...cells.map((c) => (c instanceof Node && c.tagName === "TD") ? c
    : el("td", {}, c === undefined || c === null ? "–" : c)));
}

// Stylesheets the views need beyond console.css (the CSP allows same-origin links only).
export function useStylesheet(href) {
  if (document.querySelector(`link[data-view-css="${href}"]`)) return;
  const link = el("link", { rel: "stylesheet", href, "data-view-css": href });
  document.head.append(link);
}

export function num(value, digits = 3) {
  if (value === undefined || value === null || value === "") return "–";
  const n = Number(value);
  return Number.isFinite(n) ? n.toFixed(digits) : String(value);
}

export function when(stamp) {
  if (!stamp) return "–";
  const d = new Date(stamp);
  return Number.isNaN(d.getTime()) ? stamp : d.toLocaleString();
}

// The RFC 8040 §7 error of a refused request: tag, path and message of each error.
// The rpc-error entries of an answer: RFC 8040 §7 errors, or a failed YANG Patch's status
// (RFC 8072 §2.5: global errors, or per edit, named by its edit-id).
function errorsOf(body) {
  const plain = ((body || {})["ietf-restconf:errors"] || {}).error;
  if (plain) return plain;
  const status = (body || {})["ietf-yang-patch:yang-patch-status"] || {};
  const edits = ((status["edit-status"] || {}).edit || []).flatMap((e) =>
    ((e.errors || {}).error || []).map((err) => ({ ...err, "error-message":
      `edit ${e["edit-id"]}: ${err["error-message"] || ""}` })));
  return [...((status.errors || {}).error || []), ...edits];
}

export function errorText(res) {
  const errors = errorsOf(res.body);
  if (!errors.length) return `HTTP ${res.status}`;
  return errors.map((e) => [`${e["error-tag"]}`, e["error-path"] ? `at ${e["error-path"]}` : "",
                            e["error-message"] || ""].filter(Boolean).join(" — ")).join("; ");
}

export function errorBox(res, what) {
  return el("div", { class: "error", role: "alert", "data-error-tag":
      (errorsOf(res.body)[0] || {})["error-tag"] || "" },
    `${what} refused (HTTP ${res.status}): ${errorText(res)}`);
}

// One RESTCONF request with JSON in and out; never throws for an HTTP error status.
export async function request(method, url, body, contentType = JSON_MEDIA) {
  const init = { method, credentials: "same-origin", headers: { Accept: JSON_MEDIA } };
  if (body !== undefined) {
    init.headers["Content-Type"] = contentType;
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { text }; }
  return { ok: res.ok, status: res.status, body: parsed, headers: res.headers };
}

// An RFC 8040 §3.6 operation: input members in, output members (or the error) out.
export async function operation(module, rpc, input = {}) {
  const res = await request("POST", `/restconf/operations/${module}:${rpc}`,
                            { [`${module}:input`]: input });
  const output = res.ok && res.body ? res.body[`${module}:output`] || {} : {};
  return { ...res, output };
}

// Refetch on live events, at most once per `ms` (events come in bursts).
export function debounced(fn, ms = 300) {
  let pending = null;
  return () => {
    if (!pending) pending = setTimeout(() => { pending = null; fn(); }, ms);
  };
}
