"""The impact of a change: what it does to each service and each device, before it is made.

Computed from two expansions — the committed one and the one the change produces — by the
same code path for a dry-run and for the commit itself (QnumExpander builds the proposed
expansion identically in both), so what a dry-run shows is what the commit then does.
The result is shaped as the `impact` container of sdqn-controller's dry-run and optimise
rpcs (RFC 7951 member names), so every northbound serves it as is.

Moves and their expected interruption come from the make-before-break planning
(controller/service/mbb.py `Move`): zero for a bridged move (the old path delivers until
the new one is stable); for a hard switch, the push time plus the new path's time to its
first pair.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.datastore.jsondiff import change_members, json_diff
from controller.netconf.impact_counts import service_counts
from controller.service.live_move import DEFAULT
from controller.service.mbb import Move, MoveKind
from qnum.plan import Assignment, Plan

HARD = MoveKind.HARD_SWITCH.value


@dataclass
class Impact:
    services: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `impact` container (RFC 7951, module-local member names)."""
        body: dict[str, Any] = {"totals": self.totals}
        if self.services:
            body["service"] = self.services
        if self.devices:
            body["device"] = self.devices
        return {"impact": body}

    def moved(self) -> list[str]:
        return [s["name"] for s in self.services if s["change"] == "moved"]

    def hard_switched(self) -> list[str]:
        return [s["name"] for s in self.services if s.get("switch") == HARD]


def _figures(a: Assignment | None) -> dict[str, str] | None:
    if a is None or not a.admitted:
        return None
    return {"rate": _dec(a.rate_hz), "fidelity": _dec(a.fidelity), "utility": _dec(a.utility)}


def _dec(value: float) -> str:
    """decimal64 with 6 fraction digits (RFC 7951 §6.1: a JSON string)."""
    return f"{value:.6f}"


def _path(a: Assignment | None) -> str | None:
    if a is None or a.candidate is None or not a.admitted:
        return None
    return " ".join(a.candidate.route.nodes)


def service_changes(before: Plan | None, after: Plan | None,
                    moves: Mapping[str, Move], policy: Mapping[str, str]
                    ) -> list[dict[str, Any]]:
    """Per request: added / removed / moved / retuned, or rejected (new or changed and not
    admitted); unchanged services are left out."""
    old = before.assignments if before is not None else {}
    new = after.assignments if after is not None else {}
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        was, now = a is not None and a.admitted, b is not None and b.admitted
        entry: dict[str, Any] = {"name": name, "live-move": policy.get(name, DEFAULT)}
        if not was and not now:
            if b is None or (a is not None and a.request == b.request):
                continue                  # withdrawn, or untouched and still not served
            entry.update(change="rejected", reason=b.reason or "not admitted")
        elif not was:
            entry.update(change="added", reason="admitted")
        elif not now:
            why = b.reason if b is not None and b.reason else "request withdrawn"
            entry.update(change="removed", reason=why)
        else:
            assert a is not None and b is not None and a.candidate and b.candidate
            if a.candidate.route.links != b.candidate.route.links:
                move = moves.get(name) or Move(name, MoveKind.HARD_SWITCH,
                                               reason="its path changed")
                reason = f"{move.reason} ({move.device})" if move.device else move.reason
                if move.make_before_break and not reason:
                    reason = ("old path kept until the new one is stable; bridged on "
                              + ", ".join(move.bridged))
                entry.update(change="moved", switch=move.kind.value, reason=reason,
                             **{"expected-interruption": _dec(move.interruption_s)})
            elif a.candidate.key != b.candidate.key or abs(a.share - b.share) > 1e-9:
                entry.update(change="retuned", reason="same path, new operating point")
            else:
                continue
        for key, value in (("old-path", _path(a)), ("new-path", _path(b)),
                           ("before", _figures(a)), ("after", _figures(b))):
            if value is not None:
                entry[key] = value
        out.append(entry)
    return out


def device_changes(before: Mapping[str, str], after: Mapping[str, str]
                   ) -> list[dict[str, Any]]:
    """node → leaf-level diff of its configuration (canonical JSON documents). Equal
    canonical texts are equal documents: only the devices a change touches are parsed
    and walked (a healing round's impact must not cost a walk of every device)."""
    out = []
    for node in sorted(set(before) | set(after)):
        if before.get(node) == after.get(node):
            continue
        old = json.loads(before[node]) if node in before else {}
        new = json.loads(after[node]) if node in after else {}
        changes = json_diff(old, new)
        if changes:
            out.append({"node-id": node, "change": [change_members(c) for c in changes]})
    return out


def impact(before_plan: Plan | None, before_docs: Mapping[str, str],
           after_plan: Plan | None, after_docs: Mapping[str, str], *,
           moves: Mapping[str, Move], policy: Mapping[str, str]) -> Impact:
    services = service_changes(before_plan, after_plan, moves, policy)
    devices = device_changes(before_docs, after_docs)
    totals: dict[str, Any] = {
        **service_counts(services), "devices": len(devices),
        "utility-before": _dec(before_plan.total_utility if before_plan else 0.0),
        "utility-after": _dec(after_plan.total_utility if after_plan else 0.0)}
    return Impact(services, devices, totals)
