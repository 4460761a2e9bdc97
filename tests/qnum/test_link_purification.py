"""Per-link purification: the purified link pair against explicit density matrices, the
chain model's rate/fidelity/memory with link rounds, and the bound the route search and
pricing rely on (``link_bound``)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random

import pytest

from qnum.candidates import (
    CandidateOptions,
    build_graph,
    build_route,
    fidelity_upper_bound,
    node_params,
    request_candidates,
)
from qnum.instances import request, small_network
from qnum.io import DeviceKind
from qnum.physics import (
    LinkParams,
    NodeParams,
    attempt_success_probability,
    bell_diagonal_of,
    chain_performance,
    chain_setup,
    classical_one_way_s,
    dejmps,
    eigenvalues_of,
    heralding_latency_s,
    iterate,
    iterate_bell_diagonal,
    link_bound,
    memory_slots,
    purification_ceiling,
    purify_link,
    purify_once,
    slot_period_s,
)
from tests.qnum import physics_dm as dm

DEPH = "dephasing"
END = DeviceKind.END_NODE


def _store(rho: dm.Matrix, qubit: int, gamma: float, model: str, t: float) -> dm.Matrix:
    decay = math.exp(-gamma * t)
    kraus = dm.dephasing_kraus((1 - decay) / 2) if model == DEPH else dm.depolarising_kraus(decay)
    return dm.apply_channel(rho, kraus, qubit, 2)


@pytest.mark.parametrize("models", [("depolarising", DEPH), (DEPH, DEPH),
                                    ("depolarising", "depolarising")])
@pytest.mark.parametrize("rounds", [1, 2])
def test_purified_link_matches_density_matrices(models: tuple[str, str], rounds: int) -> None:
    """Raw Werner pair, decayed over the herald, then per round: DEJMPS on two copies and
    a round trip of decay in each holder's memory model."""
    g_a, g_b, herald, trip = 40.0, 25.0, 1e-4, 2e-4
    rates = [g if m == "depolarising" else 0.0 for g, m in zip((g_a, g_b), models, strict=True)]
    got = purify_link(0.85, g_a + g_b, sum(rates), herald, trip, rounds, "dejmps")
    rho = dm.werner((1 + 3 * 0.85) / 4)

    def both(state: dm.Matrix, t: float) -> dm.Matrix:
        state = _store(state, 0, g_a, models[0], t)
        return _store(state, 1, g_b, models[1], t)

    rho = both(rho, herald)
    success = 1.0
    for _ in range(rounds):
        p, rho = dm.recurrence_round(rho, rho, dejmps=True)
        success *= p
        rho = both(rho, trip)
    assert got.success_probability == pytest.approx(success, abs=1e-12)
    want = dm.bell_coefficients(rho)
    assert bell_diagonal_of(got.eigenvalues) == pytest.approx(want, abs=1e-12)
    assert got.ready_s == pytest.approx(herald + rounds * trip)


def test_chain_rate_and_fidelity_of_one_purified_link() -> None:
    """One link, no repeaters, ideal end memories: the rate is p·Π p_k/2^r per slot and
    the fidelity that of r rounds on the raw pair."""
    link = LinkParams(30.0, source_rate_hz=1e6, link_fidelity=0.9)
    for rounds in (1, 2):
        perf = chain_performance([link], [], link_purification_rounds=rounds)
        f, _, success = iterate("dejmps", 0.9, rounds)
        p = attempt_success_probability(link)
        expected = p * success / 2**rounds / slot_period_s(link)
        # the slot lattice: E[K·τ] = τ/p_eff exactly
        assert perf.rate_hz == pytest.approx(expected, rel=1e-9)
        assert perf.fidelity == pytest.approx(f, abs=1e-12)
        assert perf.latency_s == pytest.approx(
            heralding_latency_s(link) + rounds * 2 * classical_one_way_s(link))
        assert perf.memory_slots_per_node == memory_slots(1, 0, rounds) == (1 + rounds,) * 2


