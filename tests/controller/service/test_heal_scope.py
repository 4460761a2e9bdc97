"""HealScope on the metro topology without devices: a re-route prefers candidates that
leave shared APCs as they are, shared elements only kept services use keep their committed
settings, and a revert pins the service back to its original candidate — or is refused,
naming the service and what changed."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from controller.errors import NetconfError
from controller.paths import CONFIG_DIR
from controller.service.heal_scope import (
    HealScope,
    Original,
    restore_shared,
    retuned,
    serving_apcs,
    split_shared,
    tolerance_of,
)
from controller.service.health import NetworkHealth
from controller.service.render import render_devices
from qnum.io import Network, Request, load_requests, load_topology
from qnum.plan import Plan, Problem
from qnum.solver import SolverOptions, solve

QKD = "qkd-alice-bob"
OPTIONS = SolverOptions(time_limit_s=5)


@pytest.fixture(scope="module")
def metro() -> Network:
    return load_topology(CONFIG_DIR / "topologies" / "metro.json")


@pytest.fixture(scope="module")
def requests(metro: Network) -> list[Request]:
    # The scenario needs a qkd candidate on the qr1-r2 detour whose fidelity sits just above
    # qkd's floor (so it would tighten apc-2's tolerance).  With BSM and memory-write
    # fidelities mapped to depolarising factors, the demo's floor 0.9 leaves every such
    # candidate far above it; 0.955 restores the situation (the 0.958 cut-off candidate).
    demo = load_requests(CONFIG_DIR / "services" / "demo.json", metro)
    return [dataclasses.replace(r, min_fidelity=0.955) if r.name == QKD else r for r in demo]


@pytest.fixture(scope="module")
def plan(metro: Network, requests: list[Request]) -> Plan:
    return solve(Problem.build(metro, requests), OPTIONS)


def docs_of(network: Network, plan: Plan, previous: dict[str, str] | None = None
            ) -> dict[str, str]:
    kinds = {n: node.kind.value for n, node in network.nodes.items()}
    return {n: json.dumps(d, sort_keys=True, separators=(",", ":"))
            for n, d in render_devices(network, plan, kinds=kinds,
                                       previous=previous).items()}


def problem_keeping(network: Network, requests: list[Request], plan: Plan,
                    keep: frozenset[str]) -> Problem:
    """As the expander builds it: the kept services' candidates retained."""
    retain = {a.request.name: a.candidate for a in plan.admitted
              if a.candidate is not None and a.request.name in keep}
    return Problem.build(network, requests, retain=retain)


def choice(plan: Plan, name: str) -> tuple[object, float] | None:
    a = plan.assignments[name]
    return (a.candidate.key, round(a.share, 9)) if a.candidate is not None else None


@pytest.fixture(scope="module")
def healed(metro: Network, requests: list[Request], plan: Plan
           ) -> tuple[Plan, dict[str, str], HealScope, Problem]:
    """The r1-r2 cut re-routes qkd (onto qr1-r2, which apc-2 compensates for the
    others) under a HealScope."""
    usable = NetworkHealth(failed_links=frozenset({"r1-r2"})).apply(metro)
    keep = frozenset(plan.assignments) - {QKD}
    problem = problem_keeping(usable, requests, plan, keep)
    committed = docs_of(metro, plan)
    scope = HealScope(committed=committed)
    solved, previous, kept = scope.before_solve(problem, plan, keep)
    after = solve(solved, OPTIONS, previous=previous, keep=kept)
    docs = docs_of(metro, after, committed)
    scope.after_render(metro, after, docs)
    return after, docs, scope, problem


