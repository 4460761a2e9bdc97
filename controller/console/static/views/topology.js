// Topology: end nodes, repeaters, q-ROADMs, APCs and fibres from <operational>
// (RFC 8345 ietf-network with the sdqn-topology augments), links coloured by measured
// fidelity or QBER, stale values greyed with their age, alarmed resources highlighted.
import cytoscape from "../vendor/cytoscape.esm.min.js";
import { ageText, loadAlarms, resourceTarget, snapshotAlarms, typeName } from "./alarmdata.js";
import { errorText } from "./viewkit.js";

const COLOURS = { good: "#1a7f37", fair: "#9a6700", bad: "#b42318", stale: "#8c96a3" };
// Thresholds: fidelity 0.9 is where most applications stop being served; QBER 11 % is
// where the BB84 secret fraction reaches zero (the controller's own alarm thresholds).
const SCALES = {
  fidelity: { field: "measured-fidelity", label: "Fidelity",
              grade: (v) => (v >= 0.95 ? "good" : v >= 0.9 ? "fair" : "bad"),
              legend: ["≥ 0.95", "0.90 – 0.95", "< 0.90 or down"] },
  qber: { field: "qber", label: "QBER",
          grade: (v) => (v <= 0.05 ? "good" : v <= 0.11 ? "fair" : "bad"),
          legend: ["≤ 5 %", "5 – 11 %", "> 11 % or down"] },
};
// Node fill by the device's RFC-style operational status (sdqn-types oper-status
// identities), each distinct; "stale" when the values were not refreshed lately.
const NODE_COLOURS = { up: "#1a7f37", degraded: "#9a6700", down: "#b42318",
                       testing: "#6639ba", unknown: "#5f6b7a", stale: "#c4cad1" };
const NODE_LEGEND = ["up", "degraded", "down", "testing", "unknown", "stale"];
const LINK_LEAVES = ["oper-status", "measured-fidelity", "qber", "generation-rate", "loss",
                     "polarisation-drift-rate", "decoherence-time", "stale"];
// The sdqn-topology quantum-node state leaves sdqn-history records per node.
const NODE_LEAVES = ["oper-status", "stable", "last-change", "memory-in-use", "stale"];
const SHAPES = { "end-node": "ellipse", repeater: "diamond", "q-roadm": "hexagon",
                 apc: "round-rectangle" };
const STALE_AFTER_MS = 30000;
const REFRESH_MS = 5000;

// sdqn-controller:calibrate-apc as an RFC 8040 §3.6 operation: the controller runs the APC's
// calibrate action through its southbound session (and its scheduler counts from it).
export const CALIBRATE_URL = "/restconf/operations/sdqn-controller:calibrate-apc";

function kindOf(node) {
  const kind = (node["sdqn-topology:quantum-node"] || {})["device-kind"] || "";
  return kind.includes(":") ? kind.split(":")[1] : kind || "node";
}

function nodeStatus(node, now) {
  const st = (node["sdqn-topology:quantum-node"] || {}).state || {};
  const raw = String(st["oper-status"] || "").replace(/^.*:/, "");
  const status = NODE_COLOURS[raw] && raw !== "stale" ? raw : "unknown";
  const age = st["last-updated"] ? now - Date.parse(st["last-updated"]) : Infinity;
  if (raw && (st.stale === true || age > STALE_AFTER_MS)) return "stale";
  return status;
}

