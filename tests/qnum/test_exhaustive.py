"""The solver's optimum against an independent enumeration of the whole configuration space.

The instances are small random metro networks (4–8 nodes, dense enough to offer several
routes, sometimes a circuit-switched q-ROADM and short-lived or small memories, on even
seeds an end node that relays and on every fourth one that does not) with 2–4
requests whose demand caps are either small (the rate beyond the cap is worthless, so
high-fidelity low-rate configurations matter) or large (capacity is contended).
"""

from __future__ import annotations

import pytest

from controller.bench.exhaustive_space import (
    Space,
    exhaustive_optimum,
    random_instance,
    request_configurations,
)
from controller.bench.qnum import SMALL
from qnum.io import DeviceKind
from qnum.plan import Problem
from qnum.solver import solve

SEEDS = range(20)


@pytest.mark.parametrize("seed", SEEDS)
def test_solver_is_optimal_over_the_whole_space(seed: int) -> None:
    net, reqs = random_instance(seed)
    best = exhaustive_optimum(net, reqs)
    plan = solve(Problem.build(net, reqs, SMALL))   # the exhaustive Space, link rounds too
    assert plan.objective == pytest.approx(best.objective, rel=1e-6, abs=1e-9)
    assert plan.bound >= best.objective * (1 - 1e-6) - 1e-9


def test_every_enumerated_configuration_meets_its_request() -> None:
    """The enumerator's own invariants: floors, memory and hop limit hold everywhere."""
    space = Space()
    relayed = 0
    for seed in SEEDS:
        net, reqs = random_instance(seed)
        for req in reqs:
            for cfg in request_configurations(net, req, space):
                inner = [net.nodes[n] for n in cfg.nodes[1:-1]]
                assert all(n.relay for n in inner if n.kind is DeviceKind.END_NODE)
                relayed += any(n.kind is DeviceKind.END_NODE for n in inner)
                assert cfg.fidelity >= req.min_fidelity and cfg.quality > 0.0
                assert len(cfg.links) <= space.max_hops
                assert cfg.share_floor in space.share_levels
                assert all(k <= net.nodes[n].memory_qubits for n, k in cfg.memory)
                assert cfg.nodes[0] == req.source and cfg.nodes[-1] == req.destination
    assert relayed, "no enumerated configuration crosses a relaying end node"
