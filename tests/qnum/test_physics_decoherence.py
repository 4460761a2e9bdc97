"""Memory decoherence formulas against explicit single-qubit channels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qnum.physics import (
    dephasing_fidelity_phase_flip,
    dephasing_fidelity_werner,
    dephasing_flip_probability,
    depolarising_werner,
    entanglement_lifetime,
    werner_from_fidelity,
)
from tests.qnum import physics_dm as dm

TIMES = (0.0, 0.1, 0.5, 1.3, 4.0)


@pytest.mark.parametrize("t", TIMES)
def test_dephasing_one_half_of_werner(t: float) -> None:
    f0, t2 = 0.92, 0.8
    p = (1 - math.exp(-t / t2)) / 2
    rho = dm.apply_channel(dm.werner(f0), dm.dephasing_kraus(p), 1, 2)
    assert dephasing_fidelity_werner(f0, t, t2) == pytest.approx(dm.fidelity(rho), abs=1e-12)


@pytest.mark.parametrize("t", TIMES)
def test_dephasing_one_half_of_phase_flip_mixture(t: float) -> None:
    f0, t2 = 0.92, 0.8
    p = dephasing_flip_probability(t, t2)
    mixture = dm.bell_diagonal((f0, 0.0, 0.0, 1 - f0))  # Φ+/Φ− only
    rho = dm.apply_channel(mixture, dm.dephasing_kraus(p), 0, 2)
    assert dephasing_fidelity_phase_flip(f0, t, t2) == pytest.approx(dm.fidelity(rho), abs=1e-12)


def test_the_two_dephasing_forms_differ_for_werner_input() -> None:
    # Slopes (4F0−1)/3 vs 2F0−1 differ by 2(1−F0)/3: the Werner pair also dephases its Ψ±
    # weight into the wrong Φ−, so it loses fidelity faster than the Φ+/Φ− mixture.
    f_w = dephasing_fidelity_werner(0.9, 1.0, 1.0)
    f_pf = dephasing_fidelity_phase_flip(0.9, 1.0, 1.0)
    p = dephasing_flip_probability(1.0, 1.0)
    assert f_pf - f_w == pytest.approx(p * 2 * (1 - 0.9) / 3)


@pytest.mark.parametrize("t", TIMES)
def test_depolarising_memory_multiplies_werner_parameter(t: float) -> None:
    f0, big_t = 0.95, 2.0
    lam = math.exp(-t / big_t)
    rho = dm.apply_channel(dm.werner(f0), dm.depolarising_kraus(lam), 0, 2)
    w = depolarising_werner(werner_from_fidelity(f0), t, big_t)
    assert rho == pytest.approx(dm.werner((1 + 3 * w) / 4), abs=1e-12)


def test_entanglement_lifetime_hand_value_and_boundary() -> None:
    assert entanglement_lifetime(0.9, 1.0) == pytest.approx(math.log(2.4))
    t_ent = entanglement_lifetime(0.97, 1.5)
    # At T_ent the phase-flip pair is exactly at the 2/3 classical limit …
    assert dephasing_fidelity_phase_flip(0.97, t_ent, 1.5) == pytest.approx(2 / 3)
    # … just before it is above, just after below.
    assert dephasing_fidelity_phase_flip(0.97, t_ent * 0.999, 1.5) > 2 / 3
    assert dephasing_fidelity_phase_flip(0.97, t_ent * 1.001, 1.5) < 2 / 3
    assert entanglement_lifetime(2 / 3, 1.0) == 0.0
    assert entanglement_lifetime(0.6, 1.0) == 0.0
    assert math.isinf(entanglement_lifetime(0.9, math.inf))


def test_ideal_memory_and_validation() -> None:
    assert depolarising_werner(0.9, 10.0, math.inf) == 0.9
    with pytest.raises(ValueError):
        depolarising_werner(0.9, -1.0, 1.0)
    with pytest.raises(ValueError):
        entanglement_lifetime(0.9, 0.0)
    assert np.isclose(dephasing_flip_probability(1e9, 1.0), 0.5)
