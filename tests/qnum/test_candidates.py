"""Candidate generation: routes, transparent segments, exact physics, pruning, reasons."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from qnum.candidates import (
    CandidateOptions,
    build_graph,
    build_route,
    candidate_routes,
    fidelity_upper_bound,
    node_params,
    pareto_prune,
    request_candidates,
)
from qnum.instances import request, small_network
from qnum.io import AppClass, DeviceKind, QRoadm, SwitchingMode, load_requests, load_topology
from qnum.physics import chain_performance, fidelity_from_werner, werner_from_fidelity
from qnum.plan import Problem
from qnum.solver import solve
from qnum.utility import UtilityParams

DATA = Path(__file__).parent / "data"
END = DeviceKind.END_NODE
ROADM = DeviceKind.Q_ROADM


def test_transparent_roadm_joins_fibres_into_one_elementary_link() -> None:
    net = small_network(
        [("A", "X", 20.0), ("X", "B", 30.0)], kinds={"A": END, "B": END, "X": ROADM}
    )
    graph = build_graph(net)
    route = build_route(net, graph, ["A", "X", "B"])
    assert route is not None and len(route.segments) == 1
    seg = route.segments[0]
    assert seg.params.length_km == 50.0
    assert seg.params.extra_loss_db == pytest.approx(1.5)  # one ROADM pass
    assert seg.roadm_channels == ("X",) and seg.add_drop_ports == ("X", "X")
    assert route.memory_nodes == ("A", "B")


def test_packet_roadm_loss_is_the_keep_fraction() -> None:
    packet = QRoadm(
        degrees=4,
        add_drop_ports=0,
        wavelength_channels=1,
        insertion_loss_db=0.0,
        switching_mode=SwitchingMode.PACKET,
        availability=0.9,
        header_processing_time_s=1e-5,
        payload_duration_s=1e-4,
    )
    net = small_network(
        [("A", "X", 10.0), ("X", "B", 10.0)], kinds={"A": END, "B": END, "X": ROADM}, roadm=packet
    )
    route = build_route(net, build_graph(net), ["A", "X", "B"])
    assert route is not None
    keep = 0.9 * (1e-4 - 1e-5) / 1e-4  # K = P^n (T_Q − n·T_P)/T_Q, n = 1
    assert route.segments[0].params.extra_loss_db == pytest.approx(-10 * math.log10(keep))
    assert route.segments[0].roadm_channels == ()  # no dedicated channel in packet mode


def test_candidate_numbers_come_from_chain_performance() -> None:
    net = small_network(
        [("A", "R", 25.0), ("R", "B", 30.0)], kinds={"A": END, "B": END}, link_fidelity=0.98
    )
    # the end-to-end space alone (per-link rounds: tests/qnum/test_link_purification.py)
    rc = request_candidates(net, build_graph(net), request("t", "A", "B"),
                            CandidateOptions(max_link_purification_rounds=0))
    assert rc.candidates, rc.reason
    for cand in rc.candidates:
        perf = chain_performance(
            [seg.params for seg in cand.route.segments],
            [node_params(net.nodes["R"])],
            cand.purification_rounds,
            cand.protocol,
            shares=[cand.min_share] * 2,
            cutoff_s=cand.cutoff_s,
            end_nodes=[node_params(net.nodes["A"]), node_params(net.nodes["B"])],
        )
        assert cand.fidelity == perf.fidelity
        assert cand.rate_per_share_hz == pytest.approx(perf.rate_hz / cand.min_share)
        assert cand.memory == {"A": 1 + cand.purification_rounds, "R": 2,
                               "B": 1 + cand.purification_rounds}  # fmt: skip
        assert cand.cutoff_s <= cand.t_ent_s - cand.latency_s  # per-pair coherence budget
        assert cand.quality == pytest.approx(2 * cand.fidelity - 1)  # teleportation q


def test_lower_share_floor_never_raises_fidelity() -> None:
    net = small_network([("A", "R", 40.0), ("R", "B", 40.0)], kinds={"A": END, "B": END})
    options = CandidateOptions(tight_cutoff_factor=None, max_purification_rounds=0,
                               max_link_purification_rounds=0)
    rc = request_candidates(net, build_graph(net), request("t", "A", "B"), options)
    by_share = sorted(rc.candidates, key=lambda c: -c.min_share)
    fids = [c.fidelity for c in by_share]
    assert len(fids) >= 2 and fids == sorted(fids, reverse=True)


def test_fidelity_bound_is_a_valid_upper_bound() -> None:
    net = small_network([("A", "R", 10.0), ("R", "B", 10.0)], kinds={"A": END, "B": END})
    route = build_route(net, build_graph(net), ["A", "R", "B"])
    assert route is not None
    # The repeater's bsm-fidelity 0.99 is a fidelity: its swap multiplies w by the
    # depolarising factor (4·0.99 − 1)/3 ≈ 0.9867, not by 0.99 (the former reading).
    w = werner_from_fidelity(0.97) ** 2 * werner_from_fidelity(0.99)
    assert fidelity_upper_bound(net, route, 0, "dejmps") == pytest.approx(fidelity_from_werner(w))
    # the end-to-end space alone (per-link rounds: tests/qnum/test_link_purification.py)
    rc = request_candidates(net, build_graph(net), request("t", "A", "B"),
                            CandidateOptions(max_link_purification_rounds=0))
    for cand in rc.candidates:
        bound = fidelity_upper_bound(net, route, cand.purification_rounds, "dejmps")
        assert cand.fidelity <= bound + 1e-12


def test_routes_are_not_a_single_additive_shortest_path() -> None:
    # The short route crosses a repeater with a poor memory: best rate surrogate, worst
    # fidelity.  Both routes must reach exact evaluation, and the solver picks the good one.
    net = small_network(
        [("A", "P", 10.0), ("P", "B", 10.0), ("A", "G", 30.0), ("G", "B", 30.0)],
        kinds={"A": END, "B": END},
    )
    nodes = dict(net.nodes)
    nodes["P"] = replace(nodes["P"], coherence_time_s=0.002, bsm_fidelity=0.9)
    net = replace(net, nodes=nodes)
    graph = build_graph(net)
    paths = candidate_routes(net, graph, "A", "B", CandidateOptions())
    assert ("A", "P", "B") in paths and ("A", "G", "B") in paths
    req = request("dqc", "A", "B", min_fidelity=0.85, demanded_rate_hz=1.0)
    plan = solve(Problem.build(net, [req]))
    chosen = plan.assignments["dqc"].candidate
    assert chosen is not None and chosen.route.nodes == ("A", "G", "B")


def test_pareto_prune_keeps_only_undominated() -> None:
    net = small_network([("A", "B", 20.0)], kinds={"A": END, "B": END})
    options = CandidateOptions(max_candidates=100)
    rc = request_candidates(net, build_graph(net), request("t", "A", "B"), options)
    base = rc.candidates[0]
    worse = replace(base, rate_per_share_hz=base.rate_per_share_hz / 2)
    kept = pareto_prune([worse, base])
    assert kept == [base]
    twin = replace(base)
    assert len(pareto_prune([base, twin])) == 1
    for a in rc.candidates:  # the generator already pruned: nobody dominates anybody
        assert pareto_prune([a, *[b for b in rc.candidates if b is not a]])[0] is a


@pytest.mark.parametrize(
    ("name", "src", "dst", "fields", "reason_part"),
    [
        ("apart", "A", "C", {}, "disconnected"),
        ("roadm-end", "A", "X", {}, "not a memory node"),
        ("no-memory", "A", "Z", {}, "no memory qubits"),
        ("perfect", "A", "B", {"min_fidelity": 1.0}, "unreachable"),
        ("useless", "A", "B", {"min_fidelity": 0.6, "app": "dqc"}, "utility is zero"),
    ],
)
def test_empty_candidate_sets_explain_themselves(
    name: str, src: str, dst: str, fields: dict[str, object], reason_part: str
) -> None:
    net = small_network(
        [("A", "B", 20.0), ("C", "D", 5.0), ("A", "X", 5.0), ("A", "Z", 5.0)],
        kinds={"A": END, "B": END, "C": END, "D": END, "X": ROADM, "Z": END},
        memory={"Z": 0},
    )
    app = AppClass(str(fields.pop("app", "teleportation")))
    extra: dict[str, object] = dict(fields)
    if app is AppClass.DQC:  # threshold above anything 20 km + 2 rounds can give
        extra["utility_params"] = UtilityParams(threshold_fidelity=1.0)
    rc = request_candidates(net, build_graph(net), request(name, src, dst, app, **extra))
    assert rc.candidates == ()
    assert rc.reason is not None and reason_part in rc.reason


def test_fixture_metro_candidates() -> None:
    net = load_topology(DATA / "metro.json")
    reqs = load_requests(DATA / "requests.json", net)
    pb = Problem.build(net, reqs)
    for req in reqs:
        cands = pb.options(req.name)
        assert cands, pb.candidates[req.name].reason
        assert all(c.fidelity >= req.min_fidelity for c in cands)
        assert all(c.route.nodes[0] == req.source and c.route.nodes[-1] == req.destination
                   for c in cands)  # fmt: skip
    # dave reaches carol only through the q-ROADM: one channel and two add/drop ports.
    tele = pb.options("tele-dave-carol")[0]
    assert tele.roadm_channels == {"roadm1": 1} and tele.add_drop_ports == {"roadm1": 2}
    assert "alice" not in tele.route.nodes  # end nodes never relay
