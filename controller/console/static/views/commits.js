// Commits: the history of running (sdqn-controller list-commits / show-commit /
// diff-commits, RFC 8040 §3.6 operations) with each change's leaf-level differences grouped
// by the configured resource they belong to; a change form whose "Dry-run" shows the impact
// (services that move, devices that change) without changing running, "Commit" that edits
// running (one RFC 8072 YANG Patch, with the form's label and comment), and
// "Rollback" (rollback-to) on a history entry. Controls appear only when whoami allows
// them; the server's NACM decides anyway, and a refusal shows its RFC 8040 §7 error.
import { PATCH_MEDIA, debounced, el, errorBox, num, operation, request, row, table,
         useStylesheet, when } from "./viewkit.js";

const CTL = "sdqn-controller";
const CANDIDATE = "/restconf/ds/ietf-datastores:candidate";   // RFC 8527 §3.1
const RUNNING_DS = "/restconf/ds/ietf-datastores:running";      // RFC 8527 §3.1
const RUNNING = "/restconf/data";                             // RFC 8040 §3.3.1
export const EXAMPLE = {
  "sdqn-services:entanglement-services": {
    request: [{ name: "teleport-bob-charlie", "demanded-rate": "25.0" }],
  },
};

// The body to PATCH with, and its media type: a YANG Patch (RFC 8072 §3) or a plain
// RFC 7951 document merged into the datastore (RFC 8040 §4.6.1).
export function patchOf(text) {
  const body = JSON.parse(text);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new Error("the change must be a JSON object (RFC 7951)");
  }
  if ("ietf-yang-patch:yang-patch" in body) return { body, media: PATCH_MEDIA };
  // RFC 8040 §4.6.1 on the datastore resource: the body is one "ietf-restconf:data" object
  return { body: "ietf-restconf:data" in body ? body : { "ietf-restconf:data": body } };
}

// A plain RFC 7951 change as the YANG Patch that merges the same (RFC 8072 §2.2).
export function asPatch(data, patchId) {
  return { "patch-id": patchId, edit: Object.keys(data).map((member, i) => ({
    "edit-id": `merge-${i + 1}`, operation: "merge", target: `/${member}`,
    value: { [member]: data[member] } })) };
}

// "/mod:top/list/[key=value]/leaf" -> the resource it belongs to: "list key=value".
export function resourceOf(path) {
  const steps = path.split("/").filter(Boolean);
  const i = steps.findIndex((s) => s.startsWith("["));
  if (i <= 0) return steps[0] || path;
  return `${steps[i - 1]} ${steps[i].slice(1, -1)}`;
}

function changeTable(id, caption, changes) {
  return table(id, caption, ["Operation", "Path", "Previous", "Value"],
    changes.map((c) => row({ class: `op-${c.operation}` }, c.operation, el("code", {}, c.path),
                           c.previous ?? "", c.value ?? "")));
}

// show-commit / diff-commits changes, one table per configured resource (a request, a
// device, a link ...).
function groupedChanges(changes, prefix) {
  if (!changes.length) return el("p", {}, "No differences you may read.");
  const groups = new Map();
  for (const c of changes) {
    const key = resourceOf(c.path || "");
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(c);
  }
  return el("div", {}, ...[...groups].map(([key, list], i) =>
    changeTable(`${prefix}-${i}`, `${key} (${list.length})`, list)));
}

