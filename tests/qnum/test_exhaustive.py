"""The solver's optimum against an independent enumeration of the whole configuration space.

The instances are small random metro networks (4–8 nodes, dense enough to offer several
routes, sometimes a circuit-switched q-ROADM and short-lived or small memories) with 2–4
requests whose demand caps are either small (the rate beyond the cap is worthless, so
high-fidelity low-rate configurations matter) or large (capacity is contended).
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from qnum.instances import request
from qnum.io import AppClass, DeviceKind, Link, Network, Node, QRoadm, Request
from qnum.plan import Problem
from qnum.solver import solve
from qnum.utility import UtilityParams
from tests.qnum.exhaustive import Space, exhaustive_optimum, request_configurations

SEEDS = range(20)
_APPS = (AppClass.QKD, AppClass.TELEPORTATION, AppClass.DQC, AppClass.DQS)


def random_instance(seed: int) -> tuple[Network, list[Request]]:
    """A random geometric network of 4–8 nodes and 2–4 requests (module docstring)."""
    rng = random.Random(seed)
    n = 4 + seed % 5
    pos = {f"v{i}": (rng.uniform(0, 30), rng.uniform(0, 30)) for i in range(n)}
    names = list(pos)
    roadm = names[-1] if n >= 6 and rng.random() < 0.5 else None
    edges = {(a, b) for a, b in itertools.combinations(names, 2) if math.dist(pos[a], pos[b]) < 22}
    # join components by their shortest possible fibre
    parent = {v: v for v in names}

    def root(v: str) -> str:
        while parent[v] != v:
            v = parent[v]
        return v

    for a, b in edges:
        parent[root(a)] = root(b)
    for a, b in sorted(
        itertools.combinations(names, 2), key=lambda e: math.dist(pos[e[0]], pos[e[1]])
    ):
        if root(a) != root(b):
            edges.add((a, b))
            parent[root(a)] = root(b)
    nodes = {}
    for v in names:
        if v == roadm:
            nodes[v] = Node(
                node_id=v,
                kind=DeviceKind.Q_ROADM,
                roadm=QRoadm(
                    degrees=8,
                    add_drop_ports=rng.choice((2, 8)),
                    wavelength_channels=rng.choice((1, 4)),
                ),
            )
        else:
            nodes[v] = Node(
                node_id=v,
                kind=DeviceKind.REPEATER,
                memory_qubits=rng.randint(3, 8),
                coherence_time_s=rng.choice((0.02, 0.1, 1.0)),
                memory_efficiency=rng.uniform(0.9, 1.0),
            )
    links = {
        f"{a}-{b}": Link(
            link_id=f"{a}-{b}",
            a=a,
            b=b,
            length_km=max(1.0, math.dist(pos[a], pos[b])),
            source_rate_hz=1e6,
            link_fidelity=rng.uniform(0.93, 0.99),
        )
        for a, b in sorted(edges)
    }
    net = Network(network_id=f"exhaustive-{seed}", nodes=nodes, links=links)
    memories = [v for v in names if v != roadm]
    large = seed % 2 == 1
    reqs = []
    for j in range(2 + seed % 3):
        src, dst = rng.sample(memories, 2)
        app = rng.choice(_APPS)
        params = UtilityParams()
        floor = {
            AppClass.QKD: 0.85,
            AppClass.TELEPORTATION: 0.75,
            AppClass.DQC: 0.9,
            AppClass.DQS: 0.95,
        }[app]
        if app is AppClass.DQC:
            params = UtilityParams(threshold_fidelity=0.9)
        elif app is AppClass.DQS:
            params = UtilityParams(threshold_fidelity=0.95, steepness=50.0)
        reqs.append(
            request(
                f"r{j}",
                src,
                dst,
                app,
                min_fidelity=floor,
                demanded_rate_hz=1e5 if large else round(10 ** rng.uniform(0.0, 2.0), 3),
                weight=rng.choice((1.0, 2.0, 3.0)),
                priority=1 if rng.random() < 0.2 else 0,
                utility_params=params,
            )
        )
    return net, reqs


@pytest.mark.parametrize("seed", SEEDS)
def test_solver_is_optimal_over_the_whole_space(seed: int) -> None:
    net, reqs = random_instance(seed)
    best = exhaustive_optimum(net, reqs)
    plan = solve(Problem.build(net, reqs))
    assert plan.objective == pytest.approx(best.objective, rel=1e-6, abs=1e-9)
    assert plan.bound >= best.objective * (1 - 1e-6) - 1e-9


def test_every_enumerated_configuration_meets_its_request() -> None:
    """The enumerator's own invariants: floors, memory and hop limit hold everywhere."""
    space = Space()
    for seed in SEEDS:
        net, reqs = random_instance(seed)
        for req in reqs:
            for cfg in request_configurations(net, req, space):
                assert cfg.fidelity >= req.min_fidelity and cfg.quality > 0.0
                assert len(cfg.links) <= space.max_hops
                assert cfg.share_floor in space.share_levels
                assert all(k <= net.nodes[n].memory_qubits for n, k in cfg.memory)
                assert cfg.nodes[0] == req.source and cfg.nodes[-1] == req.destination
