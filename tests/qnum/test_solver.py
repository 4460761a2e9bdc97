"""Q-NUM solver: hand optima, exhaustive optimum, constraints, time limit, warm-start stability."""

from __future__ import annotations

import itertools
import math
import random
import time
from dataclasses import replace

import networkx as nx
import pytest

from qnum.baselines import all_baselines, exhaustive_optimum
from qnum.candidates import Candidate, CandidateOptions, RequestCandidates, Route, Segment
from qnum.instances import random_requests, request, small_network, waxman_network
from qnum.io import DeviceKind, Network, Objective, QRoadm
from qnum.physics import LinkParams
from qnum.plan import Assignment, Plan, Problem, SolveStatus, violations
from qnum.solver import SolverOptions, solve
from qnum.utility import q_teleportation

ONE_CANDIDATE = CandidateOptions(
    share_levels=(0.05,), max_purification_rounds=0, tight_cutoff_factor=None
)
END = DeviceKind.END_NODE


def _two_on_one_link(d1: float, d2: float, w1: float, w2: float) -> Problem:
    net = small_network([("A", "B", 20.0)], kinds={"A": END, "B": END})
    reqs = [
        request("r1", "A", "B", demanded_rate_hz=d1, weight=w1),
        request("r2", "A", "B", demanded_rate_hz=d2, weight=w2),
    ]
    return Problem.build(net, reqs, ONE_CANDIDATE)


# Midpoint source over 20 km: p = η·η_d² = 10^(−0.4)·0.9², one attempt per L/c = 100 µs.
HAND_RATE = 10 ** (-0.4) * 0.81 / 1e-4


def test_two_requests_sharing_a_link_hand_optimum() -> None:
    pb = _two_on_one_link(0.3 * HAND_RATE, 10 * HAND_RATE, 2.0, 1.0)
    cand = pb.options("r1")[0]
    assert cand.rate_per_share_hz == pytest.approx(HAND_RATE, rel=1e-3)
    plan = solve(pb)
    assert plan.status is SolveStatus.OPTIMAL
    a1, a2 = plan.assignments["r1"], plan.assignments["r2"]
    # Heavier r1 gets exactly what meets its demand, r2 the rest of the fibre.
    assert a1.share == pytest.approx(0.3 * HAND_RATE / cand.rate_per_share_hz, abs=1e-6)
    assert a1.share + a2.share == pytest.approx(1.0, abs=1e-6)
    q = q_teleportation(cand.fidelity)
    expected = q * (2.0 * 0.3 * HAND_RATE + 1.0 * (1.0 - a1.share) * cand.rate_per_share_hz)
    assert plan.objective == pytest.approx(expected, rel=1e-6)
    assert plan.gap == pytest.approx(0.0, abs=1e-6)
    assert exhaustive_optimum(pb).objective == pytest.approx(plan.objective, rel=1e-6)


def test_proportional_fair_splits_by_weight() -> None:
    pb = _two_on_one_link(10 * HAND_RATE, 10 * HAND_RATE, 2.0, 1.0)
    plan = solve(pb, SolverOptions(objective=Objective.PROPORTIONAL_FAIR, fairness_cuts=40))
    # max 2·log s1 + log s2 s.t. s1 + s2 ≤ 1  →  s1 = 2/3, s2 = 1/3.
    assert plan.assignments["r1"].share == pytest.approx(2 / 3, abs=0.03)
    assert plan.assignments["r2"].share == pytest.approx(1 / 3, abs=0.03)
    assert plan.bound >= plan.objective  # the tangent model over-estimates log
    assert plan.objective_kind == "proportional-fair"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_equals_exhaustive_optimum_on_small_random_instances(seed: int) -> None:
    net = waxman_network(14, seed)
    reqs = random_requests(net, 3, seed, max_hops=3)
    reqs = [replace(r, priority=i % 2) for i, r in enumerate(reqs)]
    pb = Problem.build(net, reqs, CandidateOptions(max_candidates=4, share_levels=(1.0, 0.2)))
    plan = solve(pb)
    best = exhaustive_optimum(pb)
    assert plan.objective == pytest.approx(best.objective, rel=1e-6, abs=1e-9)
    assert violations(pb, plan) == []