export function impactView(impact, prefix = "impact") {
  const services = impact.service || [];
  const devices = impact.device || [];
  const t = impact.totals || {};
  return el("div", { id: prefix, class: "impact" },
    el("p", { id: `${prefix}-totals` },
      `Services: ${t.added || 0} added, ${t.removed || 0} removed, ${t.moved || 0} moved `
      + `(${t["hard-switches"] || 0} hard switches), ${t.retuned || 0} retuned, `
      + `${t.rejected || 0} rejected; ${t.devices || 0} devices change; utility `
      + `${num(t["utility-before"])} → ${num(t["utility-after"])}.`),
    table(`${prefix}-services`, "Services the change affects",
      ["Request", "Change", "Old path", "New path", "Switch", "Interruption (s)",
       "Rate before → after", "Fidelity before → after", "Reason"],
      services.map((s) => row({ "data-service": s.name }, el("th", { scope: "row" }, s.name),
        s.change, s["old-path"] || "", s["new-path"] || "", s.switch || "",
        num(s["expected-interruption"]),
        `${num((s.before || {}).rate, 2)} → ${num((s.after || {}).rate, 2)}`,
        `${num((s.before || {}).fidelity, 4)} → ${num((s.after || {}).fidelity, 4)}`,
        s.reason || ""))),
    deviceTable(`${prefix}-devices`, "Devices whose configuration changes", devices));
}

// Per-device leaf changes: a dry-run's prediction, or (with the network commit that pushed
// them) what a past change of running did to each device (show-commit `device`).
function deviceTable(id, caption, devices) {
  const pushed = devices.some((d) => d["network-commit"]);
  return table(id, caption,
    pushed ? ["Device", "Network commit", "Changes"] : ["Device", "Changes"],
    devices.map((d) => row({ "data-device": d["node-id"] },
      el("th", { scope: "row" }, d["node-id"]),
      ...(pushed ? [el("span", {}, el("code", {}, d["network-commit"] || ""),
                       d["network-label"] ? ` ${d["network-label"]}` : "")] : []),
      el("ul", { class: "device-changes" }, ...(d.change || []).map((c) =>
        el("li", {}, `${c.operation} `, el("code", {}, c.path),
           c.value !== undefined ? ` = ${c.value}` : "",
           c.previous !== undefined ? ` (was ${c.previous})` : ""))))));
}

