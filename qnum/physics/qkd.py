"""QKD figures of merit over distributed entanglement (qnum/README.md, "QKD").

* QBER of a Werner pair measured in Z (or X): e = 2(1 − F)/3 — the weight of the three
  wrong Bell states that flip the parity in that basis.
* BB84/BBM92 asymptotic secret fraction (Shor & Preskill, PRL 85, 441 (2000)) with
  error-correction inefficiency f: r = 1 − f·h2(e_Z) − h2(e_X), clamped at 0.
* Packet-switched q-ROADM path (burst switching, no memory): kept data fraction
  K = P^n (T_Q − n·T_P)/T_Q and key rate R = K·Q·r(e_Z, e_X).
"""

from __future__ import annotations

import math

DEFAULT_RECONCILIATION_EFFICIENCY: float = 1.15


def qber_from_fidelity(fidelity: float) -> float:
    """QBER e = 2(1 − F)/3 of a Werner pair (same in the Z and X bases)."""
    return 2.0 * (1.0 - fidelity) / 3.0


def binary_entropy(p: float) -> float:
    """h2(p) = −p log2 p − (1−p) log2(1−p), with h2(0) = h2(1) = 0."""
    if not 0.0 <= p <= 1.0:
        raise ValueError("probability must lie in [0, 1]")
    if p in (0.0, 1.0):
        return 0.0
    return -p * math.log2(p) - (1.0 - p) * math.log2(1.0 - p)


def secret_fraction(
    e_z: float, e_x: float, f: float = DEFAULT_RECONCILIATION_EFFICIENCY
) -> float:
    """Asymmetric BB84 secret fraction 1 − f·h2(e_Z) − h2(e_X), clamped at 0."""
    return max(0.0, 1.0 - f * binary_entropy(e_z) - binary_entropy(e_x))


def bb84_secret_fraction(e: float, f: float = DEFAULT_RECONCILIATION_EFFICIENCY) -> float:
    """Symmetric BB84 secret fraction 1 − f·h2(e) − h2(e), clamped at 0."""
    return secret_fraction(e, e, f)


def secret_key_rate(
    pair_rate: float, fidelity: float, f: float = DEFAULT_RECONCILIATION_EFFICIENCY
) -> float:
    """Secret bits/s from Werner pairs at ``pair_rate`` with fidelity F (sifting ignored)."""
    return pair_rate * bb84_secret_fraction(qber_from_fidelity(fidelity), f)


def packet_switch_keep_fraction(
    availability: float, n_switches: int, payload_s: float, header_s: float
) -> float:
    """K = P^n (T_Q − n·T_P)/T_Q, 0 when the headers eat the whole payload."""
    if payload_s <= 0:
        raise ValueError("payload duration must be > 0")
    kept = availability**n_switches * (payload_s - n_switches * header_s) / payload_s
    return max(0.0, kept)


def packet_switched_key_rate(
    keep_fraction: float,
    gain: float,
    e_z: float,
    e_x: float,
    f: float = DEFAULT_RECONCILIATION_EFFICIENCY,
) -> float:
    """R = K·Q·[1 − f·h2(e_Z) − h2(e_X)] (Q = raw detection rate/gain), clamped at 0."""
    return keep_fraction * gain * secret_fraction(e_z, e_x, f)
