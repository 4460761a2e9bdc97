"""Baselines: each rule does what it says, plans are valid, and none beats the optimum."""

from __future__ import annotations

import pytest

from qnum.baselines import (
    NO_CAPACITY,
    all_baselines,
    exhaustive_optimum,
    fidelity_greedy,
    optimal_shares,
    sequential_greedy,
    shortest_path,
)
from qnum.candidates import CandidateOptions
from qnum.instances import random_requests, request, small_network, waxman_network
from qnum.io import DeviceKind
from qnum.plan import Problem, violations

END = DeviceKind.END_NODE


def _diamond() -> Problem:
    """A–B over a short route (via S) or a long one (via L); fidelity needs purification."""
    net = small_network(
        [("A", "S", 10.0), ("S", "B", 10.0), ("A", "L", 40.0), ("L", "B", 40.0)],
        kinds={"A": END, "B": END},
    )
    reqs = [
        request("hi-fi", "A", "B", min_fidelity=0.96, demanded_rate_hz=5.0),
        request("bulk", "A", "B", demanded_rate_hz=1e6, weight=2.0),
    ]
    return Problem.build(net, reqs)


def test_shortest_path_uses_no_purification_and_no_detour() -> None:
    pb = _diamond()
    plan = shortest_path(pb)
    hifi, bulk = plan.assignments["hi-fi"], plan.assignments["bulk"]
    assert not hifi.admitted and "misses min-fidelity" in (hifi.reason or "")
    assert bulk.candidate is not None
    assert bulk.candidate.route.nodes == ("A", "S", "B")
    assert bulk.candidate.purification_rounds == 0


def test_fidelity_greedy_takes_the_best_fidelity_that_fits() -> None:
    pb = _diamond()
    plan = fidelity_greedy(pb)
    bulk, hifi = plan.assignments["bulk"].candidate, plan.assignments["hi-fi"].candidate
    assert bulk is not None and hifi is not None  # bulk (heavier) goes first
    assert bulk.fidelity == max(c.fidelity for c in pb.options("bulk"))
    assert plan.assignments["bulk"].share == 1.0  # its demand exceeds the route's capacity
    left = [c for c in pb.options("hi-fi") if not set(c.links) & set(bulk.links)]
    assert hifi.fidelity == max(c.fidelity for c in left)


def test_sequential_greedy_serves_heavier_requests_first() -> None:
    net = small_network([("A", "B", 20.0)], kinds={"A": END, "B": END})
    reqs = [
        request("light", "A", "B", demanded_rate_hz=1e6),
        request("heavy", "A", "B", demanded_rate_hz=1e6, weight=3.0),
    ]
    pb = Problem.build(net, reqs, CandidateOptions(share_levels=(0.5,)))
    plan = sequential_greedy(pb)
    assert plan.assignments["heavy"].share == pytest.approx(1.0)
    assert plan.assignments["light"].reason == NO_CAPACITY
    assert violations(pb, plan) == []


def test_all_baselines_valid_and_below_exhaustive_optimum() -> None:
    for seed in (11, 12):
        net = waxman_network(14, seed)
        pb = Problem.build(
            net,
            random_requests(net, 3, seed, max_hops=3),
            CandidateOptions(max_candidates=3, share_levels=(1.0, 0.2)),
        )
        best = exhaustive_optimum(pb)
        assert violations(pb, best) == []
        for name, plan in all_baselines(pb).items():
            assert violations(pb, plan) == [], name
            assert plan.total_utility <= best.objective * (1 + 1e-9), name


def test_optimal_shares_lp_hand_case() -> None:
    net = small_network([("A", "B", 20.0)], kinds={"A": END, "B": END})
    pb = Problem.build(
        net,
        [request("x", "A", "B", demanded_rate_hz=1e6), request("y", "A", "B", weight=2.0)],
        CandidateOptions(share_levels=(0.1,), max_purification_rounds=0, tight_cutoff_factor=None),
    )
    cx, cy = pb.options("x")[0], pb.options("y")[0]
    lp = optimal_shares(pb.requests, [cx, cy])
    assert lp is not None
    value, (sx, sy) = lp
    need_y = 1000.0 / cy.rate_per_share_hz  # y's demand, then x takes the rest
    assert sy == pytest.approx(need_y, abs=1e-7) and sx == pytest.approx(1 - need_y, abs=1e-7)
    q = cx.quality
    assert value == pytest.approx(q * (2 * 1000.0 + (1 - need_y) * cx.rate_per_share_hz))


def test_exhaustive_refuses_huge_instances() -> None:
    pb = _diamond()
    with pytest.raises(ValueError, match="combinations"):
        exhaustive_optimum(pb, max_combinations=10)