def test_zero_link_rounds_is_the_unpurified_chain() -> None:
    links = [LinkParams(20.0, source_rate_hz=1e6), LinkParams(35.0, source_rate_hz=1e6)]
    reps = [NodeParams(0.004, decoherence_model=DEPH)]
    ends = [NodeParams(0.006), NodeParams(0.003, decoherence_model=DEPH)]
    assert chain_performance(links, reps, 1, end_nodes=ends) == chain_performance(
        links, reps, 1, end_nodes=ends, link_purification_rounds=0)
    assert chain_setup(links, reps, end_nodes=ends).link_pauli is None


def test_link_rounds_trade_rate_for_fidelity_and_memory() -> None:
    links = [LinkParams(20.0, source_rate_hz=1e6, link_fidelity=0.9),
             LinkParams(25.0, source_rate_hz=1e6, link_fidelity=0.92)]
    reps = [NodeParams(0.1)]
    ends = [NodeParams(0.1), NodeParams(0.1, decoherence_model=DEPH)]
    perfs = [chain_performance(links, reps, end_nodes=ends, link_purification_rounds=r)
             for r in range(3)]
    assert perfs[0].rate_hz > perfs[1].rate_hz > perfs[2].rate_hz
    assert perfs[0].fidelity < perfs[1].fidelity < perfs[2].fidelity
    assert [p.memory_slots_per_node for p in perfs] == [(1, 2, 1), (2, 4, 2), (3, 6, 3)]
    # repeaters hold 2·(r_L + 1): at least the 4 sdqn-repeater asks for when it purifies
    assert memory_slots(3, 2, 1) == (4, 4, 4, 4)


def test_link_bound_is_non_decreasing_and_at_least_w() -> None:
    for protocol in ("dejmps", "bbpssw"):
        for rounds in (0, 1, 2, 3):
            values = [link_bound(k / 2000, rounds, protocol) for k in range(2001)]
            assert all(b >= a - 1e-15 for a, b in itertools.pairwise(values))
            assert all(v >= k / 2000 - 1e-15 for k, v in enumerate(values))


def test_link_bound_dominates_every_reachable_link_pair() -> None:
    """The claim ``link_bound`` rests on: from a raw pair with λ_X = λ_Y ≤ λ_Z ≤ w (writes
    and decay only lower the eigenvalues, dephasing spares λ_Z), with decays between rounds
    that lower (λ_X, λ_Y) by one factor and λ_Z by a larger one, no round reaches a larger
    |λ| than the protocol does from the Werner pair w."""
    rng = random.Random(2)
    for _ in range(20_000):
        w = rng.uniform(0.0, 1.0)
        z = rng.uniform(0.0, w) if rng.random() < 0.8 else w
        xy = rng.uniform(0.0, z) if rng.random() < 0.7 else z
        lam = (xy, xy, z)
        rounds = rng.randint(1, 3)
        for _ in range(rounds):
            _, state = dejmps(bell_diagonal_of(lam))
            x, y, zz = eigenvalues_of(state)
            d_z = rng.uniform(0.5, 1.0) if rng.random() < 0.7 else 1.0
            d_xy = d_z if rng.random() < 0.5 else rng.uniform(0.5, d_z)
            lam = (x * d_xy, y * d_xy, zz * d_z)
        assert max(abs(v) for v in lam) <= link_bound(w, rounds, "dejmps") + 1e-12


def test_end_to_end_rounds_never_beat_the_purification_ceiling() -> None:
    """The end-to-end half of the bound: r rounds on any Bell-diagonal pair with
    non-negative eigenvalues (every pair the chain model makes) and fidelity F never
    exceed ``purification_ceiling(F, r)``, and the ceiling is non-decreasing in F."""
    rng = random.Random(7)
    checked = 0
    while checked < 50_000:
        lam = tuple(rng.random() ** rng.choice((0.2, 1.0, 3.0)) for _ in range(3))
        state = bell_diagonal_of((lam[0], lam[1], lam[2]))
        if min(state) < 0.0:
            continue
        checked += 1
        for rounds in (1, 2, 3):
            for protocol in ("dejmps", "bbpssw"):
                got = iterate_bell_diagonal(protocol, state, rounds)[0]
                assert got <= purification_ceiling(state[0], rounds) + 1e-12
    values = [purification_ceiling(k / 1000, 2) for k in range(1001)]
    assert all(b >= a for a, b in itertools.pairwise(values))


