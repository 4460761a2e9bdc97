"""The Monte-Carlo simulator decays each stored half under its own node's memory model,
like the analytic chain model: both agree for dephasing and mixed chains, and sampled
rounds replayed with density matrices give the simulator's states."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qnum.physics import LinkParams, NodeParams, chain_performance, chain_setup, pauli_fidelity
from simulators.montecarlo import sample_rounds, simulate_chain
from tests.qnum import physics_dm as dm

LINKS = [LinkParams(20.0, source_rate_hz=1e6), LinkParams(35.0, source_rate_hz=1e6)]
DEPH = "dephasing"
CASES = {
    "all-dephasing": (
        [NodeParams(0.004, decoherence_model=DEPH)],
        [NodeParams(0.006, decoherence_model=DEPH), NodeParams(0.003, decoherence_model=DEPH)],
    ),
    "mixed": (
        [NodeParams(0.004, decoherence_model=DEPH, bsm_lambda=0.97)],
        [NodeParams(0.006), NodeParams(0.003, decoherence_model=DEPH, initial_fidelity=0.99)],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("rounds", [0, 1])
def test_prediction_matches_simulation(name: str, rounds: int) -> None:
    reps, ends = CASES[name]
    predicted = chain_performance(LINKS, reps, purification_rounds=rounds, end_nodes=ends)
    simulated = simulate_chain(LINKS, reps, purification_rounds=rounds, end_nodes=ends,
                               n_rounds=400_000, seed=5)
    assert abs(simulated.fidelity.value - predicted.fidelity) <= (
        3 * simulated.fidelity.half_width + 1e-12
    )
    assert abs(simulated.rate_hz.value - predicted.rate_hz) <= 3 * simulated.rate_hz.half_width


def test_density_matrix_replay_with_dephasing_memories() -> None:
    reps, ends = CASES["mixed"]
    nodes = [ends[0], reps[0], ends[1]]
    setup = chain_setup(LINKS, reps, end_nodes=ends)
    samples = sample_rounds(setup, 50, np.random.default_rng(11))
    signalling = 55.0 / 2e5

    def store(rho: dm.Matrix, qubit: int, node: NodeParams, t: float) -> dm.Matrix:
        decay = math.exp(-t / node.coherence_time_s)
        kraus = (dm.dephasing_kraus((1 - decay) / 2) if node.decoherence_model == DEPH
                 else dm.depolarising_kraus(decay))
        return dm.apply_channel(rho, kraus, qubit, 2)

    for r in np.flatnonzero(samples.delivered)[:4]:
        pairs = []
        for i in range(2):
            rho = dm.werner(LINKS[i].link_fidelity)
            for q, k in ((0, i), (1, i + 1)):
                write = (4 * nodes[k].initial_fidelity - 1) / 3
                rho = dm.apply_channel(rho, dm.depolarising_kraus(write), q, 2)
                rho = store(rho, q, nodes[k], samples.storage_times[r, i])
            pairs.append(rho)
        for prob, state in dm.swap_outcomes(pairs[0], pairs[1]):
            assert prob == pytest.approx(0.25)
            state = dm.apply_channel(state, dm.depolarising_kraus(reps[0].bsm_lambda), 1, 2)
            state = store(store(state, 0, nodes[0], signalling), 1, nodes[2], signalling)
            assert dm.fidelity(state) == pytest.approx(
                pauli_fidelity(float(samples.werner[r]), float(samples.lambda_z[r])), abs=1e-12
            )
