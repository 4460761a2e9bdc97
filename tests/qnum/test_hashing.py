"""Hashing bound (distillable entanglement) and its utility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qnum.physics import hashing_bound, werner_bell_diagonal, werner_hashing_bound
from qnum.utility import min_useful_fidelity, quality, utility
from tests.qnum import physics_dm as dm

#: Werner fidelity where 1 − h2(F) − (1 − F)·log2 3 crosses 0 (known point, ≈ 0.8107).
WERNER_HASHING_ZERO = 0.81071


def test_known_points() -> None:
    assert werner_hashing_bound(1.0) == pytest.approx(1.0)
    assert werner_hashing_bound(0.25) == pytest.approx(-1.0)  # maximally mixed: 1 − 2 bits
    assert abs(werner_hashing_bound(WERNER_HASHING_ZERO)) < 1e-4
    for f in (0.5, 0.7, 0.8, 0.8107):
        assert werner_hashing_bound(f) <= 0.0
    assert werner_hashing_bound(0.9) > 0.0


def test_werner_closed_form() -> None:
    for f in (0.85, 0.9, 0.97):
        h2 = -f * math.log2(f) - (1 - f) * math.log2(1 - f)
        assert werner_hashing_bound(f) == pytest.approx(1 - h2 - (1 - f) * math.log2(3))


def test_bound_is_one_minus_the_von_neumann_entropy_of_the_state() -> None:
    coeffs = (0.9, 0.01, 0.02, 0.07)
    eig = np.linalg.eigvalsh(dm.bell_diagonal(coeffs))
    entropy = -sum(float(x) * math.log2(float(x)) for x in eig if x > 1e-15)
    assert hashing_bound(coeffs) == pytest.approx(1 - entropy, abs=1e-12)
    # The Werner twirl of the same fidelity is the worst case.
    assert hashing_bound(coeffs) > hashing_bound(werner_bell_diagonal(0.9))


def test_bad_coefficients_are_refused() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        hashing_bound((0.9, 0.1, 0.1, 0.0))
    with pytest.raises(ValueError, match="four"):
        hashing_bound((1.0,))


def test_distillation_utility() -> None:
    assert quality("sdqn-types:distillation", 1.0) == pytest.approx(1.0)
    assert quality("distillation", 0.8) == 0.0
    assert utility("distillation", 100.0, 0.95) == pytest.approx(100 * werner_hashing_bound(0.95))
    assert min_useful_fidelity("distillation") == pytest.approx(WERNER_HASHING_ZERO, abs=1e-4)
