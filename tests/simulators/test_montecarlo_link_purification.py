"""The Monte-Carlo simulator against the analytic chain model with per-link purification:
the model's protocol agrees within the confidence intervals; the recursive protocol a link
really runs agrees on one link (same mean time) and is never slower on several (less
variable link times), which is the direction the optimiser may err in."""

from __future__ import annotations

import pytest

from qnum.physics import LinkParams, NodeParams, chain_performance
from simulators.montecarlo import simulate_chain

DEPH = "dephasing"
LINKS = [LinkParams(20.0, source_rate_hz=1e6, link_fidelity=0.9),
         LinkParams(25.0, source_rate_hz=1e6, link_fidelity=0.92)]
REPEATERS = [NodeParams(0.05, decoherence_model=DEPH, bsm_lambda=0.98)]
ENDS = [NodeParams(0.05), NodeParams(0.03, decoherence_model=DEPH)]


@pytest.mark.parametrize("link_rounds", [1, 2])
@pytest.mark.parametrize("rounds", [0, 1])
@pytest.mark.parametrize("cutoff", [None, 2e-3])
def test_prediction_matches_simulation(link_rounds: int, rounds: int,
                                       cutoff: float | None) -> None:
    predicted = chain_performance(LINKS, REPEATERS, rounds, end_nodes=ENDS, cutoff_s=cutoff,
                                  link_purification_rounds=link_rounds)
    simulated = simulate_chain(LINKS, REPEATERS, rounds, end_nodes=ENDS, cutoff_s=cutoff,
                               link_purification_rounds=link_rounds, n_rounds=200_000,
                               seed=5)
    assert abs(simulated.fidelity.value - predicted.fidelity) <= (
        3 * simulated.fidelity.half_width + 1e-12)
    assert abs(simulated.rate_hz.value - predicted.rate_hz) <= 3 * simulated.rate_hz.half_width


@pytest.mark.parametrize("link_rounds", [1, 2])
def test_recursive_links_agree_on_one_link_and_are_faster_on_two(link_rounds: int) -> None:
    one = chain_performance(LINKS[:1], [], 1, end_nodes=ENDS,
                            link_purification_rounds=link_rounds)
    sim_one = simulate_chain(LINKS[:1], [], 1, end_nodes=ENDS, n_rounds=200_000, seed=9,
                             link_purification_rounds=link_rounds, link_attempts="recursive")
    assert abs(sim_one.rate_hz.value - one.rate_hz) <= 3 * sim_one.rate_hz.half_width
    assert sim_one.fidelity.value == pytest.approx(one.fidelity, abs=1e-9)
    two = chain_performance(LINKS, REPEATERS, 0, end_nodes=ENDS,
                            link_purification_rounds=link_rounds)
    sim_two = simulate_chain(LINKS, REPEATERS, 0, end_nodes=ENDS, n_rounds=200_000, seed=9,
                             link_purification_rounds=link_rounds, link_attempts="recursive")
    assert sim_two.rate_hz.ci_low > two.rate_hz
    assert sim_two.fidelity.value >= two.fidelity - 3 * sim_two.fidelity.half_width


def test_validation() -> None:
    with pytest.raises(ValueError, match="link_attempts"):
        simulate_chain(LINKS, REPEATERS, link_purification_rounds=1, n_rounds=1000,
                       link_attempts="eager")
    with pytest.raises(ValueError, match="per-link"):
        simulate_chain(LINKS, REPEATERS, link_purification_rounds=1, n_rounds=1000,
                       swap_order="sequential")