def test_a_reroute_prefers_candidates_that_leave_shared_apcs_as_they_are(
        metro: Network, plan: Plan, healed: tuple[Plan, dict[str, str], HealScope, Problem]
        ) -> None:
    after, docs, scope, problem = healed
    committed = docs_of(metro, plan)
    shared = {apc: tolerance_of(committed[apc]) or "" for apc in serving_apcs(
        problem.network, plan, set(plan.assignments) - {QKD})}
    assert "apc-2" in shared
    qkd = problem.candidates[QKD].request
    # Left alone, some of qkd's new routes would tighten apc-2 under dqc and teleport ...
    assert any(retuned(problem.network, qkd, c, shared) == ["apc-2"]
               for c in problem.options(QKD))
    a = after.assignments[QKD]
    assert a.admitted and a.candidate is not None and "qr1" in a.candidate.route.nodes
    # ... the scope picked one that does not: every other service's part is unchanged.
    assert retuned(problem.network, qkd, a.candidate, shared) == []
    assert docs["apc-2"] == committed["apc-2"] and scope.touched == []
    for name in set(plan.assignments) - {QKD}:
        assert choice(after, name) == choice(plan, name)


def test_a_revert_pins_the_service_back_to_its_original_candidate(
        metro: Network, requests: list[Request], plan: Plan,
        healed: tuple[Plan, dict[str, str], HealScope, Problem]) -> None:
    after, docs, _scope, _problem = healed
    keep = frozenset(after.assignments) - {QKD}
    problem = problem_keeping(metro, requests, after, keep)
    scope = HealScope(committed=docs, revert={QKD: Original(plan.assignments[QKD], metro)})
    solved, previous, kept = scope.before_solve(problem, after, keep)
    assert kept == frozenset(after.assignments)
    back = solve(solved, OPTIONS, previous=previous, keep=kept)
    assert choice(back, QKD) == choice(plan, QKD)
    for name in keep:
        assert choice(back, name) == choice(after, name)
    moved = docs_of(metro, back, docs)
    scope.after_render(metro, back, moved)          # nobody else touched: not refused
    assert moved["apc-2"] == docs["apc-2"]


def refusal(scope: HealScope, problem: Problem, previous: Plan) -> str:
    with pytest.raises(NetconfError) as info:
        scope.before_solve(problem, previous, frozenset(previous.assignments) - {QKD})
    return info.value.errors[0].message or ""


def test_a_revert_that_is_no_longer_possible_is_refused_with_the_reason(
        metro: Network, requests: list[Request], plan: Plan,
        healed: tuple[Plan, dict[str, str], HealScope, Problem]) -> None:
    after, docs, _scope, _problem = healed
    original = plan.assignments[QKD]
    keep = frozenset(after.assignments) - {QKD}

    def scope(assignment: Any = original, network: Network = metro) -> HealScope:
        return HealScope(committed=docs, revert={QKD: Original(assignment, network)})

    # the operator changed the request since the failure
    changed = [dataclasses.replace(r, min_fidelity=0.91) if r.name == QKD else r
               for r in requests]
    assert "its request changed" in refusal(
        scope(), problem_keeping(metro, changed, after, keep), after)
    # the original path failed again, or one of its fibres was re-configured
    usable = NetworkHealth(failed_links=frozenset({"r1-r2"})).apply(metro)
    assert "original path changed or is unusable: r1-r2" in refusal(
        scope(), problem_keeping(usable, requests, after, keep), after)
    longer = dataclasses.replace(metro, links={
        **metro.links, "r1-r2": dataclasses.replace(metro.links["r1-r2"], length_km=30.0)})
    assert "r1-r2" in refusal(scope(), problem_keeping(longer, requests, after, keep), after)
    # capacity on it was taken: r2-bob, which teleport shares, cannot carry a full share
    greedy = dataclasses.replace(original, share=1.0)
    message = refusal(scope(greedy), problem_keeping(metro, requests, after, keep), after)
    assert "capacity on the original path is taken" in message and "r2-bob" in message


def entry(link: str, registers: int) -> dict[str, Any]:
    return {"link-id": link, "neighbour": "x", "max-registers": registers}


