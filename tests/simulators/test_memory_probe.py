"""The emulated coherence-time probe: a Ramsey estimate with shot noise, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.devices.memory import PROBE_PERIOD_S, CoherenceProbe, ramsey_estimate


@pytest.mark.parametrize(("true_t2", "expected_t2"), [
    (5.0, 5.0), (0.5, 5.0), (5.0, 0.5), (1.5, 1.5)])
def test_the_estimate_scatters_a_few_per_cent_around_the_truth(
        true_t2: float, expected_t2: float) -> None:
    rng = np.random.default_rng(5)
    estimates = np.array([ramsey_estimate(rng, true_t2, expected_t2) for _ in range(400)],
                         dtype=float)
    assert np.all(np.isfinite(estimates))
    assert estimates.mean() == pytest.approx(true_t2, rel=0.03)
    assert 0.01 < estimates.std() / true_t2 < 0.12      # noisy, but not by much
    # never near the 0.5 × planned an alarm needs, never near twice the truth
    assert estimates.min() > 0.7 * true_t2 and estimates.max() < 1.5 * true_t2


@pytest.mark.parametrize("expected_t2", [5e-4, 5e3])
def test_delays_far_off_the_decay_move_towards_it(expected_t2: float) -> None:
    rng = np.random.default_rng(6)
    assert ramsey_estimate(rng, 0.5, expected_t2) == pytest.approx(0.5, rel=0.25)


def test_the_probe_measures_once_per_period_and_only_a_memory() -> None:
    probe = CoherenceProbe(np.random.default_rng(7))
    iso = str
    assert probe.leaves(iso) == {}                       # nothing measured yet
    probe.step(100.0, 2.0, 2.0)
    first = probe.measured
    assert first is not None and first == pytest.approx(2.0, rel=0.25)
    assert probe.leaves(iso) == {"measured-coherence-time": f"{first:.9f}",
                                 "coherence-last-measured": "100.0"}
    probe.step(100.0 + PROBE_PERIOD_S / 2, 0.2, 2.0)     # not due: the last result stands
    assert probe.measured == first and probe.measured_at == 100.0
    probe.step(100.0 + PROBE_PERIOD_S, 0.2, 2.0)
    assert probe.measured == pytest.approx(0.2, rel=0.25)
    probe.step(200.0, None, None)                        # no memory: nothing to report
    assert probe.leaves(iso) == {}
