// Training drills (sdqn-drills): start a drill, which injects a hidden fault in the
// emulated network; localise it by naming a node or fibre (here, or by clicking it on the
// topology); the controller scores the answer; ending the drill reveals the fault. The
// rpcs are RFC 8040 §3.6 operation resources, so NACM decides as on every interface.
import { errorText } from "./viewkit.js";

const OPS = "/restconf/operations/sdqn-drills:";
const KINDS = ["fibre-cut", "crash", "drift-surge", "apc-out-of-spec", "detector-failure",
               "memory-degradation", "timing-skew"];

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

export async function mount(main, ctx) {
  const may = ctx.whoami.may.drill;
  const status = el("p", { id: "drill-status", role: "status", "aria-live": "polite" });
  const elapsed = el("p", { id: "drill-elapsed", "aria-live": "off" });
  const result = el("div", { id: "drill-result", "aria-live": "polite" });
  const kind = el("select", { id: "drill-kind" },
                  el("option", { value: "" }, "any fault"),
                  ...KINDS.map((k) => el("option", { value: k }, k)));
  const startBtn = el("button", { type: "button", id: "drill-start" }, "Start drill");
  const resource = el("select", { id: "drill-resource" });
  const submitBtn = el("button", { type: "button", id: "drill-submit" }, "Submit localisation");
  const endBtn = el("button", { type: "button", id: "drill-end" }, "End drill");
  const history = el("table", { id: "drill-history" });
  const controls = el("section", { class: "panel", "aria-labelledby": "drill-run-h" },
    el("h3", { id: "drill-run-h" }, "Run a drill"),
    el("div", { class: "toolbar" },
       el("label", { for: "drill-kind" }, "Fault"), kind, startBtn),
    status, elapsed,
    el("div", { class: "toolbar" },
       el("label", { for: "drill-resource" }, "Faulted resource"), resource, submitBtn, endBtn),
    el("p", {}, "Or select the node or fibre on the ",
       el("a", { href: "#/topology" }, "topology"), " and answer there."),
    result);
  main.append(el("h2", {}, "Drills"),
    may ? controls : el("p", { id: "drill-no-access" }, "You may not run drills."),
    el("section", { class: "panel", "aria-labelledby": "drill-hist-h" },
       el("h3", { id: "drill-hist-h" }, "History"), history));

  let drill = null;   // { id, started }
  let tick = null;

  function showState() {
    const running = drill !== null;
    startBtn.disabled = running;
    submitBtn.disabled = !running;
    endBtn.disabled = !running;
    resource.disabled = !running;
    if (!running) elapsed.textContent = "";
  }

  function startClock() {
    clearInterval(tick);
    tick = setInterval(() => {
      if (!drill) return;
      const s = Math.max(0, Math.round((Date.now() - Date.parse(drill.started)) / 1000));
      elapsed.textContent = `Elapsed: ${s} s`;
    }, 500);
  }

  async function loadResources() {
    const nets = await ctx.operational("ietf-network:networks");
    const net = ((nets && nets["ietf-network:networks"]) || {}).network?.[0] || {};
    const nodes = (net.node || []).map((n) => n["node-id"]).sort();
    const links = (net["ietf-network-topology:link"] || []).map((l) => l["link-id"]).sort();
    resource.replaceChildren(
      el("optgroup", { label: "Nodes" }, ...nodes.map((n) => el("option", { value: n }, n))),
      el("optgroup", { label: "Fibres" }, ...links.map((l) => el("option", { value: l }, l))));
  }

  function scoreText(o) {
    return `${o.correct ? "Correct" : "Incorrect"} — time to localise ${o["time-to-localise"]} s,`
      + ` credit ${o.credit}, score ${o.score}`;
  }

  async function loadHistory() {
    const data = await ctx.operational("sdqn-drills:drills");
    const rows = ((data && data["sdqn-drills:drills"]) || {}).drill || [];
    const active = rows.find((d) => d.state === "active");
    if (active && !drill) {
      drill = { id: active.id, started: active.started };
      sessionStorage.setItem("sdqn-drill", drill.id);
      startClock();
    }
    if (!active && drill) {
      drill = null;
      sessionStorage.removeItem("sdqn-drill");
    }
    history.replaceChildren(
      el("caption", {}, "Recent drills, newest last"),
      el("thead", {}, el("tr", {}, ...["Drill", "Started", "State", "Fault", "Answer",
        "Correct", "Time to localise (s)", "Score"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows.map((d) => el("tr", { "data-drill-id": d.id },
        el("td", {}, d.id), el("td", {}, new Date(d.started).toLocaleString()),
        el("td", {}, d.state || ""),
        el("td", {}, d.fault ? `${d.fault.kind} on ${d.fault.target}` : "hidden"),
        el("td", {}, d["answered-resource"] || "–"),
        el("td", {}, d.correct === undefined ? "–" : d.correct ? "yes" : "no"),
        el("td", {}, d["time-to-localise"] ?? "–"),
        el("td", {}, d.score ?? "–")))));
    showState();
  }

  startBtn.addEventListener("click", async () => {
    const input = kind.value ? { "fault-kind": kind.value } : {};
    const res = await ctx.post(`${OPS}start-drill`, { "sdqn-drills:input": input });
    if (!res.ok) { status.textContent = `Not started: ${errorText(res)}`; return; }
    const o = res.body["sdqn-drills:output"];
    drill = { id: o["drill-id"], started: o.started };
    sessionStorage.setItem("sdqn-drill", drill.id);
    result.replaceChildren();
    status.textContent = `Drill ${drill.id} started: a fault is hidden somewhere. Find it.`;
    startClock();
    await loadHistory();
  });

  submitBtn.addEventListener("click", async () => {
    if (!drill) return;
    const res = await ctx.post(`${OPS}submit-localisation`,
      { "sdqn-drills:input": { "drill-id": drill.id, resource: resource.value } });
    if (!res.ok) { status.textContent = `Answer refused: ${errorText(res)}`; return; }
    const o = res.body["sdqn-drills:output"];
    result.replaceChildren(el("p", { id: "drill-score", class: o.correct ? "good" : "bad-text" },
                              `${resource.value}: ${scoreText(o)}`));
    status.textContent = "Answer scored. End the drill to reveal the fault.";
    await loadHistory();
  });

  endBtn.addEventListener("click", async () => {
    if (!drill) return;
    const res = await ctx.post(`${OPS}end-drill`, { "sdqn-drills:input": { "drill-id": drill.id } });
    if (!res.ok) { status.textContent = `Not ended: ${errorText(res)}`; return; }
    const o = res.body["sdqn-drills:output"];
    const f = o.fault || {};
    result.append(el("p", { id: "drill-revealed" }, `The fault was ${f.kind} on ${f.target}.`));
    status.textContent = `Drill ${drill.id} ended.`;
    drill = null;
    sessionStorage.removeItem("sdqn-drill");
    await loadHistory();
  });

  const answered = sessionStorage.getItem("sdqn-drill-answer");
  if (answered) {
    const o = JSON.parse(answered);
    result.replaceChildren(el("p", { id: "drill-score" }, `${o.resource}: ${scoreText(o)}`));
    sessionStorage.removeItem("sdqn-drill-answer");
  }
  showState();
  try {
    if (may) await loadResources();
    await loadHistory();
  } catch (err) {
    status.textContent = String(err);
  }
  main.dataset.ready = "true";
  return { unmount() { clearInterval(tick); } };
}