def flow(service: str, *links: str) -> dict[str, Any]:
    return {"flow-id": service, "service": service, "neighbour-links": list(links)}


def test_shared_elements_only_kept_services_use_keep_their_committed_settings() -> None:
    old = {"sdqn-repeater:repeater": {
        "link-generation": {"link": [entry("a", 2), entry("b", 1), entry("c", 2)]},
        "flow": [flow("kept", "a", "b"), flow("moved", "a", "c")]}}
    # `moved` left `a` (its registers would drop to 1) and now shares `c` with `new`
    new = {"sdqn-repeater:repeater": {
        "link-generation": {"link": [entry("a", 1), entry("b", 1), entry("c", 3)]},
        "flow": [flow("kept", "a", "b"), flow("new", "c")]}}
    out = restore_shared(new, old, {"kept"}, set())
    assert out is not None
    assert out["sdqn-repeater:repeater"]["link-generation"]["link"] == [
        entry("a", 2), entry("b", 1), entry("c", 3)]
    assert restore_shared(new, old, set(), set()) is None     # nothing kept: as rendered

    source_old = {"pump-enabled": True, "pair-rate": "2000.0"}
    end_old = {"sdqn-end-node:end-node": {"source": source_old, "application-endpoint": [
        {"name": "kept", "service": "kept"}, {"name": "moved", "service": "moved"}]}}
    end_new = {"sdqn-end-node:end-node": {"source": {"pump-enabled": True,
                                                     "pair-rate": "1000.0"},
                                          "application-endpoint": [
                                              {"name": "kept", "service": "kept"}]}}
    out = restore_shared(end_new, end_old, {"kept"}, set())
    assert out is not None and out["sdqn-end-node:end-node"]["source"] == source_old

    apc_old = {"sdqn-apc:apc": {"tracking-tolerance": "0.05"}}
    apc_new = {"sdqn-apc:apc": {"tracking-tolerance": "0.1"}}
    assert restore_shared(apc_new, apc_old, {"kept"}, {"kept"}) == apc_old
    assert restore_shared(apc_new, apc_old, {"kept"}, {"kept", "moved"}) is None


def _repeater(flows: list[tuple[str, list[str]]], registers: dict[str, int]) -> str:
    doc = {"sdqn-repeater:repeater": {
        "flow": [{"flow-id": name, "service": name, "neighbour-links": links}
                 for name, links in flows],
        "link-generation": {"link": [{"link-id": lk, "max-registers": n}
                                     for lk, n in sorted(registers.items())]}}}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def test_an_entry_shared_with_a_moved_service_is_resized_not_touched() -> None:
    """A re-routed service leaves a generation entry a kept one swaps on: the entry's
    registers (the sum of its flows') shrink, the kept service's flow stays; that is a
    resize naming the entry, the leaf and the service that left — not a touched service."""
    committed = {"r1": _repeater([("kept", ["a", "b"]), ("moved", ["a", "c"])],
                                 {"a": 8, "b": 4, "c": 4})}
    docs = {"r1": _repeater([("kept", ["a", "b"])], {"a": 4, "b": 4})}
    real, resized = split_shared(["kept on r1"], {"kept"}, committed, docs)
    assert real == []
    assert resized == ["r1 a: max-registers 8→4 (shared with moved)"]


def test_a_kept_service_whose_flow_or_unshared_entry_changed_is_touched() -> None:
    committed = {"r1": _repeater([("kept", ["a"])], {"a": 4}),
                 "r2": _repeater([("kept", ["a"]), ("other", ["a"])], {"a": 8})}
    docs = {"r1": _repeater([("kept", ["a"])], {"a": 3}),     # nobody else on it
            "r2": _repeater([("kept", ["b"]), ("other", ["a"])], {"a": 4, "b": 4})}
    real, resized = split_shared(["kept on r1", "kept on r2"], {"kept", "other"},
                                 committed, docs)
    assert real == ["kept on r1", "kept on r2"] and resized == []
