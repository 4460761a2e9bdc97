"""Monte-Carlo simulation vs the analytic chain model, and a density-matrix replay."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from qnum.physics import LinkParams, NodeParams, chain_performance, chain_setup
from simulators.montecarlo import sample_rounds, simulate_chain
from tests.qnum import physics_dm as dm

END_NODES = [NodeParams(0.05, memory_efficiency=0.95), NodeParams(0.02)]


def _links(*lengths: float, **kwargs: Any) -> list[LinkParams]:
    return [LinkParams(length, source_rate_hz=1e6, **kwargs) for length in lengths]


CASES: dict[str, tuple[list[LinkParams], list[NodeParams], dict[str, Any]]] = {
    "one-link": (_links(50.0), [], {}),
    "two-links-unequal": (
        [
            LinkParams(25.0, source_rate_hz=1e6),
            LinkParams(40.0, source_rate_hz=2e5, heralding="sender-receiver", modes=4),
        ],
        [NodeParams(0.05)],
        {},
    ),
    "four-links-dejmps-2": (
        _links(10.0, 30.0, 20.0, 15.0),
        [NodeParams(0.1, memory_efficiency=0.9)] * 3,
        {"purification_rounds": 2, "n_rounds": 1_000_000},
    ),
    "four-links-bbpssw-shares": (
        _links(10.0, 30.0, 20.0, 15.0, link_fidelity=0.95),
        [NodeParams(0.1)] * 3,
        {"purification_rounds": 1, "protocol": "bbpssw", "shares": [0.5, 1.0, 0.3, 1.0]},
    ),
    "three-links-cutoff": (
        _links(10.0, 30.0, 20.0),
        [NodeParams(0.01, swap_success_probability=0.8)] * 2,
        {"cutoff_s": 1.2e-3},
    ),
    "two-links-dejmps-3": (
        _links(20.0, 35.0, link_fidelity=0.9),
        [NodeParams(0.2)],
        {"purification_rounds": 3, "n_rounds": 400_000},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_prediction_matches_simulation(name: str) -> None:
    links, reps, kwargs = CASES[name]
    model_kwargs = {k: v for k, v in kwargs.items() if k != "n_rounds"}
    predicted = chain_performance(links, reps, end_nodes=END_NODES, **model_kwargs)
    simulated = simulate_chain(links, reps, end_nodes=END_NODES, seed=7, **kwargs)
    assert predicted.coherence_ok
    # 95 % intervals are reported and tight enough for a 5 % comparison to mean something.
    for est in (simulated.rate_hz, simulated.fidelity):
        assert math.isfinite(est.half_width)
        assert 0.0 <= est.half_width < 0.02 * est.value
    assert simulated.rate_hz.half_width > 0.0
    # Agreement within 5 % …
    assert simulated.rate_hz.value == pytest.approx(predicted.rate_hz, rel=0.05)
    assert simulated.fidelity.value == pytest.approx(predicted.fidelity, rel=0.05)
    # … and statistically consistent (the model is exact, not merely close).
    assert abs(simulated.rate_hz.value - predicted.rate_hz) <= 3 * simulated.rate_hz.half_width
    assert abs(simulated.fidelity.value - predicted.fidelity) <= (
        3 * simulated.fidelity.half_width + 1e-12
    )


def test_simulated_raw_figures_match_before_purification() -> None:
    links, reps, kwargs = CASES["four-links-dejmps-2"]
    predicted = chain_performance(links, reps, end_nodes=END_NODES, purification_rounds=2)
    simulated = simulate_chain(links, reps, end_nodes=END_NODES, seed=3, **kwargs)
    assert simulated.raw_rate_hz == pytest.approx(predicted.raw_rate_hz, rel=0.02)
    assert simulated.raw_fidelity == pytest.approx(predicted.raw_fidelity, rel=0.002)
    assert simulated.n_output < simulated.n_delivered / 4


def test_density_matrix_replay_of_sampled_rounds() -> None:
    """Track full density matrices through depolarising memories and the swap."""
    links = [LinkParams(20.0, source_rate_hz=1e6), LinkParams(35.0, source_rate_hz=1e6)]
    rep = NodeParams(0.004, bsm_lambda=0.97, swap_success_probability=1.0)
    ends = [NodeParams(0.006), NodeParams(0.003)]
    setup = chain_setup(links, [rep], end_nodes=ends)
    samples = sample_rounds(setup, 50, np.random.default_rng(11))
    gammas = [1 / 0.006, 1 / 0.004, 1 / 0.003]
    signalling = 55.0 / 2e5
    for r in np.flatnonzero(samples.delivered)[:4]:
        pairs = []
        for i in range(2):
            t = samples.storage_times[r, i]
            rho = dm.werner(links[i].link_fidelity)
            for q, node in ((0, i), (1, i + 1)):
                rho = dm.apply_channel(
                    rho, dm.depolarising_kraus(math.exp(-gammas[node] * t)), q, 2
                )
            pairs.append(rho)
        for prob, state in dm.swap_outcomes(pairs[0], pairs[1]):
            assert prob == pytest.approx(0.25)
            state = dm.apply_channel(state, dm.depolarising_kraus(rep.bsm_lambda), 1, 2)
            for q, node in ((0, 0), (1, 2)):
                lam = math.exp(-gammas[node] * signalling)
                state = dm.apply_channel(state, dm.depolarising_kraus(lam), q, 2)
            assert dm.fidelity(state) == pytest.approx(
                (1 + 3 * samples.werner[r]) / 4, abs=1e-12
            )
    # Storage times are those of the protocol: last herald waits only for its herald.
    ages = samples.storage_times - np.asarray(setup.herald_s)
    assert np.allclose(ages.min(axis=1), 0.0)


def test_seeded_and_reproducible() -> None:
    links, reps, _ = CASES["two-links-unequal"]
    a = simulate_chain(links, reps, n_rounds=20_000, seed=1)
    b = simulate_chain(links, reps, n_rounds=20_000, seed=1)
    c = simulate_chain(links, reps, n_rounds=20_000, seed=2)
    assert a == b
    assert a.rate_hz.value != c.rate_hz.value
    assert a.n_rounds == 20_000 and a.seed == 1


def test_cutoff_rounds_last_at_most_the_cutoff() -> None:
    links, reps, kwargs = CASES["three-links-cutoff"]
    setup = chain_setup(links, reps)
    samples = sample_rounds(setup, 10_000, np.random.default_rng(5), kwargs["cutoff_s"])
    assert samples.cycle_time.max() <= kwargs["cutoff_s"] * (1 + 1e-9)
    assert not samples.delivered[~samples.accepted].any()
    assert 0.0 < samples.accepted.mean() < 1.0


def test_validation() -> None:
    links, reps, _ = CASES["two-links-unequal"]
    with pytest.raises(ValueError):
        simulate_chain(links, reps, n_rounds=10)
    with pytest.raises(ValueError):
        simulate_chain(links, reps, purification_rounds=5)
    with pytest.raises(ValueError):
        simulate_chain(links, [])
