"""Make-before-break: a live service that moves keeps its old path until the new one works.

When a commit moves a service that is live on a still-working path (a re-optimisation, a
threshold re-plan — not a failure: a cut path is already broken), the push happens in two
steps instead of one:

  make   every device gets its new configuration *plus* the old path's pieces of the
         moving services (repeater flows and the generation entries they use, q-ROADM
         cross-connects), so the old path keeps delivering while the new one warms up;
  break  once every device on the new paths reports stable (or after a bounded wait), the
         devices that still carry old pieces get exactly their intended configuration.

The bridge documents are validated with each device's own YANG model (its `must`s check
registers, ports and channels): if any bridge does not fit the hardware, the commit falls
back to a direct switch (logged), since two paths cannot coexist there. <intended> always
holds the final configuration; the bridge is a transient the controller owns.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from qnum.plan import Plan

log = structlog.get_logger(__name__)

REPEATER = "sdqn-repeater:repeater"
QROADM = "sdqn-qroadm:q-roadm"
OLD_SUFFIX = "~old"

Json = dict[str, Any]


def moving_services(before: Plan | None, after: Plan | None,
                    broken: Callable[[tuple[str, ...], tuple[str, ...]], bool]) -> list[str]:
    """Services live in both plans on different candidates whose old route still works
    (`broken(links, nodes)` says whether a route crosses a failure)."""
    if before is None or after is None:
        return []
    out = []
    for a in before.admitted:
        b = after.assignments.get(a.request.name)
        if (b is None or not b.admitted or a.candidate is None or b.candidate is None
                or a.candidate.key == b.candidate.key):
            continue
        if broken(a.candidate.route.links, a.candidate.route.nodes):
            continue
        if a.candidate.route.links == b.candidate.route.links:
            continue      # same path, new purification or share: nothing to bridge
        out.append(a.request.name)
    return sorted(out)


def _merge_repeater(new: Json, old: Json, moving: set[str]) -> bool:
    """Add the moving services' old flows (and the entries they use) to `new`."""
    new_flows = {f["flow-id"]: f for f in new.get("flow", [])}
    old_flows = [f for f in old.get("flow", []) if f.get("service") in moving]
    if not old_flows:
        return False
    entries = {e["link-id"]: e for e in new.get("link-generation", {}).get("link", [])}
    old_entries = {e["link-id"]: e for e in old.get("link-generation", {}).get("link", [])}
    for flow in old_flows:
        if new_flows.get(flow["flow-id"]) == flow:
            continue                          # this repeater's part did not change
        bridged = dict(flow)
        if flow["flow-id"] in new_flows:
            bridged["flow-id"] = f"{flow['flow-id']}{OLD_SUFFIX}"
        new_flows[bridged["flow-id"]] = bridged
        for entry in flow.get("neighbour-links", []):
            if entry not in entries and entry in old_entries:
                entries[entry] = old_entries[entry]
    new["flow"] = [new_flows[k] for k in sorted(new_flows)]
    if entries:
        new.setdefault("link-generation", {})["link"] = [entries[k] for k in sorted(entries)]
    return True


def _merge_qroadm(new: Json, old: Json, moving: set[str]) -> bool:
    """Add the moving services' old cross-connects (renamed if the name is taken)."""
    circuit = new.setdefault("circuit", {})
    xcs = {x["name"]: x for x in circuit.get("cross-connect", [])}
    old_xcs = [x for x in old.get("circuit", {}).get("cross-connect", [])
               if x["name"].split(":", 1)[0] in moving]
    if not old_xcs:
        return False
    renamed = {}
    for xc in old_xcs:
        if xcs.get(xc["name"]) == xc:
            continue
        name = xc["name"] if xc["name"] not in xcs else \
            xc["name"].replace(":", f"{OLD_SUFFIX}:", 1) if ":" in xc["name"] \
            else f"{xc['name']}{OLD_SUFFIX}"
        renamed[xc["name"]] = name
    if not renamed:
        return False
    channels = {c["channel-id"]: c for c in new.get("channel", [])}
    for c in old.get("channel", []):
        channels.setdefault(c["channel-id"], c)
    for xc in old_xcs:
        if xc["name"] not in renamed:
            continue
        bridged = dict(xc, name=renamed[xc["name"]])
        if "timing-companion" in xc:
            bridged["timing-companion"] = renamed.get(xc["timing-companion"],
                                                      xc["timing-companion"])
        xcs[bridged["name"]] = bridged
    circuit["cross-connect"] = [xcs[k] for k in sorted(xcs)]
    new["channel"] = [channels[k] for k in sorted(channels)]
    return True


def bridge_documents(new_docs: Mapping[str, str], old_docs: Mapping[str, str],
                     moving: list[str]) -> dict[str, str]:
    """node → bridge document (canonical JSON) for every device whose bridge differs
    from its new document."""
    if not moving:
        return {}
    wanted = set(moving)
    out: dict[str, str] = {}
    for node, doc in new_docs.items():
        old = old_docs.get(node)
        if old is None:
            continue
        new_json, old_json = json.loads(doc), json.loads(old)
        bridge = copy.deepcopy(new_json)
        changed = False
        if REPEATER in bridge and REPEATER in old_json:
            changed = _merge_repeater(bridge[REPEATER], old_json[REPEATER], wanted)
        elif QROADM in bridge and QROADM in old_json:
            changed = _merge_qroadm(bridge[QROADM], old_json[QROADM], wanted)
        if changed:
            out[node] = json.dumps(bridge, sort_keys=True, separators=(",", ":"))
    return out