def _contended() -> Problem:
    """Four requests through one 1-qubit-limited node and a 1-channel q-ROADM."""
    roadm = QRoadm(degrees=4, add_drop_ports=8, wavelength_channels=1)
    net = small_network(
        [("A", "X", 10.0), ("X", "B", 10.0), ("C", "M", 10.0), ("M", "D", 10.0)],
        kinds={"A": END, "B": END, "C": END, "D": END, "X": DeviceKind.Q_ROADM},
        memory={"C": 1},
        roadm=roadm,
    )
    reqs = [
        request("ab1", "A", "B", demanded_rate_hz=10.0),
        request("ab2", "A", "B", demanded_rate_hz=10.0),
        request("cd1", "C", "D", demanded_rate_hz=10.0),
        request("cd2", "C", "D", demanded_rate_hz=10.0, weight=2.0),
    ]
    return Problem.build(net, reqs, ONE_CANDIDATE)


def test_memory_and_wavelength_constraints_bind() -> None:
    pb = _contended()
    assert pb.options("ab1")[0].roadm_channels == {"X": 1}
    plan = solve(pb)
    assert violations(pb, plan) == []
    admitted = {a.request.name for a in plan.admitted}
    assert len(admitted & {"ab1", "ab2"}) == 1  # one wavelength channel at X
    assert "cd2" in admitted and "cd1" not in admitted  # C has one qubit, cd2 weighs more
    rejected_ab = ({"ab1", "ab2"} - admitted).pop()
    assert "wavelength channel" in (plan.assignments[rejected_ab].reason or "")
    assert "free qubits" in (plan.assignments["cd1"].reason or "")
    assert plan.memory_use()["C"] == 1 and plan.roadm_channels()["X"] == 1


def test_priority_pre_empts_lower_priority_competitor() -> None:
    net = small_network([("A", "B", 10.0)], kinds={"A": END, "B": END}, memory={"A": 1})
    reqs = [
        request("low", "A", "B", weight=5.0),
        request("high", "A", "B", weight=1.0, priority=3),
    ]
    pb = Problem.build(net, reqs, ONE_CANDIDATE)
    plan = solve(pb)
    assert [a.request.name for a in plan.admitted] == ["high"]
    assert violations(pb, plan) == []


def test_baselines_never_beat_the_solver() -> None:
    for seed in (5, 6):
        net = waxman_network(30, seed)
        pb = Problem.build(net, random_requests(net, 12, seed))
        baselines = all_baselines(pb)
        plan = solve(pb, hints=list(baselines.values()))
        assert violations(pb, plan) == []
        for base in baselines.values():
            assert violations(pb, base) == []
            assert base.total_utility <= plan.objective * (1 + 1e-9)


def _synthetic(n_requests: int, seed: int) -> Problem:
    """Many random candidates on a random graph (no physics: only the MIP is exercised)."""
    rng = random.Random(seed)
    net = waxman_network(120, seed)
    graph = nx.Graph([(lk.a, lk.b, {"id": lk.link_id}) for lk in net.links.values()])
    nodes = sorted(net.nodes)
    reqs, cands = [], {}
    for j in range(n_requests):
        src, dst = rng.sample(nodes, 2)
        req = request(f"q{j}", src, dst, demanded_rate_hz=rng.uniform(1, 100))
        options = []
        for k in range(6):
            for u, v in graph.edges:
                graph.edges[u, v]["w"] = rng.random()
            path = nx.shortest_path(graph, src, dst, weight="w")
            links = tuple(graph.edges[u, v]["id"] for u, v in itertools.pairwise(path))
            segs = tuple(
                Segment((u, v), (lk,), LinkParams(1.0, source_rate_hz=1e6))
                for (u, v), lk in zip(itertools.pairwise(path), links, strict=True)
            )
            route = Route(tuple(path), links, segs, 0.0)
            options.append(
                Candidate(
                    req.name, route, k % 3, "dejmps", "budget", 1.0, rng.choice((0.05, 0.2)),
                    rng.uniform(5, 200), 0.9, rng.uniform(0.2, 1.0), 0.0, 0.0, 1.0,
                    {n: 1 + k % 3 for n in (src, dst)} | {n: 2 for n in path[1:-1]},
                )
            )  # fmt: skip
        reqs.append(req)
        cands[req.name] = RequestCandidates(req, tuple(options))
    return Problem(net, tuple(reqs), cands)


