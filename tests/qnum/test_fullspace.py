"""The declared configuration space: exhaustive routes, exact dominance, honest status."""

from __future__ import annotations

import itertools
from dataclasses import replace

import networkx as nx
import pytest

from qnum.candidates import (
    Candidate,
    CandidateOptions,
    RequestCandidates,
    _Diagnosis,
    _may_transit,
    _RouteEvaluator,
    build_graph,
    build_route,
    check_route_length,
    dominates,
    enumerate_routes,
    fidelity_upper_bound,
    request_candidates,
)
from qnum.instances import random_requests, request, small_network, waxman_network
from qnum.io import DeviceKind, InputError, Network, Request
from qnum.plan import Problem, SolveStatus, violations
from qnum.solver import SolverOptions, solve

END = DeviceKind.END_NODE


def _every_configuration(network: Network, req: Request,
                         options: CandidateOptions) -> tuple[Candidate, ...]:
    """The declared space listed without any pruning: every simple path of at most
    max_hops fibres through nodes that may relay, every share, cut-off kind and round."""
    graph = build_graph(network)
    allowed = {n for n, node in network.nodes.items() if _may_transit(node)}
    allowed |= {req.source, req.destination}
    view = nx.subgraph_view(graph, filter_node=lambda n: n in allowed)
    out: list[Candidate] = []
    if not nx.has_path(view, req.source, req.destination):
        return ()
    for path in nx.all_simple_paths(view, req.source, req.destination, cutoff=options.max_hops):
        route = build_route(network, graph, path)
        if route is None:
            continue
        evaluator = _RouteEvaluator(network, req, route, options, _Diagnosis())
        for share in options.share_levels:
            out.extend(evaluator._at_share(share))
    return tuple(out)


def _full_problem(network: Network, reqs: list[Request], options: CandidateOptions) -> Problem:
    cands = {r.name: RequestCandidates(r, _every_configuration(network, r, options))
             for r in reqs}
    return Problem(network, tuple(reqs), cands)


def test_declared_space_defaults_and_validation() -> None:
    options = CandidateOptions()
    assert options.max_hops == 5 and options.max_purification_rounds == 2
    assert options.cutoff_kinds == ("budget", "tight") and options.max_candidates is None
    with pytest.raises(ValueError, match="cutoff kinds"):
        CandidateOptions(cutoff_kinds=("sometimes",))
    with pytest.raises(ValueError, match="max_hops"):
        CandidateOptions(max_hops=0)
    assert CandidateOptions(cutoff_kinds=("budget",)).tight_cutoff is None


def test_routes_are_every_simple_path_within_the_hop_limit() -> None:
    names = ["A", "B", "R1", "R2", "R3", "R4"]
    edges = [(u, v, 8.0) for u, v in itertools.combinations(names, 2) if {u, v} != {"A", "B"}]
    net = small_network(edges, kinds={"A": END, "B": END, "R1": DeviceKind.Q_ROADM})
    graph = build_graph(net)
    options = CandidateOptions(max_hops=4, route_limit=1000)
    req = request("r", "A", "B", min_fidelity=0.5)
    routes = enumerate_routes(net, graph, req, options)
    assert routes is not None
    allowed = {n for n, node in net.nodes.items() if _may_transit(node)}
    allowed |= {req.source, req.destination}
    view = nx.subgraph_view(graph, filter_node=lambda n: n in allowed)
    expected = {tuple(p) for p in nx.all_simple_paths(view, req.source, req.destination,
                                                       cutoff=4)}
    assert len(expected) > 3 and set(routes) == expected and all(len(r) - 1 <= 4 for r in routes)


def test_route_limit_marks_the_set_incomplete() -> None:
    net = small_network([("A", "R", 10.0), ("R", "B", 10.0), ("A", "S", 10.0),
                         ("S", "B", 10.0)], kinds={"A": END, "B": END})
    req = request("r", "A", "B")
    graph = build_graph(net)
    assert request_candidates(net, graph, req).complete
    assert enumerate_routes(net, graph, req, CandidateOptions(route_limit=1)) is None
    assert not request_candidates(net, graph, req, CandidateOptions(route_limit=1)).complete


def test_dominance_counts_the_demand_cap() -> None:
    net = small_network([("A", "B", 20.0)], kinds={"A": END, "B": END})
    req = request("t", "A", "B")
    rc = request_candidates(net, build_graph(net), req)
    fast = rc.candidates[0]
    slow_good = replace(fast, rate_per_share_hz=fast.rate_per_share_hz / 4,
                        quality=min(1.0, fast.quality * 1.2), purification_rounds=2)
    # Without a cap neither dominates: one is faster, the other better.
    assert not dominates(fast, slow_good) and not dominates(slow_good, fast)
    # With a demand the slow one meets at the faster one's floor, better quality wins.
    demand = slow_good.rate_per_share_hz * fast.min_share
    assert dominates(slow_good, fast, demand) and not dominates(fast, slow_good, demand)


