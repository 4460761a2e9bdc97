"""Reduced healing model: pinned usage is subtracted from capacities and respected, the
merged plan never exceeds a capacity, affected requests are re-placed, pinned ones are
untouched, and the result equals the full model with the same pins."""

from __future__ import annotations

import math
from dataclasses import replace

import networkx as nx
import pytest

from qnum.candidates import CandidateOptions
from qnum.instances import random_requests, request, small_network, waxman_network
from qnum.io import DeviceKind, Network
from qnum.plan import IDLE, Assignment, Plan, Problem, SolveStatus, violations
from qnum.reduced import PinnedUsage, reduce, solve_reduced
from qnum.solver import SolverOptions, solve

ONE_CANDIDATE = CandidateOptions(
    share_levels=(0.05,), max_purification_rounds=0, tight_cutoff_factor=None
)
END = DeviceKind.END_NODE


def _cut(network: Network, link: str) -> Network:
    return replace(network, links={k: v for k, v in network.links.items() if k != link})


def _busiest(plan: Plan, network: Network | None = None) -> str:
    """The fibre most admitted services cross; with ``network``, only fibres whose cut
    leaves the network connected (a cut bridge leaves nothing to re-route)."""
    use: dict[str, int] = {}
    for a in plan.admitted:
        assert a.candidate is not None
        for lk in a.candidate.route.links:
            use[lk] = use.get(lk, 0) + 1
    if network is not None:
        def connected_without(cut: str) -> bool:
            graph = nx.MultiGraph()
            graph.add_nodes_from(network.nodes)
            graph.add_edges_from((lk.a, lk.b) for k, lk in network.links.items() if k != cut)
            return bool(nx.is_connected(graph))

        use = {lk: n for lk, n in use.items() if connected_without(lk)}
    return max(sorted(use), key=lambda lk: use[lk])


def _choice(plan: Plan, name: str) -> tuple[object, float] | None:
    a = plan.assignments[name]
    return (a.candidate.key, a.share) if a.admitted and a.candidate is not None else None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fibre_cut_replaces_only_the_affected_and_matches_the_full_pinned_model(
        seed: int) -> None:
    network = waxman_network(18, seed)
    reqs = [replace(r, demanded_rate_hz=r.demanded_rate_hz * 50)
            for r in random_requests(network, 24, seed)]
    before = Problem.build(network, reqs)
    running = solve(before, SolverOptions(time_limit_s=20))
    link = _busiest(running, network)
    after = Problem.build(_cut(network, link), reqs, previous=before)
    affected = {a.request.name for a in running.admitted
                if a.candidate is not None and link in a.candidate.route.links}
    assert affected
    keep = frozenset(running.assignments) - affected

    healed = solve_reduced(after, SolverOptions(time_limit_s=20), previous=running, keep=keep)

    assert violations(after, healed) == []
    reduction = reduce(after, running, keep)
    assert reduction.free == affected
    pre_emptible = {lo for hi, lo in reduction.problem.priority_pairs if hi in affected}
    for name in keep:       # pinned: exactly as they were, or pre-empted by priority
        if _choice(healed, name) != _choice(running, name):
            assert name in pre_emptible and not healed.assignments[name].admitted
    for name in affected:                               # re-placed off the cut fibre
        a = healed.assignments[name]
        assert a.candidate is None or link not in a.candidate.route.links
    assert any(healed.assignments[n].admitted for n in affected)
    # Truthful status: optimal only for the reduced problem, no bound for the network.
    assert healed.status is SolveStatus.FEASIBLE and math.isnan(healed.bound)
    assert any("reduced model" in note for note in healed.notes)
    # The same pins in the full model reach the same objective.
    full = solve(after, SolverOptions(time_limit_s=20), previous=running, keep=keep)
    assert healed.objective == pytest.approx(full.objective, rel=1e-6)
    # The model holds the affected requests and the pinned ones priority couples to them.
    assert len(reduction.problem.requests) < len(reqs)