def test_time_limit_is_honoured_and_plan_stays_valid() -> None:
    pb = _synthetic(300, 7)
    greedy = all_baselines(pb)["sequential-greedy"]
    start = time.perf_counter()
    plan = solve(pb, SolverOptions(time_limit_s=0.5), hints=[greedy])
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5 + 8.0  # model build + extraction on top of the solver's limit
    assert plan.status in (SolveStatus.TIME_LIMIT, SolveStatus.OPTIMAL)
    assert violations(pb, plan) == []
    assert plan.objective >= greedy.total_utility * (1 - 1e-9)
    assert math.isnan(plan.bound) or plan.bound >= plan.objective


def _stability_network(cut: bool) -> Network:
    edges = [("A", "R", 15.0), ("R", "B", 15.0), ("C", "D", 20.0)]
    if not cut:
        edges.append(("A", "B", 20.0))
    return small_network(edges, kinds={n: END for n in "ABCD"})


def test_warm_start_keeps_unaffected_requests_after_a_fibre_cut() -> None:
    reqs = [
        request("a", "A", "B", demanded_rate_hz=50.0),
        request("c1", "C", "D", demanded_rate_hz=1e6),
        request("c2", "C", "D", demanded_rate_hz=1e6),
    ]
    before = Problem.build(_stability_network(cut=False), reqs, ONE_CANDIDATE)
    plan = solve(before)
    assert plan.assignments["a"].candidate is not None
    assert plan.assignments["a"].candidate.links == ("A-B",)
    # c1 and c2 tie on fibre C-D: any split is optimal; pin an unusual one as "running".
    tweaked = dict(plan.assignments)
    for name, share in (("c1", 0.37), ("c2", 0.63)):
        tweaked[name] = Assignment(plan.assignments[name].request, pb_cand(before, name), share)
    running = Plan("qnum", tweaked)
    assert running.total_utility == pytest.approx(plan.objective, rel=1e-9)

    after = Problem.build(_stability_network(cut=True), reqs, ONE_CANDIDATE)
    warm = solve(after, previous=running)
    assert warm.assignments["a"].candidate is not None
    assert warm.assignments["a"].candidate.links == ("A-R", "R-B")
    for name in ("c1", "c2"):
        old, new = running.assignments[name], warm.assignments[name]
        assert new.candidate is not None and old.candidate is not None
        assert new.candidate.key == old.candidate.key
        assert new.share == pytest.approx(old.share, abs=1e-6)
    # A request the previous plan never saw is simply solved for.
    newcomer = request("n", "A", "B", demanded_rate_hz=5.0)
    grown = Problem.build(_stability_network(cut=True), [*reqs, newcomer], ONE_CANDIDATE)
    assert solve(grown, previous=running).assignments["n"].admitted
    # Control: without the previous plan nothing pins the split, the solver picks a vertex.
    cold = solve(after)
    assert cold.objective == pytest.approx(warm.objective, rel=1e-6)
    assert cold.assignments["c1"].share != pytest.approx(0.37, abs=1e-3)


def pb_cand(pb: Problem, name: str) -> Candidate:
    return pb.options(name)[0]


def test_rejection_reasons_for_bad_requests() -> None:
    net = small_network(
        [("A", "B", 20.0), ("C", "D", 20.0), ("A", "E", 20.0)],
        kinds={n: END for n in "ABCDE"},
    )
    zero = {lid: (replace(lk, source_rate_hz=0.0) if lid == "A-E" else lk)
            for lid, lk in net.links.items()}  # fmt: skip
    net = replace(net, links=zero)
    reqs = [
        request("ok", "A", "B"),
        request("apart", "A", "C"),
        request("perfect", "A", "B", min_fidelity=1.0),
        request("zero-capacity", "A", "E"),
        request("off", "A", "B", enabled=False),
    ]
    pb = Problem.build(net, reqs)
    plan = solve(pb)
    reasons = {n: a.reason or "" for n, a in plan.assignments.items() if not a.admitted}
    assert set(reasons) == {"apart", "perfect", "zero-capacity", "off"}
    assert "disconnected" in reasons["apart"]
    assert "min-fidelity 1 unreachable" in reasons["perfect"]
    assert "zero capacity" in reasons["zero-capacity"]
    assert "disabled" in reasons["off"]
    assert plan.assignments["ok"].admitted