export async function mount(main, ctx) {
  useStylesheet("views.css");
  const may = ctx.whoami.may || {};
  const status = el("div", { id: "commit-status", "aria-live": "polite" });
  const history = el("section", { class: "panel", "aria-labelledby": "history-h" });
  const detail = el("section", { class: "panel", id: "commit-detail", "aria-live": "polite",
                                   hidden: true });
  main.append(el("h2", {}, "Commits"), status);

  // the dry-run previews a change of running, checked as that edit: it needs write access too
  const mayDryRun = Boolean(may["dry-run"] && may.commit);
  if (mayDryRun || may.commit) {
    const text = el("textarea", { id: "change-body", rows: "8", cols: "80", spellcheck: "false",
                                  "aria-describedby": "change-help" });
    text.value = JSON.stringify(EXAMPLE, null, 2);
    // kept in the commit history with the change (RFC 8072 §2.2 patch-id and comment)
    const label = el("input", { id: "change-label", type: "text", maxlength: "256",
                                placeholder: "console change" });
    const comment = el("input", { id: "change-comment", type: "text", maxlength: "4096",
                                  size: "40" });
    const buttons = el("div", { class: "toolbar" });
    const impact = el("div", { id: "impact-box", "aria-live": "polite" });
    const form = el("form", { class: "panel", id: "change-form", "aria-labelledby": "change-h" },
      el("h3", { id: "change-h" }, "Change running"),
      el("p", { id: "change-help" }, "RFC 7951 JSON merged into running, or an "
        + "ietf-yang-patch:yang-patch document (RFC 8072). A commit is one YANG Patch of "
        + "running; the history keeps its label (the patch-id) and comment."),
      el("label", { for: "change-body" }, "Change"), text,
      el("div", { class: "toolbar" },
        el("label", { for: "change-label" }, "Label "), label, " ",
        el("label", { for: "change-comment" }, "Comment "), comment),
      buttons, impact);
    form.addEventListener("submit", (e) => e.preventDefault());
    if (mayDryRun) {
      const dry = el("button", { type: "button", id: "dry-run" }, "Dry-run");
      dry.addEventListener("click", () => dryRun(text.value, impact));
      buttons.append(dry);
    }
    if (may.commit) {
      const commit = el("button", { type: "button", id: "commit" }, "Commit");
      commit.addEventListener("click", () => commitChange(text.value, impact,
                                                          label.value, comment.value));
      buttons.append(commit);
    }
    main.append(form);
  }
  main.append(history, detail);

  function parse(text, box) {
    try {
      return patchOf(text);
    } catch (err) {
      box.replaceChildren(el("div", { class: "error", role: "alert" },
                             `Not a valid change: ${err.message}`));
      return null;
    }
  }

  // The candidate is shared (RFC 6241 §8.3): the dry-run only uses it when it holds
  // nobody's uncommitted edits, since it discards it afterwards.
  async function candidateUnmodified() {
    const [cand, run] = await Promise.all([request("GET", CANDIDATE),
                                           request("GET", RUNNING_DS)]);
    return cand.ok && run.ok && JSON.stringify(cand.body) === JSON.stringify(run.body);
  }

  // A plain RFC 7951 change is previewed inline (sdqn-controller dry-run `edit`): the server
  // makes it on running as a test-only edit, previews it and puts running back, so neither
  // the candidate nor anything else changes. A YANG Patch (RFC 8072) has no inline form: it
  // goes into the shared candidate (RFC 6241 §8.3), is previewed as the candidate's commit
  // and discarded again (§8.3.4.2) — only when the candidate holds nobody's edits, since
  // the discard would drop them.
  async function dryRun(text, box) {
    const change = parse(text, box);
    if (!change) return;
    box.replaceChildren(el("p", {}, "Computing the impact…"));
    const res = change.media === PATCH_MEDIA ? await candidateDryRun(change, box)
      : await operation(CTL, "dry-run", { action: "commit",
                                          edit: change.body["ietf-restconf:data"] });
    if (!res) return;
    if (!res.ok) { box.replaceChildren(errorBox(res, "Dry-run")); return; }
    box.replaceChildren(el("h4", {}, "Impact (dry-run: nothing changed)"),
                        impactView(res.output.impact || {}));
    box.dataset.result = "dry-run";
  }

  async function candidateDryRun(change, box) {
    if (!(await candidateUnmodified())) {
      box.replaceChildren(el("div", { class: "error", role: "alert" },
        "Dry-run of a YANG Patch refused: the candidate holds uncommitted edits (someone's "
        + "NETCONF session); the console does not discard them. Commit or discard them "
        + "first, or give the change as plain RFC 7951 JSON, which is previewed inline."));
      return null;
    }
    const edit = await request("PATCH", CANDIDATE, change.body, change.media);
    if (!edit.ok) { box.replaceChildren(errorBox(edit, "Editing the candidate")); return null; }
    try {
      return await operation(CTL, "dry-run", { action: "commit" });
    } finally {
      await operation("ietf-netconf", "discard-changes");
    }
  }

  // Committed as one YANG Patch of running (RFC 8072): a plain change becomes one merge
  // edit per top-level member (what RFC 8040 §4.6.1 PATCH merges), so the label and
  // comment travel with it into the commit history; a YANG Patch keeps its own patch-id
  // and, unless it has one, takes the comment.
  async function commitChange(text, box, label, comment) {
    const change = parse(text, box);
    if (!change) return;
    const patch = change.media === PATCH_MEDIA ? change.body["ietf-yang-patch:yang-patch"]
      : asPatch(change.body["ietf-restconf:data"], label.trim() || "console change");
    if (comment.trim() && patch.comment === undefined) patch.comment = comment.trim();
    const res = await request("PATCH", RUNNING, { "ietf-yang-patch:yang-patch": patch },
                              PATCH_MEDIA);
    if (!res.ok) { box.replaceChildren(errorBox(res, "Commit")); return; }
    box.replaceChildren(el("p", { class: "done", role: "status" }, "Committed to running."));
    box.dataset.result = "committed";
    await refresh();
  }

  async function rollback(record) {
    const res = await operation(CTL, "rollback-to",
                                { id: record.id, label: `console rollback to ${record.id}` });
    if (!res.ok) status.replaceChildren(errorBox(res, "Rollback"));
    else status.replaceChildren(el("p", { role: "status", class: "done" },
      res.output.changed ? `Rolled back to before ${record.id} (new entry `
        + `${res.output.id}).` : "Running already was that content."));
    await refresh();
  }

  async function show(record) {
    detail.hidden = false;
    const res = await operation(CTL, "show-commit", { id: record.id });
    if (!res.ok) { detail.replaceChildren(errorBox(res, "show-commit")); return; }
    const out = res.output;
    detail.replaceChildren(
      el("h3", { id: "detail-h" }, `Change ${out.id} (${out.kind})`),
      el("p", {}, `${when(out.timestamp)} by ${out.user || "?"}`
        + `${out["source-host"] ? ` from ${out["source-host"]}` : ""}`
        + `${out.label ? `: ${out.label}` : ""}${out.comment ? ` — ${out.comment}` : ""}`),
      groupedChanges(out.change || [], "commit-change"),
      (out.device || []).length
        ? deviceTable("commit-devices", "What it did to each device "
                      + `(${out.device.length})`, out.device)
        : el("p", { id: "commit-devices-none" },
             "No device configuration changed (or none you may read)."),
      out.impact
        ? el("div", { id: "commit-impact" },
             el("h4", {}, "Impact when it was committed"),
             impactView(out.impact, "commit-impact-view"))
        : el("p", { id: "commit-impact-none" }, "Its impact was not kept."));
    detail.dataset.commit = out.id;
  }

  async function diffToNow(record) {
    detail.hidden = false;
    const res = await operation(CTL, "diff-commits", { from: record.id });
    if (!res.ok) { detail.replaceChildren(errorBox(res, "diff-commits")); return; }
    detail.replaceChildren(el("h3", {}, `From right after ${record.id} to running now`),
                           groupedChanges(res.output.change || [], "diff-change"));
    detail.dataset.commit = record.id;
  }

  async function refresh() {
    const res = await operation(CTL, "list-commits", { limit: 50 });
    if (!res.ok) {
      history.replaceChildren(el("h3", { id: "history-h" }, "History"),
                              errorBox(res, "list-commits"));
      main.dataset.ready = "true";
      return;
    }
    const records = res.output.commit || [];
    const rows = records.map((r) => {
      const actions = el("td", { class: "actions" });
      const showButton = el("button", { type: "button", class: "show",
                                        "aria-label": `Show change ${r.id}` }, "Show");
      showButton.addEventListener("click", () => show(r));
      const diffButton = el("button", { type: "button", class: "diff",
                                        "aria-label": `Differences from ${r.id} to now` },
                            "Diff to now");
      diffButton.addEventListener("click", () => diffToNow(r));
      actions.append(showButton, " ", diffButton);
      if (may.rollback) {
        const back = el("button", { type: "button", class: "rollback",
                                    "aria-label": `Roll back to before ${r.id}` }, "Rollback");
        back.addEventListener("click", () => rollback(r));
        actions.append(" ", back);
      }
      return row({ "data-commit": r.id, "data-kind": r.kind || "" },
        r.seq, el("th", { scope: "row" }, el("code", {}, r.id)), when(r.timestamp),
        r.user || "", r.kind || "", r.label || "", r.comment || "", actions);
    });
    history.replaceChildren(el("h3", { id: "history-h" }, "History"),
      table("commit-table", `Changes of running, newest first (${records.length})`,
            ["#", "Id", "When", "User", "Kind", "Label", "Comment", "Actions"], rows));
    main.dataset.ready = "true";
  }

  const off = ctx.onEvent(debounced(refresh, 500));
  await refresh();
  return { unmount() { off(); } };
}
