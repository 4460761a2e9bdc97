// Topology: end nodes, repeaters, q-ROADMs, APCs and fibres from <operational>
// (RFC 8345 ietf-network with the sdqn-topology augments), links coloured by measured
// fidelity or QBER, stale values greyed with their age, alarmed resources highlighted.
import cytoscape from "../vendor/cytoscape.esm.min.js";
import { ageText, loadAlarms, resourceTarget, typeName } from "./alarmdata.js";

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
const SHAPES = { "end-node": "ellipse", repeater: "diamond", "q-roadm": "hexagon",
                 apc: "round-rectangle" };
const STALE_AFTER_MS = 30000;
const REFRESH_MS = 5000;

function kindOf(node) {
  const kind = (node["sdqn-topology:quantum-node"] || {})["device-kind"] || "";
  return kind.includes(":") ? kind.split(":")[1] : kind || "node";
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

  const toggle = el("button", { type: "button", id: "scale-toggle", "aria-pressed": "false" },
                    "Colour by QBER");
  const legend = el("ul", { class: "legend", id: "legend", "aria-label": "Link colour legend" });
  const cyBox = el("div", { id: "cy", role: "img", "aria-label": "Topology map" });
  const details = el("div", { class: "panel", id: "details", "aria-live": "polite" },
                     el("p", {}, "Select a node or fibre for details."));
  const rootAlarms = el("div", { class: "panel", id: "root-alarms" });
  const linkTable = el("table", { id: "link-table" });
  main.append(
    el("h2", {}, "Topology"),
    el("div", { class: "toolbar" }, toggle, legend),
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
      { selector: "node", style: { label: "data(id)", "background-color": "#0b5cad",
        color: "#1b2a3a", "font-size": 12, "text-valign": "bottom", "text-margin-y": 4,
        shape: "data(shape)", width: 28, height: 28 } },
      { selector: "node[?alarmed]", style: { "border-width": 5, "border-color": "#b42318" } },
      { selector: "node[?down]", style: { "background-color": "#b42318" } },
      { selector: "edge", style: { width: 4, "line-color": "data(colour)",
        "curve-style": "bezier" } },
      { selector: "edge[?stale]", style: { "line-style": "dashed" } },
      { selector: "edge[?alarmed]", style: { width: 8 } },
      { selector: ":selected", style: { "overlay-color": "#c2410c", "overlay-opacity": 0.25 } },
    ],
  });
  window.sdqnTopology = { cy };
  cy.on("tap", "node, edge", (evt) => { selected = evt.target.id(); showDetails(); });

  function alarmsOn(kind, id) {
    return alarms.filter((a) => !a["is-cleared"]
      && resourceTarget(a.resource).kind === kind && resourceTarget(a.resource).id === id);
  }

  function linkState(link) {
    const state = (link["sdqn-topology:quantum-link"] || {}).state || {};
    const now = Date.now();
    const age = state["last-updated"] ? now - Date.parse(state["last-updated"]) : Infinity;
    const stale = state.stale === true || age > STALE_AFTER_MS;
    const down = state["oper-status"] && !String(state["oper-status"]).endsWith("up");
    const raw = state[SCALES[scale].field];
    const value = raw === undefined ? NaN : Number(raw);
    let grade = down ? "bad" : Number.isNaN(value) ? "stale" : SCALES[scale].grade(value);
    if (stale && !down) grade = "stale";
    return { state, stale, down, value, grade, age: ageText(state["last-updated"], now) };
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
    toggle.textContent = scale === "fidelity" ? "Colour by QBER" : "Colour by fidelity";
    toggle.setAttribute("aria-pressed", String(scale === "qber"));
  }

  function render() {
    if (!network) return;
    const nodes = network.node || [];
    const links = network["ietf-network-topology:link"] || [];
    const known = new Set(cy.elements().map((e) => e.id()));
    const fresh = [];
    for (const n of nodes) {
      const q = n["sdqn-topology:quantum-node"] || {};
      const status = (q.state || {})["oper-status"] || "";
      const data = { id: n["node-id"], kind: kindOf(n), shape: SHAPES[kindOf(n)] || "ellipse",
                     alarmed: alarmsOn("node", n["node-id"]).length > 0,
                     down: status !== "" && !status.endsWith("up") };
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
        el("td", {}, s.down ? "down" : "up"),
        el("td", { class: s.stale ? "stale" : "" }, s.age),
        el("td", {}, data.alarmed ? "alarm" : ""));
      rows.push(row);
    }
    if (fresh.length) {
      cy.add(fresh);
      cy.layout({ name: "cose", animate: false, randomize: false, nodeRepulsion: 9000,
                  idealEdgeLength: 90 }).run();
      cy.fit(undefined, 30);
    }
    linkTable.replaceChildren(
      el("caption", {}, `Fibres, coloured by ${SCALES[scale].label}`),
      el("thead", {}, el("tr", {}, ...["Fibre", "Ends", SCALES[scale].label, "Status",
                                         "Measured", "Alarm"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows));
    renderRoots();
    showDetails();
    main.dataset.ready = "true";
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
      add("Status", (st["oper-status"] || "unknown").replace(/^.*:/, ""));
      add("Last update", ageText(st["last-updated"]));
      for (const a of alarmsOn("node", selected)) add("Alarm", `${typeName(a)}: ${a["alarm-text"] || ""}`);
    } else if (link) {
      const s = linkState(link);
      add("Fibre", selected);
      add("Ends", `${link.source["source-node"]} – ${link.destination["dest-node"]}`);
      for (const f of ["measured-fidelity", "qber", "generation-rate", "loss", "decoherence-time"]) {
        if (s.state[f] !== undefined) add(f, `${s.state[f]}${s.stale ? " (stale)" : ""}`);
      }
      add("Status", s.down ? "down" : "up");
      add("Measured", s.age);
      for (const a of alarmsOn("link", selected)) add("Alarm", `${typeName(a)}: ${a["alarm-text"] || ""}`);
    } else return;
    details.replaceChildren(el("h3", {}, "Details"), dl);
  }

  let pending = null;
  async function refresh() {
    try {
      const [nets, list] = await Promise.all([ctx.operational("ietf-network:networks"),
                                              loadAlarms(ctx)]);
      network = ((nets && nets["ietf-network:networks"]) || {}).network?.[0] || null;
      alarms = list;
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
  const timer = setInterval(refresh, REFRESH_MS);   // telemetry ages move without events
  await refresh();
  return { unmount() { off(); clearInterval(timer); cy.destroy(); delete window.sdqnTopology; } };
}
