"""`sdqn bench physics` parts: the SeQUeNCe run of a one-link chain agrees with the chain
model, and the Bell-diagonal swap the bench supplies to SeQUeNCe is the model's swap."""

from __future__ import annotations

import math

import pytest

from controller.bench.physics_compare import T_975_19, Z_975, compare
from controller.bench.sequence_chain import (
    SEQUENCE_COHERENCE_FACTOR,
    SequenceChain,
    swapped_bell_diagonal,
    topology_config,
)
from qnum.physics import swap_werner, werner_bell_diagonal, werner_from_fidelity

#: Two-sided 99.9 % normal quantile: with one fixed seed the check is deterministic, and a
#: correct model fails it with probability 1e-3 over seeds.
Z_9995 = 3.2905


def _chain(n_links: int = 1) -> SequenceChain:
    return SequenceChain(
        n_links=n_links, length_km=20.0, coherence_time_s=1e-2, source_rate_hz=1e6,
        attenuation_db_per_km=0.2, detector_efficiency=0.9, link_fidelity=0.97,
        swap_success_probability=0.5, bsm_lambda=0.99,
    )


def test_one_link_chain_agrees_with_sequence() -> None:
    result = compare(_chain(), duration_s=0.6, seed=2)
    assert result.pairs > 100
    sigma = result.rate_half_width / T_975_19
    assert abs(result.rate_hz - result.prediction.rate_hz) <= Z_9995 * sigma
    # One link: every pair is stored exactly one herald latency, so the fidelity agrees up
    # to SeQUeNCe rounding its delays to whole picoseconds.
    assert result.fidelity == pytest.approx(result.prediction.fidelity, abs=1e-6)
    # The ideal link layer attempts once per L/c, SeQUeNCe's once per 4 L/c.
    assert result.prediction.ideal_link_layer_rate_hz == pytest.approx(
        4.0 * result.prediction.rate_hz
    )


@pytest.mark.parametrize(("f1", "f2", "lam"), [(0.97, 0.9, 1.0), (0.8, 0.6, 0.95)])
def test_bell_diagonal_swap_matches_the_model(f1: float, f2: float, lam: float) -> None:
    w1, w2 = werner_from_fidelity(f1), werner_from_fidelity(f2)
    state = swapped_bell_diagonal(
        list(werner_bell_diagonal(f1)), list(werner_bell_diagonal(f2)), lam
    )
    assert math.fsum(state) == pytest.approx(1.0)
    assert state[0] == pytest.approx((1.0 + 3.0 * swap_werner(w1, w2, lam)) / 4.0)


def test_mapping_of_memory_and_channels() -> None:
    config = topology_config(_chain(3), duration_s=1.0, seed=0)
    memory = config["templates"]["memory"]["MemoryArray"]
    assert memory["coherence_time"] == pytest.approx(1e-2 * SEQUENCE_COHERENCE_FACTOR)
    assert memory["cutoff_flag"] is False
    assert [c["attenuation"] for c in config["qconnections"]] == [0.0002] * 3
    delays = {(c["node1"], c["node2"]): c["delay"] for c in config["cconnections"]}
    assert delays[("r0", "r3")] == 3 * delays[("r0", "r1")] == 3 * 10**8


def test_two_link_chain_agrees_with_sequence_under_its_swap_timing() -> None:
    """Two links: SeQUeNCe's repeater pairs with both ends (one round trip) before it swaps
    and sends the outcome straight to them; with that timing mapped the analytic model
    predicts its rate and fidelity (memories decay 2 L/c and 3 L/c after the last herald)."""
    result = compare(_chain(2), duration_s=3.0, seed=3)
    assert result.pairs > 150
    rate_sigma = result.rate_half_width / T_975_19
    assert abs(result.rate_hz - result.prediction.rate_hz) <= Z_9995 * rate_sigma
    fidelity_sigma = result.fidelity_half_width / Z_975
    assert abs(result.fidelity_difference) <= Z_9995 * fidelity_sigma
