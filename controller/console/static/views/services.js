// Services: every entanglement request with its state (sdqn-services operational state:
// admission, oper-state with its reason and last change), the admitted path (a link to
// the topology view, which highlights it), and predicted vs measured rate and fidelity over
// time from the controller's history (sdqn-history get-history, RFC 8040 §3.6 operation).
// Measured points sit at their measured-at; stale ones are drawn as a separate series.
import uPlot from "../vendor/uplot.esm.js";
import { debounced, el, num, operation, row, table, useStylesheet, when } from "./viewkit.js";

const PATH = "sdqn-services:entanglement-services";
const CHART_REFRESH_MS = 5000;

export function requests(data) {
  return ((data || {})[PATH] || {}).request || [];
}

function stateCell(state) {
  const oper = state["oper-state"] || "";
  const name = oper.includes(":") ? oper.split(":")[1] : oper || state.admission || "unknown";
  return el("td", { class: `state state-${name}`, "data-state": name }, name);
}

function pathCell(req) {
  const path = (req.state || {}).path || [];
  if (!path.length) return el("td", {}, "not admitted");
  return el("td", {}, el("a", { href: `#/topology?service=${encodeURIComponent(req.name)}`,
                                "aria-label": `Show the path of ${req.name} on the topology` },
                         path.join(" › ")));
}

function measuredCell(value, state, digits) {
  const text = num(value, digits);
  if (state.stale) {
    return el("td", { class: "stale", title: `stale since ${when(state["last-updated"])}` },
              `${text} (stale)`);
  }
  return el("td", {}, text);
}

// get-history samples -> uPlot columns: x (unix seconds) with predicted, measured and
// stale-measured series; a measured value is placed at its measured-at.
export function chartData(samples, predictedKey, measuredKey) {
  const points = new Map();
  const put = (t, idx, v) => {
    if (v === undefined || v === null || !t) return;
    const x = Date.parse(t) / 1000;
    if (!Number.isFinite(x)) return;
    if (!points.has(x)) points.set(x, [null, null, null]);
    points.get(x)[idx] = Number(v);
  };
  for (const s of samples) {
    if (s.removed) continue;
    put(s.time, 0, s[predictedKey]);
    put(s["measured-at"] || s.time, s.stale ? 2 : 1, s[measuredKey]);
  }
  const xs = [...points.keys()].sort((a, b) => a - b);
  return [xs, ...[0, 1, 2].map((i) => xs.map((x) => points.get(x)[i]))];
}

function chart(box, title, unit, data) {
  const width = Math.max(320, Math.min(640, box.clientWidth || 560));
  return new uPlot({
    title, width, height: 220,
    scales: { x: { time: true } },
    axes: [{}, { label: unit }],
    series: [
      {},
      { label: "predicted", stroke: "#0b5cad", width: 2, spanGaps: true },
      { label: "measured", stroke: "#1a7f37", width: 2, spanGaps: true,
        points: { show: true, size: 5 } },
      { label: "measured (stale)", stroke: "#5f6b7a", width: 1, dash: [4, 4], spanGaps: true,
        points: { show: true, size: 5 } },
    ],
  }, data, box);
}

export async function mount(main, ctx) {
  useStylesheet("vendor/uplot.min.css");
  useStylesheet("views.css");
  const status = el("p", { id: "service-status", "aria-live": "polite" });
  const list = el("section", { class: "panel", "aria-label": "Service requests" });
  const charts = el("section", { class: "panel", id: "service-charts",
                                 "aria-labelledby": "charts-h" });
  main.append(el("h2", {}, "Services"), status, list, charts);
  let selected = null;
  let plots = [];

  function render(reqs) {
    const rows = reqs.map((req) => {
      const st = req.state || {};
      const pick = el("button", { type: "button", class: "pick",
                                  "aria-label": `Charts of ${req.name}`,
                                  "aria-pressed": String(req.name === selected) }, "Charts");
      pick.addEventListener("click", () => { selected = req.name; render(reqs); showCharts(); });
      return row({ "data-service": req.name },
        el("th", { scope: "row" }, req.name), stateCell(st),
        st["oper-state-reason"] || st["rejection-reason"] || "", when(st["last-change"]),
        pathCell(req),
        num(st["predicted-rate"], 2), measuredCell(st["measured-rate"], st, 2),
        num(st["predicted-fidelity"], 4), measuredCell(st["measured-fidelity"], st, 4),
        when(st["last-updated"]), el("td", {}, pick));
    });
    list.replaceChildren(table("service-table", `Service requests (${reqs.length})`,
      ["Request", "State", "Reason", "Last change", "Path", "Predicted rate (pairs/s)",
       "Measured rate", "Predicted fidelity", "Measured fidelity", "Measured at", ""], rows));
  }

  async function showCharts() {
    for (const p of plots) p.destroy();
    plots = [];
    if (!selected) {
      charts.replaceChildren(el("h3", { id: "charts-h" }, "History"),
                             el("p", {}, "No service selected."));
      return;
    }
    const res = await operation("sdqn-history", "get-history",
                                { kind: ["service"], resource: selected });
    const samples = res.output.sample || [];
    const rateBox = el("div", { class: "chart", id: "rate-chart", role: "img",
      "aria-label": `Predicted and measured rate of ${selected} over time` });
    const fidBox = el("div", { class: "chart", id: "fidelity-chart", role: "img",
      "aria-label": `Predicted and measured fidelity of ${selected} over time` });
    const last = samples.filter((s) => s["measured-rate"] !== undefined).slice(-1)[0];
    charts.replaceChildren(
      el("h3", { id: "charts-h" }, `History of ${selected}`),
      el("p", { id: "chart-summary" }, res.ok
        ? `${samples.length} samples${last ? `; last measured ${when(last["measured-at"])}`
            + (last.stale ? " (stale)" : "") : ""}.`
        : `History unavailable (HTTP ${res.status}).`),
      el("div", { class: "charts" }, rateBox, fidBox));
    charts.dataset.samples = String(samples.length);
    if (!res.ok) return;
    plots = [chart(rateBox, "Rate", "pairs/s", chartData(samples, "predicted-rate", "measured-rate")),
             chart(fidBox, "Fidelity", "fidelity",
                   chartData(samples, "predicted-fidelity", "measured-fidelity"))];
  }

  let lastChart = 0;
  async function refresh(event) {
    try {
      const reqs = requests(await ctx.operational(PATH));
      if (selected === null && reqs.length) selected = reqs[0].name;
      render(reqs);
      status.textContent = "";
      main.dataset.ready = "true";
      if (!event || Date.now() - lastChart > CHART_REFRESH_MS) {
        lastChart = Date.now();
        await showCharts();
      }
    } catch (err) {
      status.textContent = String(err);
    }
  }
  const off = ctx.onEvent(debounced(() => refresh(true)));
  await refresh();
  return { unmount() { off(); for (const p of plots) p.destroy(); } };
}
