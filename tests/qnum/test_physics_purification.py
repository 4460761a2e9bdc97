"""BBPSSW / DEJMPS against explicit bilateral-CNOT circuits on 16×16 density matrices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qnum.physics import bbpssw, bbpssw_pair, dejmps, dejmps_pair, iterate, werner_bell_diagonal
from tests.qnum import physics_dm as dm

bell_vectors = st.lists(st.floats(0.01, 1.0), min_size=4, max_size=4).map(
    lambda v: tuple(float(x) for x in np.asarray(v) / sum(v))
)


def test_bbpssw_design_formula_hand_value() -> None:
    # F = 0.8: p = 0.64 + 0.32/3 + 5(0.2/3)² = 0.768888…, F' = (0.64 + 0.04/9)/p
    p, f = bbpssw(0.8)
    assert p == pytest.approx(0.64 + 0.32 / 3 + 5 * (0.2 / 3) ** 2)
    assert f == pytest.approx((0.64 + 0.04 / 9) / p)
    assert f == pytest.approx(0.83815, abs=1e-5)


@settings(max_examples=20, deadline=None)
@given(f1=st.floats(0.3, 1.0), f2=st.floats(0.3, 1.0))
def test_bbpssw_matches_circuit(f1: float, f2: float) -> None:
    prob, out = dm.recurrence_round(dm.werner(f1), dm.werner(f2), dejmps=False)
    p, f = bbpssw_pair(f1, f2)
    assert p == pytest.approx(prob, abs=1e-12)
    assert f == pytest.approx(dm.fidelity(out), abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(x=bell_vectors, y=bell_vectors)
def test_dejmps_matches_circuit(
    x: tuple[float, float, float, float], y: tuple[float, float, float, float]
) -> None:
    prob, out = dm.recurrence_round(dm.bell_diagonal(x), dm.bell_diagonal(y), dejmps=True)
    p, coeffs = dejmps_pair(x, y)
    assert p == pytest.approx(prob, abs=1e-12)
    assert coeffs == pytest.approx(dm.bell_coefficients(out), abs=1e-12)
    # The output is still Bell-diagonal: nothing outside the four diagonal weights.
    assert np.real(np.trace(out)) == pytest.approx(sum(coeffs))
    assert out == pytest.approx(dm.bell_diagonal(coeffs), abs=1e-12)


def test_dejmps_first_round_on_werner_equals_bbpssw() -> None:
    for f in (0.6, 0.8, 0.95):
        p_d, coeffs = dejmps(werner_bell_diagonal(f))
        p_b, f_b = bbpssw(f)
        assert p_d == pytest.approx(p_b)
        assert coeffs[0] == pytest.approx(f_b)


def test_two_rounds_from_0_8() -> None:
    f_d, cost_d, succ_d = iterate("dejmps", 0.8, 2)
    f_b, cost_b, succ_b = iterate("bbpssw", 0.8, 2)
    assert f_d == pytest.approx(0.944, abs=1e-3)
    assert f_b == pytest.approx(0.874, abs=1e-3)
    # Two rounds: 4 pairs per attempt chain, divided by the success of each round.
    p1, _ = bbpssw(0.8)
    assert succ_d == pytest.approx(p1 * 0.74460, abs=1e-4)
    assert cost_d == pytest.approx(4 / succ_d)
    assert cost_b == pytest.approx(4 / succ_b)


def test_iterate_zero_rounds_and_validation() -> None:
    assert iterate("dejmps", 0.9, 0) == (0.9, 1.0, 1.0)
    with pytest.raises(ValueError):
        iterate("dejmps", 0.9, -1)
    with pytest.raises(ValueError):
        iterate("pumping", 0.9, 1)
