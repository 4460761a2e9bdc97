"""Application-class utility shapes and objective helpers against hand values."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from qnum.utility import (
    UtilityParams,
    log_tangent_cuts,
    min_useful_fidelity,
    normalise_app_class,
    proportional_fair,
    proportional_fair_objective,
    q_dqs,
    qkd_zero_fidelity,
    quality,
    utility,
    weighted_sum,
)


def test_qkd_quality_is_the_bb84_secret_fraction() -> None:
    assert quality("qkd", 0.95) == pytest.approx(0.546690, abs=1e-5)
    assert quality("sdqn-types:qkd", 1.0) == 1.0
    # e = 11 % ↔ F = 1 − 1.5·0.11 = 0.835: no key left with f = 1.15.
    assert quality("qkd", 0.835) == 0.0


def test_qkd_zero_fidelity_hand_values() -> None:
    # f = 1: h2(e) = ½ at e = 0.110028 → F = 1 − 1.5e = 0.834958 (qnum/README.md, "QKD")
    assert qkd_zero_fidelity(1.0) == pytest.approx(0.834958, abs=1e-6)
    f0 = qkd_zero_fidelity()
    assert quality("qkd", f0 - 1e-9) == 0.0
    assert quality("qkd", f0 + 1e-6) > 0.0
    assert min_useful_fidelity("qkd") == pytest.approx(f0)


def test_dqc_step() -> None:
    assert quality("dqc", 0.95) == 1.0
    assert quality("dqc", 0.9499) == 0.0
    p = UtilityParams(threshold_fidelity=0.9)
    assert quality("dqc", 0.91, p) == 1.0
    assert min_useful_fidelity("dqc", p) == 0.9


def test_dqs_normalised_logistic_ramp() -> None:
    assert quality("dqs", 0.99) == 0.0
    assert quality("dqs", 0.98) == 0.0
    assert quality("dqs", 1.0) == pytest.approx(1.0)
    # k = 50: (σ(0.25) − ½)/(σ(0.5) − ½) = tanh(0.125)/tanh(0.25)
    assert quality("dqs", 0.995) == pytest.approx(0.124353 / 0.244919, abs=1e-5)
    # Very steep: a step just above the threshold.
    assert q_dqs(0.9901, 0.99, 1e5) == pytest.approx(1.0, abs=1e-3)
    values = [quality("dqs", 0.99 + k * 1e-3) for k in range(11)]
    assert values == sorted(values)


def test_teleportation_excess_over_classical_limit() -> None:
    assert quality("teleportation", 0.5) == 0.0
    assert quality("teleportation", 0.4) == 0.0
    # F = 0.75 → f_tel = (2F+1)/3 = 5/6; (5/6 − 2/3)/(1/3) = ½
    assert quality("teleportation", 0.75) == pytest.approx(0.5)
    assert min_useful_fidelity("teleportation") == 0.5


def test_custom_piecewise_linear() -> None:
    p = UtilityParams(points=((0.8, 0.0), (0.9, 0.5), (1.0, 1.0)))
    assert quality("custom", 0.7, p) == 0.0
    assert quality("custom", 0.85, p) == pytest.approx(0.25)
    assert quality("custom", 0.95, p) == pytest.approx(0.75)
    assert min_useful_fidelity("custom", p) == 0.9
    with pytest.raises(ValidationError):
        UtilityParams(points=((0.9, 0.5), (0.8, 0.0)))
    with pytest.raises(ValueError):
        quality("custom", 0.9)


def test_min_fidelity_floor_and_rfc7951_params() -> None:
    p = UtilityParams.model_validate(
        {"threshold-fidelity": "0.97", "steepness": "20.0", "min-fidelity": "0.9"}
    )
    assert p.threshold_fidelity == 0.97 and p.steepness == 20.0
    assert quality("teleportation", 0.85, p) == 0.0
    assert min_useful_fidelity("teleportation", p) == 0.9
    with pytest.raises(ValidationError):
        UtilityParams.model_validate({"threshold": 0.9})


def test_utility_is_rate_times_quality() -> None:
    assert utility("dqc", 120.0, 0.96) == 120.0
    assert utility("teleportation", 100.0, 0.75) == pytest.approx(50.0)
    assert utility("qkd", 1000.0, 0.95) == pytest.approx(546.690, abs=1e-2)
    with pytest.raises(ValueError):
        utility("dqc", -1.0, 0.99)
    with pytest.raises(ValueError):
        normalise_app_class("sdqn-types:teleportation-v2")


def test_objectives() -> None:
    assert weighted_sum([1.0, 2.0], [3.0, 0.5]) == pytest.approx(4.0)
    assert weighted_sum([1.0, 2.0]) == 3.0
    with pytest.raises(ValueError):
        weighted_sum([1.0], [1.0, 2.0])
    assert proportional_fair(math.e) == pytest.approx(1.0)
    assert proportional_fair(0.0, floor=1e-6) == pytest.approx(math.log(1e-6))
    assert proportional_fair_objective([math.e, 1.0], [2.0, 5.0]) == pytest.approx(2.0)


def test_log_tangent_cuts_bound_log_from_above() -> None:
    cuts = log_tangent_cuts(0.1, 1000.0, 9)
    assert len(cuts) == 9
    for x in (0.1, 0.37, 1.0, 12.0, 999.0):
        assert min(a * x + b for a, b in cuts) >= math.log(x) - 1e-12
    # Tangent points are spaced by √10: 0.1, 0.316, 1, 3.16, 10, …; a cut touches log there.
    assert min(a * 10.0 + b for a, b in cuts) == pytest.approx(math.log(10.0))
    with pytest.raises(ValueError):
        log_tangent_cuts(0.0, 1.0, 3)