def test_high_fidelity_low_rate_choice_survives_a_small_demand() -> None:
    # A small demand on a short link: purified pairs at a lower rate meet it with better q.
    net = small_network([("A", "R", 15.0), ("R", "B", 15.0)], kinds={"A": END, "B": END},
                        link_fidelity=0.93)
    req = request("t", "A", "B", demanded_rate_hz=1.0)
    options = CandidateOptions()
    plan = solve(Problem.build(net, [req], options))
    full = solve(_full_problem(net, [req], options))
    chosen = plan.assignments["t"].candidate
    assert chosen is not None and chosen.purification_rounds > 0
    assert plan.objective == pytest.approx(full.objective, rel=1e-9)
    assert plan.status is SolveStatus.OPTIMAL


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("demand", [1.0, 1e6])
def test_solver_matches_the_fully_enumerated_space(seed: int, demand: float) -> None:
    net = waxman_network(6, seed)
    reqs = [replace(r, demanded_rate_hz=demand)
            for r in random_requests(net, 3, seed, max_hops=3)]
    options = CandidateOptions(share_levels=(1.0, 0.3))
    pb = Problem.build(net, reqs, options)
    assert pb.covers_space
    plan = solve(pb)
    full = solve(_full_problem(net, reqs, options))
    assert violations(pb, plan) == []
    assert plan.status is SolveStatus.OPTIMAL and plan.admitted
    assert plan.objective == pytest.approx(full.objective, rel=1e-6, abs=1e-9)
    assert plan.bound >= full.objective * (1 - 1e-6)


def test_status_is_feasible_when_the_space_is_not_covered() -> None:
    """Without column generation nothing is proven over the unlisted part of the space;
    with it, "optimal" is claimed only when the full-space optimum is reached."""
    net = waxman_network(6, 1)
    reqs = random_requests(net, 3, 1, max_hops=3)
    full = solve(_full_problem(net, reqs, CandidateOptions()))
    for options in (CandidateOptions(route_limit=1, max_routes=1),
                    CandidateOptions(max_candidates=1)):
        pb = Problem.build(net, reqs, options)
        assert not pb.covers_space
        plan = solve(pb, SolverOptions(column_generation=False))
        assert plan.status is SolveStatus.FEASIBLE
        assert plan.bound >= full.objective  # valid for the whole space
        assert any("declared space" in note for note in plan.notes)
        priced = solve(Problem.build(net, reqs, options))
        assert priced.bound >= full.objective * (1 - 1e-9)
        if priced.status is SolveStatus.OPTIMAL:
            assert priced.objective == pytest.approx(full.objective, rel=1e-6)


def test_no_route_within_the_hop_limit_is_explained() -> None:
    edges = [(f"N{i}", f"N{i + 1}", 5.0) for i in range(6)]
    net = small_network(edges, kinds={"N0": END, "N6": END})
    rc = request_candidates(net, build_graph(net), request("far", "N0", "N6"),
                            CandidateOptions(max_hops=5))
    assert rc.candidates == () and rc.complete
    assert rc.reason is not None and "at most 5 fibres" in rc.reason


@pytest.mark.parametrize(("link_fidelity", "floor", "link_rounds"),
                         [(0.95, 0.9, 0), (0.8, 0.97, 1)])
def test_fidelity_prune_drops_only_routes_that_cannot_reach_the_floor(
        link_fidelity: float, floor: float, link_rounds: int) -> None:
    """The route enumeration's prune, over the end-to-end space and over one with per-link
    rounds: a dropped route cannot reach the floor even with the best rounds of both."""
    names = ["A", "B", "R1", "R2", "R3", "R4"]
    edges = [(u, v, 8.0) for u, v in itertools.combinations(names, 2) if {u, v} != {"A", "B"}]
    net = small_network(edges, kinds={"A": END, "B": END}, link_fidelity=link_fidelity)
    graph = build_graph(net)
    options = CandidateOptions(max_hops=5, route_limit=10_000, max_purification_rounds=1,
                               max_link_purification_rounds=link_rounds)
    req = request("r", "A", "B", min_fidelity=floor)
    routes = enumerate_routes(net, graph, req, options)
    assert routes is not None
    every = {tuple(p) for p in nx.all_simple_paths(graph, "A", "B", cutoff=5)}
    dropped = every - set(routes)
    assert dropped and routes
    for path in dropped:
        route = build_route(net, graph, path)
        assert route is not None
        assert fidelity_upper_bound(net, route, 1, "dejmps", link_rounds) < floor


@pytest.mark.parametrize("route_limit", [1, 32])
def test_reused_candidates_keep_their_completeness(route_limit: int) -> None:
    net = small_network([("A", "R", 10.0), ("R", "B", 10.0), ("A", "S", 10.0),
                         ("S", "B", 10.0)], kinds={"A": END, "B": END})
    options = CandidateOptions(route_limit=route_limit)
    reqs = [request("r", "A", "B")]
    before = Problem.build(net, reqs, options)
    cut = replace(net, links={k: v for k, v in net.links.items() if {v.a, v.b} != {"S", "B"}})
    after = Problem.build(cut, reqs, options, previous=before)
    assert after.covers_space is before.covers_space is (route_limit > 1)


def test_a_request_beyond_the_hop_limit_is_an_input_error() -> None:
    edges = [(f"N{i}", f"N{i + 1}", 5.0) for i in range(6)]
    net = small_network(edges, kinds={"N0": END, "N6": END})
    far = request("far", "N0", "N6")
    check_route_length(net, [far], 6)  # six fibres fit a limit of six
    with pytest.raises(InputError, match=r"request\[name='far'\]/destination-node.*6 fibres"):
        check_route_length(net, [far], 5)
