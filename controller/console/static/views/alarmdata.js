// RFC 8632 alarm list helpers shared by the topology and alarms views.

export const ALARMS_PATH = "ietf-alarms:alarms/alarm-list";

export async function loadAlarms(ctx) {
  const data = await ctx.operational(ALARMS_PATH);
  const list = data && (data["ietf-alarms:alarm-list"] || {}).alarm;
  return list || [];
}

// The RFC 8345 node or link an alarm's resource (an instance-identifier) names.
export function resourceTarget(resource) {
  const link = /link\[link-id=['"]([^'"]+)['"]\]/.exec(resource || "");
  if (link) return { kind: "link", id: link[1] };
  const node = /node\[node-id=['"]([^'"]+)['"]\]/.exec(resource || "");
  if (node) return { kind: "node", id: node[1] };
  const svc = /request\[name=['"]([^'"]+)['"]\]/.exec(resource || "");
  if (svc) return { kind: "service", id: svc[1] };
  return { kind: "other", id: resource };
}

export function typeName(alarm) {
  const id = alarm["alarm-type-id"] || "";
  return id.includes(":") ? id.split(":")[1] : id;
}

export function isRoot(alarm) {
  const roots = alarm["root-cause-resource"] || [];
  return roots.length === 0 || roots.includes(alarm.resource);
}

// Root cause -> derived alarms (RFC 8632 §3.7): a derived alarm hangs under every active
// alarm raised on one of its root-cause resources; alarms with no such root stand alone.
export function alarmForest(alarms) {
  const roots = alarms.filter(isRoot);
  const byResource = new Map();
  for (const r of roots) {
    if (!byResource.has(r.resource)) byResource.set(r.resource, []);
    byResource.get(r.resource).push(r);
  }
  const children = new Map(roots.map((r) => [r, []]));
  const orphans = [];
  for (const a of alarms) {
    if (isRoot(a)) continue;
    const parents = (a["root-cause-resource"] || []).flatMap((res) => byResource.get(res) || []);
    if (parents.length === 0) orphans.push(a);
    for (const p of parents) children.get(p).push(a);
  }
  return [...roots.map((r) => ({ alarm: r, derived: children.get(r) })),
          ...orphans.map((a) => ({ alarm: a, derived: [] }))];
}

export function ageText(timestamp, now = Date.now()) {
  if (!timestamp) return "never";
  const seconds = Math.max(0, Math.round((now - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

// The active alarms of a get-snapshot answer (sdqn-history), shaped like RFC 8632 list
// entries so the views render them as they render live ones.
export function snapshotAlarms(snap) {
  return (snap.alarm || []).map((a) => ({
    resource: a.resource, "alarm-type-id": a["alarm-type-id"] || "",
    "alarm-type-qualifier": a["alarm-type-qualifier"] || "",
    "perceived-severity": a["perceived-severity"] || "", "alarm-text": a["alarm-text"] || "",
    "is-cleared": a["is-cleared"] === true, "root-cause-resource": a["root-cause-resource"] || [],
    "last-changed": a.sampled, historical: true,
  }));
}
