// Alarms (RFC 8632 ietf-alarms in <operational>): active and cleared, each root cause with
// its derived alarms as a tree, and acknowledge (RFC 8632 §4 set-operator-state action,
// invoked as RFC 8040 §3.6 operation resource) shown only when whoami allows it.
import { ALARMS_PATH, ageText, alarmForest, loadAlarms, resourceTarget, snapshotAlarms,
         typeName } from "./alarmdata.js";

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

// RFC 8040 §3.5.3: list keys separated by ",", each percent-encoded.
export function actionUrl(alarm) {
  const keys = [alarm.resource, alarm["alarm-type-id"], alarm["alarm-type-qualifier"] || ""]
    .map((k) => encodeURIComponent(k)).join(",");
  return `/restconf/data/${ALARMS_PATH}/alarm=${keys}/set-operator-state`;
}

function operatorState(alarm) {
  const changes = alarm["operator-state-change"] || [];
  return changes.length ? changes[changes.length - 1].state : "none";
}

export async function mount(main, ctx) {
  const status = el("p", { id: "alarm-status", "aria-live": "polite" });
  const asOf = el("p", { id: "alarms-asof", class: "asof" });
  const active = el("section", { class: "panel", "aria-labelledby": "active-h" });
  const cleared = el("section", { class: "panel", "aria-labelledby": "cleared-h" });
  main.append(el("h2", {}, "Alarms"), asOf, status, active, cleared);

  function item(alarm) {
    const t = resourceTarget(alarm.resource);
    const li = el("li", { "data-alarm-type": typeName(alarm), "data-resource": t.id,
                          class: alarm["is-cleared"] ? "cleared" : `sev-${alarm["perceived-severity"]}` },
      `${alarm["perceived-severity"]} — ${typeName(alarm)} on ${t.kind} ${t.id}: `
      + `${alarm["alarm-text"] || ""} (changed ${ageText(alarm["last-changed"])}`
      + `, operator: ${operatorState(alarm)})`);
    if (ctx.whoami.may.acknowledge && !alarm.historical && !alarm["is-cleared"] && operatorState(alarm) !== "ack") {
      const button = el("button", { type: "button", class: "ack",
                                    "aria-label": `Acknowledge ${typeName(alarm)} on ${t.id}` },
                        "Acknowledge");
      button.addEventListener("click", () => acknowledge(alarm));
      li.append(" ", button);
    }
    return li;
  }

  function tree(entries, id) {
    return el("ul", { class: "tree", id }, ...entries.map(({ alarm, derived }) => {
      const li = item(alarm);
      if (derived.length) li.append(el("ul", { "aria-label": "derived alarms" }, ...derived.map(item)));
      return li;
    }));
  }

  async function acknowledge(alarm) {
    try {
      const res = await ctx.post(actionUrl(alarm), {
        "ietf-alarms:input": { state: "ack", text: `acknowledged by ${ctx.whoami.user} in the console` },
      });
      status.textContent = res.ok ? "Acknowledged."
        : `Refused (HTTP ${res.status}): ${JSON.stringify(res.body)}`;
    } catch (err) {   // no answer came: the operator must not take silence for success
      status.textContent = `Acknowledgement not sent: ${err}`;
    }
    refresh();
  }

  async function refresh() {
    try {
      const when = ctx.asOf;
      // at a past moment: the alarms active then (sdqn-history get-snapshot)
      const alarms = when ? snapshotAlarms(await ctx.snapshot(when)) : await loadAlarms(ctx);
      if (when !== ctx.asOf) return;
      asOf.textContent = when ? `As of ${new Date(when).toLocaleString()} — history, not live;`
        + " only the alarms active then are kept" : "";
      if (when) main.dataset.asOf = when; else delete main.dataset.asOf;
      const live = alarms.filter((a) => !a["is-cleared"]);
      const gone = alarms.filter((a) => a["is-cleared"]);
      active.replaceChildren(el("h3", { id: "active-h" }, `Active (${live.length})`),
                             live.length ? tree(alarmForest(live), "active-alarms") : el("p", {}, "None."));
      cleared.replaceChildren(el("h3", { id: "cleared-h" }, `Cleared (${gone.length})`),
                              gone.length ? tree(alarmForest(gone), "cleared-alarms") : el("p", {}, "None."));
      main.dataset.ready = "true";
    } catch (err) {
      status.textContent = String(err);
    }
  }
  let pending = null;
  const off = ctx.onEvent(() => {
    if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 150);
  });
  const offTime = ctx.onTime(() => refresh());
  await refresh();
  return { unmount() { off(); offTime(); } };
}