def test_no_requests_and_empty_plan_json() -> None:
    pb = Problem.build(small_network([("A", "B", 5.0)]), [])
    plan = solve(pb)
    assert plan.status is SolveStatus.OPTIMAL and plan.objective == 0.0
    body = plan.to_json()["sdqn-qnum:plan"]
    assert body["request"] == [] and body["admitted"] == 0


def test_keep_pins_requests_that_a_failure_did_not_hit() -> None:
    pb = _two_on_one_link(0.3 * HAND_RATE, 10 * HAND_RATE, 2.0, 1.0)
    running = Plan("qnum", {
        "r1": Assignment(pb.requests[0], pb_cand(pb, "r1"), 0.1),
        "r2": Assignment(pb.requests[1], pb_cand(pb, "r2"), 0.9),
    })
    kept = solve(pb, previous=running, keep=["r1"])
    assert kept.assignments["r1"].share == pytest.approx(0.1, abs=1e-9)
    assert kept.assignments["r2"].share == pytest.approx(0.9, abs=1e-6)  # the rest of the fibre
    # Control: without `keep` the better split wins over the small stability reward.
    free = solve(pb, previous=running)
    assert free.assignments["r1"].share == pytest.approx(0.3, abs=1e-3)
    assert free.objective > kept.objective


def test_keep_that_no_longer_fits_falls_back_to_a_free_solve() -> None:
    pb = _two_on_one_link(0.3 * HAND_RATE, 10 * HAND_RATE, 2.0, 1.0)
    # Shares summing above the fibre's capacity cannot both be pinned.
    running = Plan("qnum", {
        "r1": Assignment(pb.requests[0], pb_cand(pb, "r1"), 0.6),
        "r2": Assignment(pb.requests[1], pb_cand(pb, "r2"), 0.6),
    })
    plan = solve(pb, previous=running, keep=["r1", "r2"])
    assert not violations(pb, plan)
    assert plan.assignments["r1"].admitted and plan.assignments["r2"].admitted


def test_problem_reuses_candidates_only_where_they_are_still_exact() -> None:
    net = _stability_network(cut=False)
    reqs = [request("a", "A", "B", demanded_rate_hz=50.0),
            request("c", "C", "D", demanded_rate_hz=5.0)]
    before = Problem.build(net, reqs)
    cut = _stability_network(cut=True)
    after = Problem.build(cut, reqs, previous=before, recompute=["a"])
    fresh = Problem.build(cut, reqs)
    assert all(x is y for x, y in zip(after.options("c"), before.options("c"), strict=True))
    assert not any(x is y for x, y in zip(fresh.options("c"), before.options("c"),
                                           strict=True))
    # "a" lost its direct fibre: regenerated around the cut, equal to a fresh build.
    assert [c.key for c in after.options("a")] == [c.key for c in fresh.options("a")]
    assert all("A-B" not in c.links for c in after.options("a"))
    # Not a pure loss (a link changed): nothing is reused.
    grown = Problem.build(net, reqs, previous=after)
    assert [c.key for c in grown.options("a")] == [c.key for c in before.options("a")]
    assert not any(x is y for x, y in zip(grown.options("c"), before.options("c"),
                                           strict=True))


def test_retained_candidates_stay_options_while_their_route_is_intact() -> None:
    reqs = [request("a", "A", "B", demanded_rate_hz=50.0),
            request("c", "C", "D", demanded_rate_hz=5.0)]
    before = Problem.build(_stability_network(cut=False), reqs)
    running_c = replace(before.options("c")[0], min_share=0.77)   # not what generation lists
    running_a = next(c for c in before.options("a") if c.links == ("A-B",))
    after = Problem.build(_stability_network(cut=True), reqs,
                          retain={"c": running_c, "a": running_a})
    assert running_c in after.options("c")
    assert running_a not in after.options("a")          # its fibre is gone
    again = Problem.build(_stability_network(cut=True), reqs, retain={"c": before.options("c")[0]})
    assert len(again.options("c")) == len(Problem.build(_stability_network(cut=True),
                                                          reqs).options("c"))   # no duplicate