// The fibres each APC compensates (sdqn-topology `compensator`).
function compensated(links) {
  const byApc = new Map();
  for (const l of links) {
    const apc = (l["sdqn-topology:quantum-link"] || {}).compensator;
    if (!apc) continue;
    if (!byApc.has(apc)) byApc.set(apc, []);
    byApc.get(apc).push(l);
  }
  return byApc;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

export async function mount(main, ctx) {
  let scale = "fidelity";
  let network = null;
  let alarms = [];
  let selected = null;
  let servicePath = [];
  let unsampled = new Set();   // as of ctx.asOf: nodes the history holds no state of
  // The answer to the last action on each resource (element id → {id, text}): the details
  // panel is redrawn on every live update, and an answer must outlive the redraw, or an
  // operator could miss it (it says when it came, since it is not live).
  const answers = new Map();
  const service = new URLSearchParams(location.hash.split("?")[1] || "").get("service");

  const toggle = el("button", { type: "button", id: "scale-toggle", "aria-pressed": "false" },
                    "Colour by QBER");
  const legend = el("ul", { class: "legend", id: "legend", "aria-label": "Link colour legend" });
  const nodeLegend = el("ul", { class: "legend", id: "node-legend",
                                "aria-label": "Node colour legend" });
  const asOf = el("p", { id: "topology-asof", class: "asof", "aria-live": "polite" });
  const cyBox = el("div", { id: "cy", role: "img", "aria-label": "Topology map" });
  const details = el("div", { class: "panel", id: "details", "aria-live": "polite" },
                     el("p", {}, "Select a node or fibre for details."));
  const rootAlarms = el("div", { class: "panel", id: "root-alarms" });
  const linkTable = el("table", { id: "link-table" });
  main.append(
    el("h2", {}, "Topology"),
    asOf,
    el("div", { class: "toolbar" }, toggle, legend),
    el("div", { class: "toolbar" }, nodeLegend),
    el("div", { class: "topology-wrap" }, cyBox, el("div", {}, details, rootAlarms)),
    el("div", { class: "panel" }, el("h3", {}, "Fibres"), linkTable),
  );

  // Cytoscape injects a <style> element (blocked by the CSP's style-src 'self') unless an
  // element with this id exists; console.css carries the one rule it would add.
  if (!document.getElementById("__________cytoscape_stylesheet")) {
    const marker = document.createElement("meta");
    marker.id = "__________cytoscape_stylesheet";
    document.head.append(marker);
  }
  const cy = cytoscape({
    container: cyBox,
    boxSelectionEnabled: false,
    style: [
      { selector: "node", style: { label: "data(id)", "background-color": "data(fill)",
        color: "#1b2a3a", "font-size": 12, "text-valign": "bottom", "text-margin-y": 4,
        shape: "data(shape)", width: 28, height: 28 } },
      { selector: "node[?alarmed]", style: { "border-width": 5, "border-color": "#b42318" } },
      { selector: "node[status = 'stale']", style: { "border-width": 2, "border-style": "dashed",
        "border-color": "#5f6b7a" } },
      { selector: "node[kind = 'apc']", style: { width: 20, height: 14 } },
      { selector: "node.on-path", style: { "underlay-color": "#0b5cad", "underlay-opacity": 0.35,
        "underlay-padding": 8 } },
      { selector: "edge.on-path", style: { "underlay-color": "#0b5cad", "underlay-opacity": 0.35,
        "underlay-padding": 6 } },
      { selector: "edge", style: { width: 4, "line-color": "data(colour)",
        "curve-style": "bezier" } },
      { selector: "edge[?stale]", style: { "line-style": "dashed" } },
      { selector: "edge[?alarmed]", style: { width: 8 } },
      { selector: ":selected", style: { "overlay-color": "#c2410c", "overlay-opacity": 0.25 } },
    ],
  });
  // Dashed lines from each APC to the ends of the fibre it compensates: drawn on an SVG
  // over the map, not as Cytoscape edges, since they are attachments, not fibres.
  const SVG = "http://www.w3.org/2000/svg";
  const overlay = document.createElementNS(SVG, "svg");
  overlay.setAttribute("class", "apc-overlay");
  overlay.setAttribute("aria-hidden", "true");
  cyBox.append(overlay);
  let attachments = [];
  function drawAttachments() {
    overlay.replaceChildren(...attachments.flatMap(([apc, ends]) => {
      const a = cy.getElementById(apc);
      if (a.empty()) return [];
      return ends.map((end) => {
        const b = cy.getElementById(end);
        if (b.empty()) return document.createComment("");
        const p = a.renderedPosition(); const q = b.renderedPosition();
        const line = document.createElementNS(SVG, "line");
        for (const [k, v] of [["x1", p.x], ["y1", p.y], ["x2", q.x], ["y2", q.y]]) line.setAttribute(k, v);
        line.setAttribute("class", "apc-attachment");
        line.dataset.apc = apc;
        return line;
      });
    }));
  }
  cy.on("render viewport", drawAttachments);
  window.sdqnTopology = { cy, attachments: () => attachments, refresh: () => refresh(),
                          refreshing: () => running !== null };
  cy.on("tap", "node, edge", (evt) => { selected = evt.target.id(); showDetails(); });

  function alarmsOn(kind, id) {
    return alarms.filter((a) => !a["is-cleared"]
      && resourceTarget(a.resource).kind === kind && resourceTarget(a.resource).id === id);
  }

  function clock() { return ctx.asOf ? Date.parse(ctx.asOf) : Date.now(); }

  function linkState(link) {
    const state = (link["sdqn-topology:quantum-link"] || {}).state || {};
    const now = clock();
    const age = state["last-updated"] ? now - Date.parse(state["last-updated"]) : Infinity;
    const stale = state.stale === true || age > STALE_AFTER_MS;
    const reported = state["oper-status"];
    const reportedDown = Boolean(reported) && !String(reported).endsWith("up");
    // An active fibre-cut alarm (a device saw loss of light, RFC 8632) says the fibre is
    // down even where no device measures it any more (a fibre no service uses).
    const cut = alarmsOn("link", link["link-id"]).some(
      (a) => String(a["alarm-type-id"]).endsWith(":fibre-cut"));
    const down = reportedDown || cut;
    const status = reportedDown ? "down" : cut ? "down (fibre-cut alarm)"
      : reported ? "up" : "unknown (not measured)";
    const raw = state[SCALES[scale].field];
    const value = raw === undefined ? NaN : Number(raw);
    let grade = down ? "bad" : Number.isNaN(value) ? "stale" : SCALES[scale].grade(value);
    if (stale && !down) grade = "stale";
    return { state, stale, down, status, value, grade,
             age: ageText(state["last-updated"], now) };
  }

  function renderLegend() {
    const s = SCALES[scale];
    legend.replaceChildren(el("li", {}, el("strong", {}, `${s.label}:`)),
      ...["good", "fair", "bad"].map((g, i) => el("li", {},
        el("span", { class: "swatch" }), s.legend[i])),
      el("li", {}, el("span", { class: "swatch" }), "stale (greyed, dashed)"));
    // colours set through the CSSOM (a style attribute in markup is blocked by the CSP)
    const swatches = legend.querySelectorAll(".swatch");
    ["good", "fair", "bad", "stale"].forEach((g, i) => {
      swatches[i].style.background = COLOURS[g];
    });
    nodeLegend.replaceChildren(el("li", {}, el("strong", {}, "Nodes:")),
      ...NODE_LEGEND.map((g) => el("li", {}, el("span", { class: "swatch node-swatch" }), g)));
    nodeLegend.querySelectorAll(".swatch").forEach((sw, i) => {
      sw.style.background = NODE_COLOURS[NODE_LEGEND[i]];
    });
    toggle.textContent = scale === "fidelity" ? "Colour by QBER" : "Colour by fidelity";
    toggle.setAttribute("aria-pressed", String(scale === "qber"));
  }

  function render() {
    if (!network) return;
    const nodes = network.node || [];
    const links = network["ietf-network-topology:link"] || [];
    const known = new Set(cy.elements().map((e) => e.id()));
    const fresh = [];
    const now = clock();
    for (const n of nodes) {
      const status = nodeStatus(n, now);
      const data = { id: n["node-id"], kind: kindOf(n), shape: SHAPES[kindOf(n)] || "ellipse",
                     alarmed: alarmsOn("node", n["node-id"]).length > 0,
                     status, fill: NODE_COLOURS[status], down: status === "down" };
      if (known.has(data.id)) cy.getElementById(data.id).data(data);
      else fresh.push({ group: "nodes", data });
    }
    const rows = [];
    for (const l of links) {
      const s = linkState(l);
      const data = { id: l["link-id"], source: l.source["source-node"],
                     target: l.destination["dest-node"], colour: COLOURS[s.grade],
                     grade: s.grade, stale: s.stale,
                     alarmed: alarmsOn("link", l["link-id"]).length > 0 };
      if (known.has(data.id)) cy.getElementById(data.id).data(data);
      else fresh.push({ group: "edges", data });
      const valueText = Number.isNaN(s.value) ? "–" : s.value.toFixed(4);
      const row = el("tr", { "data-link-id": data.id, "data-grade": s.grade },
        el("td", {}, data.id), el("td", {}, `${data.source} – ${data.target}`),
        el("td", { class: s.grade === "stale" ? "stale" : "" }, valueText),
        el("td", {}, s.status),
        el("td", { class: s.stale ? "stale" : "" }, s.age),
        el("td", {}, data.alarmed ? "alarm" : ""));
      rows.push(row);
    }
    if (fresh.length) {
      cy.add(fresh);
      layout(links);
    }
    markPath();
    linkTable.replaceChildren(
      el("caption", {}, `Fibres, coloured by ${SCALES[scale].label}`),
      el("thead", {}, el("tr", {}, ...["Fibre", "Ends", SCALES[scale].label, "Status",
                                         "Measured", "Alarm"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows));
    renderRoots();
    showDetails();
    main.dataset.ready = "true";
  }

  // Deterministic: seeded on a circle in id order, then cose (no randomisation) with room
  // between nodes; APCs leave the layout and sit on the middle of their fibre.
  function layout(links) {
    const byApc = compensated(links);
    const core = cy.nodes().filter((n) => n.data("kind") !== "apc" || !byApc.has(n.id()));
    const ids = core.map((n) => n.id()).sort();
    ids.forEach((id, i) => {
      const a = (2 * Math.PI * i) / ids.length;
      cy.getElementById(id).position({ x: 400 * Math.cos(a), y: 400 * Math.sin(a) });
    });
    core.union(core.edgesWith(core)).layout({
      name: "cose", animate: false, randomize: false, nodeRepulsion: 400000,
      idealEdgeLength: 140, nodeOverlap: 40, componentSpacing: 120, gravity: 0.25,
      numIter: 2000, fit: false }).run();
    attachments = [];
    for (const [apc, fibres] of byApc) {
      const node = cy.getElementById(apc);
      const f = fibres[0];
      const a = cy.getElementById(f.source["source-node"]).position();
      const b = cy.getElementById(f.destination["dest-node"]).position();
      if (node.empty()) continue;
      // the fibre's midpoint, nudged off the line so the fibre stays visible
      const dx = b.x - a.x; const dy = b.y - a.y; const len = Math.hypot(dx, dy) || 1;
      node.position({ x: (a.x + b.x) / 2 - (dy / len) * 28, y: (a.y + b.y) / 2 + (dx / len) * 28 });
      attachments.push([apc, [f.source["source-node"], f.destination["dest-node"]]]);
    }
    cy.fit(undefined, 30);
    drawAttachments();
  }

  function markPath() {
    cy.elements().removeClass("on-path");
    if (servicePath.length < 2) return;
    for (const id of servicePath) cy.getElementById(id).addClass("on-path");
    for (let i = 1; i < servicePath.length; i += 1) {
      cy.edges().filter((e) => (e.source().id() === servicePath[i - 1]
                                && e.target().id() === servicePath[i])
        || (e.source().id() === servicePath[i] && e.target().id() === servicePath[i - 1]))
        .addClass("on-path");
    }
  }

  function renderRoots() {
    const active = alarms.filter((a) => !a["is-cleared"]
      && ((a["root-cause-resource"] || []).length === 0
          || a["root-cause-resource"].includes(a.resource)));
    rootAlarms.replaceChildren(el("h3", {}, "Active root alarms"),
      active.length === 0 ? el("p", {}, "None.")
        : el("ul", { id: "root-alarm-list" }, ...active.map((a) => {
          const t = resourceTarget(a.resource);
          return el("li", { "data-alarm-type": typeName(a), "data-resource": t.id,
                            class: `sev-${a["perceived-severity"]}` },
                    `${typeName(a)} on ${t.kind} ${t.id}: ${a["alarm-text"] || ""}`);
        })));
  }

  function showDetails() {
    if (!selected || !network) return;
    const node = (network.node || []).find((n) => n["node-id"] === selected);
    const link = (network["ietf-network-topology:link"] || []).find((l) => l["link-id"] === selected);
    const dl = el("dl", {});
    const add = (k, v) => dl.append(el("dt", {}, k), el("dd", {}, String(v)));
    if (node) {
      const q = node["sdqn-topology:quantum-node"] || {};
      const st = q.state || {};
      add("Node", selected);
      add("Kind", kindOf(node));
      add("Status", ctx.asOf && unsampled.has(selected)
        ? "unknown: the history holds no state of this node at that time"
        : nodeStatus(node, clock()));
      if (st.stable !== undefined) add("Stable", st.stable ? "yes" : "no");
      if (st["memory-in-use"] !== undefined) add("Memory in use", st["memory-in-use"]);
      if (st["last-change"]) add("Status changed", ageText(st["last-change"], clock()));
      add("Last update", ageText(st["last-updated"], clock()));
      for (const a of alarmsOn("node", selected)) add("Alarm", `${typeName(a)}: ${a["alarm-text"] || ""}`);
      if (kindOf(node) === "apc") {
        const fibres = compensated(network["ietf-network-topology:link"] || []).get(selected) || [];
        add("Compensates", fibres.map((f) => f["link-id"]).join(", ") || "–");
      }
    } else if (link) {
      const s = linkState(link);
      add("Fibre", selected);
      add("Ends", `${link.source["source-node"]} – ${link.destination["dest-node"]}`);
      for (const f of ["measured-fidelity", "qber", "generation-rate", "loss", "decoherence-time"]) {
        if (s.state[f] !== undefined) add(f, `${s.state[f]}${s.stale ? " (stale)" : ""}`);
      }
      add("Status", s.status);
      add("Measured", s.age);
      for (const a of alarmsOn("link", selected)) add("Alarm", `${typeName(a)}: ${a["alarm-text"] || ""}`);
    } else return;
    details.replaceChildren(el("h3", {}, "Details"), dl, ...actions(node),
                            ...[...(answers.get(selected) || new Map()).values()]
                              .map((a) => el("p", { id: a.id, role: "status" }, a.text)));
  }

  // Keeps an action's answer for `target` and shows it at once if `target` is selected.
  function answer(target, id, text) {
    const at = new Date().toLocaleTimeString();
    const kept = answers.get(target) || new Map();
    kept.set(id, { id, text: `${text} (answered at ${at})` });
    answers.set(target, kept);
    if (selected === target) showDetails();
  }

  // A button that POSTs an operation for the selected resource and keeps its answer
  // (`says` turns the response and the resource into text); a request that got no answer
  // says so.
  function actionButton(id, label, url, body, says) {
    const b = el("button", { type: "button", id }, label);
    const target = selected;
    b.addEventListener("click", async () => {
      let text;
      try {
        text = says(await ctx.post(url, body(target)), target);
      } catch (err) {
        text = `${label}: not sent (${err})`;
      }
      answer(target, `${id}-result`, text);
    });
    return b;
  }

  // Actions on the selected resource: an APC's calibration (sdqn-apc `calibrate`), and the
  // answer of the drill running in this browser.
  function actions(node) {
    const out = [];
    const drill = sessionStorage.getItem("sdqn-drill");
    if (drill && ctx.whoami.may.drill && !ctx.asOf) {
      out.push(actionButton("drill-answer", `Answer the drill: ${selected}`,
        "/restconf/operations/sdqn-drills:submit-localisation",
        (target) => ({ "sdqn-drills:input": { "drill-id": drill, resource: target } }),
        (res, target) => {
          const o = (res.body || {})["sdqn-drills:output"] || {};
          sessionStorage.setItem("sdqn-drill-answer", JSON.stringify({ resource: target, ...o }));
          return res.ok
            ? `${o.correct ? "Correct" : "Incorrect"}: ${o["time-to-localise"]} s, score ${o.score}`
            : `Refused (HTTP ${res.status}): ${errorText(res)}`;
        }));
    }
    if (node && kindOf(node) === "apc" && ctx.whoami.may.calibrate && !ctx.asOf) {
      out.push(actionButton("calibrate", `Calibrate ${selected}`, CALIBRATE_URL,
        (target) => ({ "sdqn-controller:input": { "node-id": target, force: false } }),
        (res) => {
          const o = (res.body || {})["sdqn-controller:output"] || {};
          return res.ok
            ? `Calibration: ${o.result}`
              + (o["expected-duration"] ? ` (about ${o["expected-duration"]} s)` : "")
            : `Calibration refused (HTTP ${res.status}): ${errorText(res)}`;
        }));
    }
    return out;
  }

  // A get-snapshot sample as the sdqn-topology state container it was taken from.
  function pastState(sample, leaves) {
    const state = {};
    if (!sample) return state;
    for (const k of leaves) if (sample[k] !== undefined) state[k] = sample[k];
    state["last-updated"] = sample["measured-at"] || sample.sampled;
    return state;
  }

  // The network as it was at ctx.asOf: the structure of today's network, each node's and
  // fibre's state and the active alarms from get-snapshot; a node without a sample then
  // (or whose state was withdrawn by then) has no oper-status, so it is drawn unknown.
  async function historical(nets) {
    const snap = await ctx.snapshot(ctx.asOf);
    const links = new Map((snap.link || []).map((l) => [l["link-id"], l]));
    const nodes = new Map((snap.node || []).map((n) => [n["node-id"], n]));
    const net = structuredClone(nets);
    for (const l of net["ietf-network-topology:link"] || []) {
      const q = l["sdqn-topology:quantum-link"] || (l["sdqn-topology:quantum-link"] = {});
      q.state = pastState(links.get(l["link-id"]), LINK_LEAVES);
    }
    const missing = new Set();
    for (const n of net.node || []) {
      const q = n["sdqn-topology:quantum-node"] || (n["sdqn-topology:quantum-node"] = {});
      const s = nodes.get(n["node-id"]);
      q.state = pastState(s, NODE_LEAVES);
      if (!s || s.removed === true) missing.add(n["node-id"]);
    }
    return { net, alarms: snapshotAlarms(snap), unsampled: missing };
  }

  // One refetch of the whole topology at a time. A refresh asked for while one runs (an
  // event, the age timer, the time slider) is folded into a single rerun after it: on a
  // large network a burst would otherwise stack concurrent reads of the same ~100 KB
  // document on the daemon, and the rerun still draws what changed after the request.
  let running = null;
  let rerun = false;
  function refresh() {
    if (running) rerun = true;
    else running = drain();
    return running;
  }
  async function drain() {
    do {
      rerun = false;
      await load();
    } while (rerun);
    running = null;   // in the same turn as the last check: no request slips in between
  }

  let pending = null;
  async function load() {
    try {
      const when = ctx.asOf;
      const [nets, list] = await Promise.all([ctx.operational("ietf-network:networks"),
                                              when ? [] : loadAlarms(ctx)]);
      const live = ((nets && nets["ietf-network:networks"]) || {}).network?.[0] || null;
      if (when && live) {
        const past = await historical(live);
        if (when !== ctx.asOf) return;   // the slider moved on meanwhile
        network = past.net;
        alarms = past.alarms;
        unsampled = past.unsampled;
        asOf.textContent = `As of ${new Date(when).toLocaleString()} — history, not live`;
        main.dataset.asOf = when;
      } else {
        network = live;
        alarms = list;
        asOf.textContent = "";
        delete main.dataset.asOf;
      }
      if (service) {
        const req = await ctx.operational(
          `sdqn-services:entanglement-services/request=${encodeURIComponent(service)}`);
        const r = req && (req["sdqn-services:request"] || [])[0];
        servicePath = (r && r.state && r.state.path) || [];
        asOf.textContent += servicePath.length ? ` Path of ${service}: ${servicePath.join(" → ")}`
          : ` Service ${service} has no admitted path.`;
      }
      render();
    } catch (err) {
      details.replaceChildren(el("p", { class: "error" }, String(err)));
    }
  }
  // Bursts of events cost one refetch.
  function soon() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh(); }, 150);
  }

  toggle.addEventListener("click", () => {
    scale = scale === "fidelity" ? "qber" : "fidelity";
    renderLegend();
    render();
  });
  renderLegend();
  const off = ctx.onEvent(soon);
  const offTime = ctx.onTime(() => refresh());
  const timer = setInterval(() => { if (!ctx.asOf) refresh(); }, REFRESH_MS);   // ages move
  await refresh();
  return { unmount() {
    off(); offTime(); clearInterval(timer); cy.destroy(); delete window.sdqnTopology;
  } };
}
