"""The committed plan's choices, kept in <intended> so a restart does not move services.

The live-move policy keeps every live service where the committed plan put it, but the
plan lives in memory: a controller that restarts would otherwise solve from scratch and
could place live services elsewhere. The expansion writes each admitted request's choice
(path, purification rounds, per-link rounds, cut-off kind, share floor, share) under
/sdqn-controller:controller/placements in <intended>, in the same transaction as the
device configuration it explains; at start-up the candidates are evaluated again on the
stored topology (qnum.candidates.restore_candidate) and become the committed plan the
next expansion keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from qnum.candidates import build_graph, restore_candidate
from qnum.io import InputError, Network, parse_requests
from qnum.plan import Assignment, Plan

log = structlog.get_logger(__name__)

PATH = "/sdqn-controller:controller/placements"
SERVICES = "sdqn-services:entanglement-services"


def placements_json(plan: Plan | None) -> dict[str, Any] | None:
    """The `placements` container for `plan` (None: no admitted request)."""
    entries = []
    for a in plan.admitted if plan is not None else []:
        cand = a.candidate
        assert cand is not None
        entries.append({"request": a.request.name, "node": list(cand.route.nodes),
                         "link": list(cand.route.links),
                         "purification-rounds": cand.purification_rounds,
                         "link-purification-rounds": cand.link_purification_rounds,
                         "cutoff-kind": cand.cutoff_kind,
                         "min-share": f"{cand.min_share:.9f}", "share": f"{a.share:.9f}"})
    if not entries:
        return None
    return {"sdqn-controller:controller": {"placements": {"placement": entries}}}


def restore_plan(intended: Mapping[str, Any], running: Mapping[str, Any],
                 network: Network) -> Plan | None:
    """The committed plan as <intended> records it, its candidates evaluated again on
    `network`; a placement whose request or route no longer exists is left out (logged),
    and the next expansion places that request afresh."""
    stored = (intended.get("sdqn-controller:controller", {}).get("placements", {})
              .get("placement", []))
    if not stored:
        return None
    try:
        requests = {r.name: r for r in (parse_requests(running, network)
                                        if SERVICES in running else [])}
    except InputError as exc:
        log.warning("stored requests cannot be read: plan not restored", error=str(exc))
        return None
    assignments = {name: Assignment(request, reason="not admitted")
                   for name, request in requests.items()}
    graph = build_graph(network)
    for entry in stored:
        request = requests.get(entry["request"])
        cand = None if request is None else restore_candidate(
            network, graph, request, entry.get("node", []), entry.get("link", []),
            int(entry.get("purification-rounds", 0)), str(entry.get("cutoff-kind", "")),
            float(entry.get("min-share", 0)),
            link_rounds=int(entry.get("link-purification-rounds", 0)))
        if request is None or cand is None:
            log.warning("committed placement not restored", request=entry["request"])
            continue
        assignments[request.name] = Assignment(request, cand, float(entry["share"]))
    return Plan(method="restored", assignments=assignments)
