"""The analytic chain model against hand values and a brute-force joint enumeration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import qnum.physics.chain as chain_module
from qnum.physics import (
    LinkParams,
    NodeParams,
    chain_performance,
    iterate,
    round_statistics,
)


def zero_length_link(rate_hz: float, p: float, fidelity: float = 0.97) -> LinkParams:
    """A link whose per-attempt success is exactly p and whose slot is exactly 1/rate_hz."""
    return LinkParams(
        0.0,
        source_rate_hz=rate_hz,
        detector_efficiency=p,
        heralding="sender-receiver",
        link_fidelity=fidelity,
    )


def brute_force(
    slots: list[float], probs: list[float], betas: list[float], cutoff: float | None
) -> tuple[float, float, float, float]:
    """Enumerate all (K_1, …, K_n) jointly: P(acc), E[min(M,c)], E[M|acc], E[decay|acc]."""
    k_max = [math.ceil(math.log(1e-13) / math.log1p(-p)) for p in probs]
    grids = np.meshgrid(*[np.arange(1, k + 1) for k in k_max], indexing="ij")
    weight = np.ones_like(grids[0], dtype=float)
    times = []
    for g, p, s in zip(grids, probs, slots, strict=True):
        weight *= p * (1 - p) ** (g - 1)
        times.append(g * s)
    m = np.maximum.reduce(times)
    acc = m <= cutoff * (1 + 1e-9) if cutoff is not None else np.ones_like(m, dtype=bool)
    decay = np.exp(-sum(b * (m - t) for b, t in zip(betas, times, strict=True)))
    p_acc = float(weight[acc].sum())
    cycle = float((weight * (np.minimum(m, cutoff) if cutoff else m)).sum())
    return (
        p_acc,
        cycle,
        float((weight * m)[acc].sum() / p_acc),
        float((weight * decay)[acc].sum() / p_acc),
    )


def test_single_link_hand_values() -> None:
    link = LinkParams(50.0, source_rate_hz=1e6)  # p = 0.081, slot = 250 µs
    perf = chain_performance([link], [])
    assert perf.rate_hz == pytest.approx(0.081 / 2.5e-4, rel=1e-9)  # 324 Hz
    assert perf.waiting_time_s == pytest.approx(2.5e-4 / 0.081, rel=1e-9)
    assert perf.latency_s == pytest.approx(2.5e-4)
    assert perf.fidelity == pytest.approx(0.97)  # ideal end memories
    assert perf.memory_slots_per_node == (1, 1)
    assert perf.coherence_ok


def test_single_link_end_memory_decay_during_herald() -> None:
    ends = [NodeParams(0.01)] * 2
    perf = chain_performance([LinkParams(50.0, source_rate_hz=1e6)], [], end_nodes=ends)
    # Both halves wait for the herald (250 µs) in T = 10 ms memories: w·e^(−0.05)
    w = 0.96 * math.exp(-2 * 2.5e-4 / 0.01)
    assert perf.fidelity == pytest.approx((1 + 3 * w) / 4, rel=1e-12)
    # Budget = time the modelled (depolarising) pair stays at F ≥ 2/3:
    # (1 + 3·0.96·e^(−t/0.005))/4 = 2/3 ⇔ 0.96·e^(−t/0.005) = 5/9 ⇔ t = 0.005·ln(9·0.96/5).
    # (The former T·ln(3(2F−1)) is the lifetime of a dephasing Φ+/Φ− mixture, not this pair.)
    assert perf.t_ent_s == pytest.approx(0.005 * math.log(9 * 0.96 / 5))


def test_two_equal_links_expected_maximum() -> None:
    # E[max of two Geometric(½)] = 2/p − 1/(1 − q²) = 4 − 4/3 slots.
    links = [zero_length_link(1e3, 0.5), zero_length_link(1e3, 0.5)]
    rep = NodeParams(math.inf, bsm_lambda=0.98, swap_success_probability=0.5)
    perf = chain_performance(links, [rep])
    assert perf.waiting_time_s == pytest.approx((4 - 4 / 3) * 1e-3, rel=1e-9)
    assert perf.rate_hz == pytest.approx(0.5 / ((4 - 4 / 3) * 1e-3), rel=1e-9)  # 187.5 Hz
    w = (0.96**2) * 0.98
    assert perf.fidelity == pytest.approx((1 + 3 * w) / 4, rel=1e-12)
    assert perf.success_probability == pytest.approx(0.5)


@pytest.mark.parametrize("cutoff", [None, 2.1e-3, 5e-3])
def test_round_statistics_against_joint_enumeration(cutoff: float | None) -> None:
    slots, probs, betas = [1e-3, 1.5e-3, 0.7e-3], [0.4, 0.3, 0.5], [150.0, 80.0, 300.0]
    expected = brute_force(slots, probs, betas, cutoff)
    stats = round_statistics(slots, probs, betas, cutoff)
    got = (
        stats.accept_probability,
        stats.mean_cycle_s,
        stats.mean_wait_accepted_s,
        stats.mean_decay_accepted,
    )
    assert got == pytest.approx(expected, rel=1e-9)


def test_chain_fidelity_and_rate_against_enumeration() -> None:
    links = [
        zero_length_link(1e3, 0.4, 0.98),
        zero_length_link(1e3 / 1.5, 0.3, 0.95),
        zero_length_link(1e3 / 0.7, 0.5, 0.97),
    ]
    ends = [NodeParams(0.02, memory_efficiency=0.9), NodeParams(0.01)]
    reps = [
        NodeParams(0.0125, bsm_lambda=0.97, swap_success_probability=0.6, memory_efficiency=0.95),
        NodeParams(0.005, bsm_lambda=0.99, swap_success_probability=0.5),
    ]
    # γ: ends 50 and 100, repeaters 80 and 200 → β = (50+80, 80+200, 200+100)
    betas = [130.0, 280.0, 300.0]
    p_acc, cycle, _, decay = brute_force([1e-3, 1.5e-3, 0.7e-3], [0.4, 0.3, 0.5], betas, None)
    perf = chain_performance(links, reps, end_nodes=ends)
    w0 = math.prod((4 * f - 1) / 3 for f in (0.98, 0.95, 0.97)) * 0.97 * 0.99
    assert perf.fidelity == pytest.approx((1 + 3 * w0 * decay) / 4, rel=1e-9)
    delivery = 0.6 * 0.95**2 * 0.5 * 0.9
    assert perf.raw_rate_hz == pytest.approx(p_acc * delivery / cycle, rel=1e-9)
    # The 5 ms repeater cannot hold pairs for the ~4 ms wait: the tightest link is the
    # third one (w = 0.96, β = 300/s, depolarising): (1 + 3·0.96·e^(−300t))/4 = 2/3 at
    # T_ent = ln(9·0.96/5)/300 ≈ 1.8 ms (the time this modelled pair stays above 2/3).
    assert perf.t_ent_s == pytest.approx(math.log(9 * 0.96 / 5) / 300.0)
    assert perf.waiting_time_s + perf.latency_s > perf.t_ent_s
    assert not perf.coherence_ok and perf.rate_hz == 0.0
    assert perf.memory_slots_per_node == (1, 2, 2, 1)


def test_grid_fallback_matches_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    slots, probs, betas = [1e-3, 1.5e-3, 0.7e-3], [0.02, 0.03, 0.05], [15.0, 8.0, 30.0]
    exact = round_statistics(slots, probs, betas)
    monkeypatch.setattr(chain_module, "MAX_ATOMS", 4000)
    approx = round_statistics(slots, probs, betas)
    assert approx.mean_cycle_s == pytest.approx(exact.mean_cycle_s, rel=1e-3)
    assert approx.mean_decay_accepted == pytest.approx(exact.mean_decay_accepted, rel=1e-3)


def test_long_lossy_links_approach_exponential_limit() -> None:
    # p ≈ 1e-3 per attempt: herald times are nearly exponential with rate p/τ, and
    # E[max] = Σ_S (−1)^(|S|+1) / Σ_{i∈S} r_i (inclusion–exclusion).
    links = [LinkParams(length, source_rate_hz=1e6) for length in (150.0, 160.0, 170.0, 180.0)]
    rates = []
    for lk in links:
        p = 10 ** (-0.02 * lk.length_km) * 0.81
        rates.append(p / (lk.length_km / 2e5))
    e_max = sum(
        (-1) ** (len(s) + 1) / sum(s)
        for k in range(1, 5)
        for s in itertools.combinations(rates, k)
    )
    perf = chain_performance(links, [NodeParams(math.inf)] * 3)
    assert perf.waiting_time_s == pytest.approx(e_max, rel=2e-3)


def test_purification_divides_rate_and_raises_fidelity() -> None:
    links = [zero_length_link(1e3, 0.5, 0.9), zero_length_link(1e3, 0.5, 0.9)]
    rep = [NodeParams(0.05)]
    base = chain_performance(links, rep)
    for rounds in (1, 2, 3):
        pur = chain_performance(links, rep, purification_rounds=rounds)
        f_out, cost, _ = iterate("dejmps", base.fidelity, rounds)
        assert pur.fidelity == pytest.approx(f_out)
        assert pur.rate_hz == pytest.approx(base.rate_hz / cost)
        assert pur.memory_slots_per_node == (1 + rounds, 2, 1 + rounds)
    bb = chain_performance(links, rep, purification_rounds=2, protocol="bbpssw")
    assert bb.fidelity < chain_performance(links, rep, purification_rounds=2).fidelity


def test_coherence_budget_zeroes_rate() -> None:
    links = [LinkParams(25.0, source_rate_hz=1e6)] * 2
    ok = chain_performance(links, [NodeParams(1.0)])
    budget = ok.waiting_time_s + ok.latency_s
    # Pick T so that T_ent sits 10 % below / above the budget.  Each link pair has one half
    # in the repeater's depolarising memory (rate 1/T) and one in an ideal end memory, so
    # (1 + 3w·e^(−t/T))/4 = 2/3 at t = T·ln(9w/5), w = (4·0.97 − 1)/3 = 0.96.
    factor = math.log(9 * 0.96 / 5)
    bad = chain_performance(links, [NodeParams(0.9 * budget / factor / 1.0)])
    assert bad.t_ent_s == pytest.approx(0.9 * budget)
    assert not bad.coherence_ok and bad.rate_hz == 0.0
    assert bad.raw_rate_hz > 0.0
    fine = chain_performance(links, [NodeParams(1.1 * budget / factor)])
    assert fine.coherence_ok and fine.rate_hz > 0.0


def test_cutoff_window() -> None:
    links = [zero_length_link(1e3, 0.5), zero_length_link(1e3, 0.5)]
    rep = [NodeParams(0.01)]
    # Cut-off below one slot: nothing can ever be delivered.
    none = chain_performance(links, rep, cutoff_s=0.5e-3)
    assert none.rate_hz == 0.0 and none.success_probability == 0.0
    # Cut-off of one slot: accept iff both succeed at once (¼); every round lasts 1 slot.
    one = chain_performance(links, rep, cutoff_s=1e-3)
    assert one.rate_hz == pytest.approx(0.25 * 0.5 / 1e-3)
    assert one.fidelity == pytest.approx((1 + 3 * 0.96**2 * 0.99) / 4)
    # A looser cut-off improves fidelity over no cut-off at the price of rate.
    free = chain_performance(links, rep)
    mid = chain_performance(links, rep, cutoff_s=3e-3)
    assert one.fidelity > mid.fidelity > free.fidelity


def test_link_that_never_heralds() -> None:
    # 20 000 km at 0.2 dB/km: η = 1e−400 underflows to 0.
    perf = chain_performance([LinkParams(20_000.0, source_rate_hz=1e6)], [])
    assert perf.rate_hz == 0.0 and perf.success_probability == 0.0
    with pytest.raises(ValueError):
        round_statistics([1e-3], [0.0], [0.0])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"purification_rounds": 4},
        {"protocol": "pumping"},
        {"cutoff_s": 0.0},
        {"shares": [1.0]},
        {"end_nodes": [NodeParams(1.0)]},
    ],
)
def test_chain_validation(kwargs: dict[str, object]) -> None:
    links = [zero_length_link(1e3, 0.5)] * 2
    with pytest.raises(ValueError):
        chain_performance(links, [NodeParams(1.0)], **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        chain_performance(links, [])