def test_pinned_usage_is_subtracted_from_every_capacity() -> None:
    net = small_network([("A", "B", 20.0)], kinds={"A": END, "B": END}, memory={"A": 3})
    reqs = [request("pin", "A", "B", demanded_rate_hz=1e4),
            request("free", "A", "B", demanded_rate_hz=1e4)]
    pb = Problem.build(net, reqs, ONE_CANDIDATE)
    cand = pb.options("pin")[0]
    running = Plan.from_assignments("qnum", [Assignment(pb.requests[0], cand, 0.7),
                                             Assignment(pb.requests[1])])
    reduction = reduce(pb, running, keep=["pin"])
    reduced = reduction.problem
    assert [r.name for r in reduced.requests] == ["free"]
    assert reduced.frame_capacity("A-B") == pytest.approx(0.3)
    assert reduced.memory_capacity("A") == 3 - cand.memory["A"]
    assert reduction.problem.pinned == PinnedUsage.of([running.assignments["pin"]])

    healed = solve_reduced(pb, previous=running, keep=["pin"])
    assert _choice(healed, "pin") == _choice(running, "pin")
    assert healed.assignments["free"].share == pytest.approx(0.3, abs=1e-6)
    assert healed.frame_load()["A-B"] <= 1.0 + 1e-9
    assert violations(pb, healed) == []


def test_a_candidate_the_pins_leave_no_room_for_is_not_modelled() -> None:
    net = small_network([("A", "B", 20.0)], kinds={"A": END, "B": END}, memory={"A": 1})
    reqs = [request("pin", "A", "B"), request("free", "A", "B")]
    pb = Problem.build(net, reqs, ONE_CANDIDATE)
    running = Plan.from_assignments("qnum", [Assignment(pb.requests[0], pb.options("pin")[0],
                                                        0.5), Assignment(pb.requests[1])])
    healed = solve_reduced(pb, previous=running, keep=["pin"])
    assert not healed.assignments["free"].admitted
    assert "free qubits" in (healed.assignments["free"].reason or "")
    assert violations(pb, healed) == []


def test_free_higher_priority_request_may_pre_empt_a_pinned_one() -> None:
    net = small_network([("A", "B", 10.0)], kinds={"A": END, "B": END}, memory={"A": 1})
    reqs = [request("low", "A", "B", weight=5.0, demanded_rate_hz=1e4),
            request("high", "A", "B", priority=3)]
    pb = Problem.build(net, reqs, ONE_CANDIDATE)
    running = Plan.from_assignments("qnum", [Assignment(pb.requests[0], pb.options("low")[0],
                                                        0.5), Assignment(pb.requests[1])])
    healed = solve_reduced(pb, previous=running, keep=["low"])
    assert [a.request.name for a in healed.admitted] == ["high"]
    assert violations(pb, healed) == []
    # ... unless protected, exactly as in the full model.
    kept = solve_reduced(pb, previous=running, keep=["low"], protected=["low"])
    full = solve(pb, previous=running, keep=["low"], protected=["low"])
    assert _choice(kept, "low") == _choice(running, "low")
    assert {a.request.name for a in kept.admitted} == {a.request.name for a in full.admitted}


def test_pins_that_no_longer_fit_fall_back_to_the_full_solve() -> None:
    net = small_network([("A", "B", 20.0)], kinds={"A": END, "B": END})
    reqs = [request("r1", "A", "B", demanded_rate_hz=1e4),
            request("r2", "A", "B", demanded_rate_hz=1e4)]
    pb = Problem.build(net, reqs, ONE_CANDIDATE)
    running = Plan.from_assignments("qnum", [
        Assignment(pb.requests[0], pb.options("r1")[0], 0.6),
        Assignment(pb.requests[1], pb.options("r2")[0], 0.6)])
    plan = solve_reduced(pb, previous=running, keep=["r1", "r2"])
    assert violations(pb, plan) == []
    assert plan.assignments["r1"].admitted and plan.assignments["r2"].admitted


def test_idle_requests_get_no_new_candidates_during_a_healing_round() -> None:
    edges = [("A", "B", 20.0), ("A", "R", 15.0), ("R", "B", 15.0)]
    net = small_network(edges, kinds={"A": END, "B": END})
    reqs = [request("idle", "A", "B"), request("hit", "A", "B")]
    # one route (the direct fibre): the space has two, so only the k-shortest fallback
    # with a single route lists just the direct one
    direct = CandidateOptions(share_levels=(0.05,), max_purification_rounds=0,
                              max_link_purification_rounds=0,
                              tight_cutoff_factor=None, route_limit=1, max_routes=1)
    before = Problem.build(net, reqs, direct)
    assert all(c.route.links == ("A-B",) for r in reqs for c in before.options(r.name))
    after = Problem.build(_cut(net, "A-B"), reqs, direct, previous=before, idle=["idle"])
    assert after.options("idle") == () and after.candidates["idle"].reason == IDLE
    assert [c.route.links for c in after.options("hit")] == [("A-R", "R-B")]
