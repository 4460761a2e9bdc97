"""Fibre loss, PLOB bound and heralded-link figures against hand-computed values."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qnum.physics import (
    LinkParams,
    attempt_period_s,
    attempt_success_probability,
    channel_loss_db,
    generation_rate_hz,
    heralding_latency_s,
    plob_bound_rate,
    plob_capacity,
    slot_period_s,
    transmissivity,
)


def test_transmissivity_hand_values() -> None:
    assert transmissivity(50.0) == pytest.approx(0.1, rel=1e-12)
    assert transmissivity(100.0, 0.2) == pytest.approx(0.01, rel=1e-12)
    assert transmissivity(0.0) == 1.0
    assert transmissivity(10.0, 0.3) == pytest.approx(10 ** -0.3, rel=1e-12)


def test_plob_capacity_at_eta_0_1() -> None:
    # −log2(0.9) = ln(10/9)/ln 2
    assert plob_capacity(0.1) == pytest.approx(0.152003093445, rel=1e-9)
    assert plob_capacity(0.0) == 0.0
    assert math.isinf(plob_capacity(1.0))
    with pytest.raises(ValueError):
        plob_capacity(1.5)


@pytest.mark.parametrize(
    ("scheme", "p", "latency"),
    [
        ("midpoint-source", 0.1 * 0.9 * 0.9, 50 / 2e5),  # η(L/2)² η_d²
        ("meet-in-the-middle", 0.1 * 0.9 * 0.9 * 0.5, 50 / 2e5),  # × linear-optics BSM ½
        ("sender-receiver", 0.1 * 0.9, 2 * 50 / 2e5),  # round trip
    ],
)
def test_link_schemes_hand_values(scheme: str, p: float, latency: float) -> None:
    link = LinkParams(50.0, source_rate_hz=1e6, heralding=scheme)  # type: ignore[arg-type]
    assert attempt_success_probability(link) == pytest.approx(p, rel=1e-12)
    assert heralding_latency_s(link) == pytest.approx(latency, rel=1e-12)
    # f_rep = 1 MHz is faster than the heralding: the round trip sets the period.
    assert attempt_period_s(link) == pytest.approx(latency, rel=1e-12)
    assert generation_rate_hz(link) == pytest.approx(p / latency, rel=1e-12)


def test_slow_source_sets_the_period_and_share_scales_rate() -> None:
    link = LinkParams(50.0, source_rate_hz=1e3)
    assert attempt_period_s(link) == pytest.approx(1e-3)
    assert slot_period_s(link, 0.25) == pytest.approx(4e-3)
    assert generation_rate_hz(link, share=0.5) == pytest.approx(0.081 / 2e-3)
    with pytest.raises(ValueError):
        generation_rate_hz(link, share=0.0)
    with pytest.raises(ValueError):
        generation_rate_hz(link, share=1.2)


def test_multiplexing_and_extra_loss() -> None:
    link = LinkParams(50.0, source_rate_hz=1e6, modes=10)
    assert attempt_success_probability(link) == pytest.approx(1 - (1 - 0.081) ** 10, rel=1e-12)
    lossy = LinkParams(50.0, source_rate_hz=1e6, extra_loss_db=3.0)
    assert attempt_success_probability(lossy) == pytest.approx(10**-1.3 * 0.81, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(length=st.floats(0.0, 150.0), extra=st.floats(0.0, 10.0),
       scheme=st.sampled_from(["midpoint-source", "meet-in-the-middle", "sender-receiver"]),
       eta_d=st.floats(0.05, 1.0), modes=st.integers(1, 64))
def test_channel_loss_inverts_the_success_probability(length: float, extra: float,
                                                      scheme: str, eta_d: float,
                                                      modes: int) -> None:
    link = LinkParams(length, source_rate_hz=1e6, heralding=scheme,  # type: ignore[arg-type]
                      detector_efficiency=eta_d, modes=modes, extra_loss_db=extra)
    p = attempt_success_probability(link)
    # Near p = 1 (many modes, little loss) the inversion is ill-conditioned: the success
    # ratio no longer tells the loss, in floating point as with any counts.
    assume(0.0 < p < 0.99)
    assert channel_loss_db(p, heralding=link.heralding, detector_efficiency=eta_d,
                           modes=modes) == pytest.approx(0.2 * length + extra, abs=1e-6)


def test_channel_loss_hand_values_and_bounds() -> None:
    # midpoint source: p = η η_d² = 0.1 · 0.81 → 10 dB
    assert channel_loss_db(0.081, heralding="midpoint-source",
                           detector_efficiency=0.9) == pytest.approx(10.0, rel=1e-12)
    # more heralds than a lossless channel allows: 0 dB, not a negative loss
    assert channel_loss_db(0.95, heralding="sender-receiver", detector_efficiency=0.9) == 0.0
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError):
            channel_loss_db(bad, heralding="midpoint-source", detector_efficiency=0.9)


def test_plob_bound_rate_hand_value() -> None:
    link = LinkParams(50.0, source_rate_hz=1e6, modes=2)
    assert plob_bound_rate(link) == pytest.approx(0.152003093445 * 2e6, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    length=st.floats(0.1, 300.0),
    rate=st.floats(1e2, 1e9),
    det=st.floats(0.05, 1.0),
    modes=st.integers(1, 1000),
    scheme=st.sampled_from(["midpoint-source", "meet-in-the-middle", "sender-receiver"]),
)
def test_generation_never_beats_plob(
    length: float, rate: float, det: float, modes: int, scheme: str
) -> None:
    link = LinkParams(
        length, source_rate_hz=rate, detector_efficiency=det, modes=modes, heralding=scheme  # type: ignore[arg-type]
    )
    assert generation_rate_hz(link) <= plob_bound_rate(link) * (1 + 1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"source_rate_hz": 0.0},
        {"source_rate_hz": 1e6, "detector_efficiency": 0.0},
        {"source_rate_hz": 1e6, "modes": 0},
        {"source_rate_hz": 1e6, "link_fidelity": 1.2},
        {"source_rate_hz": 1e6, "heralding": "carrier-pigeon"},
    ],
)
def test_link_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        LinkParams(10.0, **kwargs)  # type: ignore[arg-type]


def test_link_params_are_keyword_only_after_length() -> None:
    with pytest.raises(TypeError):
        LinkParams(10.0, 0.2, 1e6)  # type: ignore[call-arg]
