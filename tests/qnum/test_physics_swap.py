"""Entanglement swapping against an explicit 4-qubit Bell measurement."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qnum.physics import (
    chain_werner,
    end_to_end_fidelity,
    fidelity_from_werner,
    path_success,
    swap_success,
    swap_werner,
    werner_from_fidelity,
)
from tests.qnum import physics_dm as dm


def test_werner_parametrisation() -> None:
    assert werner_from_fidelity(1.0) == 1.0
    assert werner_from_fidelity(0.25) == 0.0
    assert werner_from_fidelity(0.85) == pytest.approx(0.8)
    assert fidelity_from_werner(0.8) == pytest.approx(0.85)


def test_swap_corrections_restore_phi_plus_for_perfect_pairs() -> None:
    outcomes = dm.swap_outcomes(dm.werner(1.0), dm.werner(1.0))
    for prob, state in outcomes:
        assert prob == pytest.approx(0.25)
        assert dm.fidelity(state) == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(f1=st.floats(0.3, 1.0), f2=st.floats(0.3, 1.0), lam=st.floats(0.5, 1.0))
def test_swap_matches_density_matrix(f1: float, f2: float, lam: float) -> None:
    expected = fidelity_from_werner(
        swap_werner(werner_from_fidelity(f1), werner_from_fidelity(f2), lam)
    )
    for prob, state in dm.swap_outcomes(dm.werner(f1), dm.werner(f2)):
        assert prob == pytest.approx(0.25)
        # Imperfect BSM modelled as a λ-depolarising channel on the output.
        noisy = dm.apply_channel(state, dm.depolarising_kraus(lam), 1, 2)
        assert dm.fidelity(noisy) == pytest.approx(expected, abs=1e-12)
        # The output is again a Werner state.
        assert noisy == pytest.approx(dm.werner(expected), abs=1e-12)


def test_swap_hand_value() -> None:
    # F = 0.9, 0.8 → w = 13/15, 11/15; λ = 0.99 → w = 0.99·143/225
    w = swap_werner(13 / 15, 11 / 15, 0.99)
    assert w == pytest.approx(0.99 * 143 / 225)
    assert end_to_end_fidelity([0.9, 0.8], [0.99]) == pytest.approx(0.25 + 0.75 * w)


def test_chain_werner_multiplies() -> None:
    assert chain_werner([0.9, 0.8, 0.7], [0.5, 0.5]) == pytest.approx(0.9 * 0.8 * 0.7 * 0.25)
    assert chain_werner([0.6], []) == 0.6
    with pytest.raises(ValueError):
        chain_werner([0.9, 0.8], [])


def test_design_seed_examples() -> None:
    # 10 hops at per-hop success 0.9 → 0.35; 4 hops at p_swap 0.5 → 0.125.
    assert path_success([0.9] * 10, 1.0) == pytest.approx(0.3487, abs=1e-4)
    assert swap_success(0.5, 4) == pytest.approx(0.125)
    assert swap_success(0.5, 1) == 1.0
    with pytest.raises(ValueError):
        swap_success(0.5, 0)
