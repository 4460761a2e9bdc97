"""QKD figures of merit against hand-computed values."""

from __future__ import annotations

import pytest

from qnum.physics import (
    bb84_secret_fraction,
    binary_entropy,
    packet_switch_keep_fraction,
    packet_switched_key_rate,
    qber_from_fidelity,
    secret_key_rate,
)


def test_qber_of_werner_pairs() -> None:
    assert qber_from_fidelity(1.0) == 0.0
    assert qber_from_fidelity(0.25) == pytest.approx(0.5)
    assert qber_from_fidelity(0.95) == pytest.approx(1 / 30)


def test_binary_entropy_hand_values() -> None:
    assert binary_entropy(0.5) == pytest.approx(1.0)
    assert binary_entropy(0.0) == 0.0
    assert binary_entropy(0.11) == pytest.approx(0.499916, abs=1e-6)


def test_secret_fraction_vanishes_at_11_percent() -> None:
    assert bb84_secret_fraction(0.11) == 0.0  # f = 1.15: already clamped
    assert bb84_secret_fraction(0.11, f=1.0) == pytest.approx(0.0, abs=2e-4)
    assert bb84_secret_fraction(0.2, f=1.0) == 0.0
    assert bb84_secret_fraction(0.0) == 1.0


def test_secret_fraction_hand_value_at_f_0_95() -> None:
    # e = 1/30; h2 = 0.210842; r = 1 − 2.15·0.210842
    assert bb84_secret_fraction(qber_from_fidelity(0.95)) == pytest.approx(0.546690, abs=1e-5)
    assert secret_key_rate(1000.0, 0.95) == pytest.approx(546.690, abs=1e-2)


def test_packet_switching_hand_values() -> None:
    # P = 0.99, n = 3, T_Q = 100 µs, T_P = 1 µs → 0.99³·0.97
    k = packet_switch_keep_fraction(0.99, 3, 1e-4, 1e-6)
    assert k == pytest.approx(0.970299 * 0.97)
    assert packet_switch_keep_fraction(0.99, 200, 1e-4, 1e-6) == 0.0
    rate = packet_switched_key_rate(k, 1e4, 0.02, 0.03, f=1.1)
    h_z, h_x = binary_entropy(0.02), binary_entropy(0.03)
    assert rate == pytest.approx(k * 1e4 * (1 - 1.1 * h_z - h_x))
    assert packet_switched_key_rate(k, 1e4, 0.2, 0.2) == 0.0