def test_link_purified_pairs_beat_the_werner_pair_of_their_bound() -> None:
    """Why the ceiling and not the rounds on a Werner pair: two 0.9 links purified twice
    and swapped make an asymmetric pair that one DEJMPS round lifts far above what the
    Werner pair of the same eigenvalue bound reaches."""
    w = (4 * 0.9 - 1) / 3
    link = (w, w, w)
    for _ in range(2):
        _, link = purify_once("dejmps", link)
    pair = tuple(v * v for v in link)
    bound = link_bound(w, 2, "dejmps") ** 2
    got = iterate_bell_diagonal("dejmps", bell_diagonal_of((pair[0], pair[1], pair[2])), 1)[0]
    werner_rounds = iterate("dejmps", (1 + 3 * bound) / 4, 1)[0]
    assert got > werner_rounds + 0.005
    assert got <= purification_ceiling((1 + 3 * bound) / 4, 1)


def test_link_purified_candidates_come_from_chain_performance() -> None:
    """Candidates with per-link rounds: numbers from the chain model with those rounds,
    memory by the documented rule, fidelity below the route's bound over the space."""
    net = small_network(
        [("A", "R", 25.0), ("R", "B", 30.0)], kinds={"A": END, "B": END}, link_fidelity=0.9
    )
    graph = build_graph(net)
    options = CandidateOptions(max_link_purification_rounds=2)
    rc = request_candidates(net, graph, request("t", "A", "B"), options)
    route = build_route(net, graph, ["A", "R", "B"])
    assert route is not None
    assert {c.link_purification_rounds for c in rc.candidates} >= {1, 2}, rc.reason
    for cand in rc.candidates:
        rl, r = cand.link_purification_rounds, cand.purification_rounds
        perf = chain_performance(
            [seg.params for seg in cand.route.segments], [node_params(net.nodes["R"])], r,
            cand.protocol, shares=[cand.min_share] * 2, cutoff_s=cand.cutoff_s,
            end_nodes=[node_params(net.nodes["A"]), node_params(net.nodes["B"])],
            link_purification_rounds=rl)
        assert cand.fidelity == perf.fidelity
        assert cand.rate_per_share_hz == pytest.approx(perf.rate_hz / cand.min_share)
        assert cand.memory == {"A": 1 + r + rl, "R": 2 * (1 + rl), "B": 1 + r + rl}
        assert cand.cutoff_s <= cand.t_ent_s - cand.latency_s
        assert cand.key[-1] == rl
        assert cand.fidelity <= fidelity_upper_bound(net, route, r, "dejmps", rl) + 1e-12


def test_a_repeater_without_the_memory_rules_link_rounds_out() -> None:
    net = small_network(
        [("A", "R", 25.0), ("R", "B", 30.0)], kinds={"A": END, "B": END}, link_fidelity=0.9
    )
    nodes = dict(net.nodes)
    nodes["R"] = dataclasses.replace(nodes["R"], memory_qubits=3)
    net = dataclasses.replace(net, nodes=nodes)
    rc = request_candidates(net, build_graph(net), request("t", "A", "B"),
                            CandidateOptions(max_link_purification_rounds=2))
    assert rc.candidates
    assert {c.link_purification_rounds for c in rc.candidates} == {0}


def test_the_route_bound_holds_when_purification_wins_back_memory_writes() -> None:
    """Writes into memory (initial-fidelity < 1) happen before per-link purification,
    which recovers part of them: the route's bound must not charge them after it."""
    net = small_network([("A", "R", 5.0), ("R", "B", 5.0)], kinds={"A": END, "B": END},
                        link_fidelity=0.985)
    nodes = {k: dataclasses.replace(v, initial_fidelity=0.98, coherence_time_s=100.0)
             for k, v in net.nodes.items()}
    net = dataclasses.replace(net, nodes=nodes)
    graph = build_graph(net)
    rc = request_candidates(net, graph, request("t", "A", "B"),
                            CandidateOptions(max_link_purification_rounds=2))
    route = build_route(net, graph, ["A", "R", "B"])
    assert route is not None
    assert {c.link_purification_rounds for c in rc.candidates} == {0, 1, 2}
    for cand in rc.candidates:
        bound = fidelity_upper_bound(net, route, cand.purification_rounds, "dejmps",
                                     cand.link_purification_rounds)
        assert cand.fidelity <= bound + 1e-12
