// Slices (sdqn-slices in <operational>): per slice its tenant and isolation, each SLO
// objective with what was measured, whether it is met and when it was measured, a
// suspended guarantee with its reason, fragmentation (reserved but idle), the device
// resources the slice owns, and its active slice-sla-violation alarms (RFC 8632). A tenant
// user sees only its own slices: the server prunes what NACM does not let it read.
import { loadAlarms, typeName } from "./alarmdata.js";
import { debounced, el, num, row, table, useStylesheet, when } from "./viewkit.js";

const PATH = "sdqn-slices:slicing";

export function slicesOf(data) {
  return ((data || {})[PATH] || {}).slice || [];
}

function sliceAlarms(alarms, name) {
  return alarms.filter((a) => !a["is-cleared"] && typeName(a) === "slice-sla-violation"
    && new RegExp(`slice\\[name=['"]${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}['"]\\]`)
      .test(a.resource || ""));
}

function verdict(compliant) {
  if (compliant === true) return el("td", { class: "ok", "data-compliant": "true" }, "compliant");
  if (compliant === false) {
    return el("td", { class: "bad", "data-compliant": "false" }, "violated");
  }
  return el("td", { class: "stale", "data-compliant": "unknown" }, "not measured");
}

function sliceCard(sl, alarms, index) {
  const st = sl.state || {};
  const slos = st.slo || [];
  const g = st.guarantee || {};
  const frag = st.fragmentation || {};
  const owned = st["owned-resource"] || [];
  const mine = sliceAlarms(alarms, sl.name);
  const id = `slice-${index}`;
  const guarantee = g.suspended
    ? el("p", { class: "bad guarantee", "data-suspended": "true" },
         `Guarantee suspended: ${g.reason || "no reason given"}`)
    : el("p", { class: "guarantee", "data-suspended": "false" }, "Guarantee in force.");
  const compliantAll = slos.length > 0 && slos.every((o) => o.compliant === true);
  return el("section", { class: "panel slice", "data-slice": sl.name,
                         "data-compliant": String(compliantAll), "aria-labelledby": `${id}-h` },
    el("h3", { id: `${id}-h` }, `Slice ${sl.name}`),
    el("p", {}, `Tenant ${sl.tenant || "–"}; isolation ${sl.isolation || "–"}; priority `
      + `${sl.priority ?? "–"}; weight ${sl.weight ?? "–"}; borrowing ${sl.borrowing ?? "–"}.`),
    guarantee,
    table(`${id}-slo`, "Service-level objectives",
      ["Objective", "Target", "Measured", "Status", "Measured at"],
      slos.map((o) => row({ "data-objective": o.objective },
        el("th", { scope: "row" }, o.objective), num(o.target, 4), num(o.measured, 4),
        verdict(o.compliant), when(o["measured-at"])))),
    mine.length
      ? el("div", { class: "panel" }, el("h4", {}, "Active SLA violations"),
           el("ul", { class: "slice-alarms" }, ...mine.map((a) =>
             el("li", { class: `sev-${a["perceived-severity"]}` },
                `${a["perceived-severity"]}: ${a["alarm-text"] || ""} `
                + `(since ${when(a["time-created"])})`))))
      : el("p", { class: "slice-alarms-none" }, "No active slice-sla-violation alarm."),
    table(`${id}-owned`, "Owned device resources",
      ["Device", "Kind", "Resource", "Registers", "Amount"],
      owned.map((r) => row({}, r.device, r.kind, r.resource, (r.register || []).join(", "),
                           num(r.amount, 4)))),
    table(`${id}-frag-nodes`, "Fragmentation: memory reserved and idle",
      ["Node", "Reserved qubits", "Idle qubits"],
      (frag.node || []).map((n) => row({}, n["node-id"], n["reserved-qubits"],
                                       n["idle-qubits"]))),
    table(`${id}-frag-links`, "Fragmentation: fibre time share reserved and idle",
      ["Link", "Reserved share", "Idle share"],
      (frag.link || []).map((l) => row({}, l["link-id"], num(l["reserved-share"], 4),
                                       num(l["idle-share"], 4)))));
}

export async function mount(main, ctx) {
  useStylesheet("views.css");
  const status = el("p", { id: "slice-status", "aria-live": "polite" });
  const box = el("div", { id: "slices" });
  main.append(el("h2", {}, "Slices"), status, box);

  async function refresh() {
    try {
      const [data, alarms] = await Promise.all([ctx.operational(PATH), loadAlarms(ctx)]);
      const slices = slicesOf(data);
      box.replaceChildren(...(slices.length
        ? slices.map((sl, i) => sliceCard(sl, alarms, i))
        : [el("p", {}, "No slices (or none you may read).")]));
      status.textContent = `${slices.length} slices.`;
      main.dataset.ready = "true";
    } catch (err) {
      status.textContent = String(err);
    }
  }
  const off = ctx.onEvent(debounced(refresh, 300));
  await refresh();
  return { unmount() { off(); } };
}
