"""What-if solve: the plan a commit would produce, and each device's configuration
change, computed on a copy of the configuration — nothing is written or pushed.

The configuration is the candidate (what `commit` would make running; equal to running
while nobody edited it), optionally with hypothetical request changes on top. Q-NUM runs
through qnum.solver exactly as the service layer's expansion does (warm-started from the
committed plan). When the daemon runs the service layer, its renderer turns the plan
into per-device documents that are diffed against what the devices run now; without it
the response says that no per-device diff exists.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from controller.datastore.jsondiff import json_diff
from controller.datastore.nmda import Datastore, NmdaStore
from controller.service.expansion import QnumExpander
from qnum.baselines import all_baselines
from qnum.io import InputError, OptimiserSettings, parse_requests, parse_settings, parse_topology
from qnum.plan import Plan, Problem
from qnum.solver import SolverOptions, solve

log = structlog.get_logger(__name__)

SERVICES = "sdqn-services:entanglement-services"


@dataclass
class DeviceDiff:
    node_id: str
    changes: list[dict[str, Any]] = field(default_factory=list)  # operation, path, value, previous


@dataclass
class WhatIf:
    plan: Plan | None
    devices: list[DeviceDiff] = field(default_factory=list)
    device_diff_available: bool = False
    notes: list[str] = field(default_factory=list)
    solve_s: float = 0.0


def configuration(store: NmdaStore) -> dict[str, Any]:
    """The candidate as RFC 7951 JSON (running, when the candidate is unmodified)."""
    with store.atomic():
        ds = Datastore.CANDIDATE if store.candidate_dirty else Datastore.RUNNING
        return store.forest(ds).to_dict()


def apply_hypothesis(config: dict[str, Any], upserts: Iterable[Mapping[str, Any]],
                     withdrawals: Iterable[str]) -> dict[str, Any]:
    """`config` with requests added/replaced (by name) and withdrawn."""
    services = config.setdefault(SERVICES, {})
    requests = {r["name"]: r for r in services.get("request", [])}
    for request in upserts:
        requests[str(request["name"])] = dict(request)
    for name in withdrawals:
        requests.pop(name, None)
    services["request"] = list(requests.values())
    if not services["request"]:
        config.pop(SERVICES)
    return config


def what_if(config: Mapping[str, Any], *, time_limit_s: float,
            expander: QnumExpander | None = None) -> WhatIf:
    networks = config.get("ietf-network:networks", {}).get("network", [])
    if not any("sdqn-topology:quantum-network" in (n.get("network-types") or {})
               for n in networks):
        return WhatIf(plan=None, notes=["no quantum network is configured: nothing to solve"])
    try:
        network = parse_topology(config)
        requests = parse_requests(config, network) if SERVICES in config else []
        settings = (parse_settings(config) if "sdqn-controller:controller" in config
                    else OptimiserSettings())
    except InputError as exc:
        return WhatIf(plan=None, notes=[f"the configuration cannot be optimised: {exc}"])
    options = SolverOptions(time_limit_s=min(time_limit_s, settings.time_limit_s),
                            objective=settings.objective)
    start = time.perf_counter()
    problem = Problem.build(network, requests)
    previous = expander.committed.plan if expander is not None else None
    plan = solve(problem, options, previous=previous,
                 hints=list(all_baselines(problem).values()))
    result = WhatIf(plan=plan, solve_s=time.perf_counter() - start)
    if options.time_limit_s < time_limit_s:   # say so: the caller asked for longer
        result.notes.append(f"solved with the configured optimiser time limit of "
                            f"{options.time_limit_s:g} s, not the {time_limit_s:g} s asked")
    if expander is None:
        result.notes.append("per-device diff unavailable: the service layer (the controller "
                            "expansion into device configuration) is not running")
        return result
    kinds = {node_id: node.kind.value for node_id, node in network.nodes.items()}
    try:
        docs = expander.render(network, plan, kinds=kinds)
    except ValueError as exc:
        result.notes.append(f"the plan cannot be expressed as device configuration: {exc}")
        return result
    result.device_diff_available = True
    committed = expander.committed.docs
    for node_id in sorted(set(docs) | set(committed)):
        old = _loads(committed.get(node_id))
        changes = json_diff(old, docs.get(node_id, {}))
        if changes:
            result.devices.append(DeviceDiff(node_id, changes))
    if not result.devices:
        result.notes.append("no device configuration would change")
    return result


def _loads(text: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text) if text else {}
    return doc
