"""Fibre loss and the repeaterless bound.

Transmissivity η(L) = 10^(−α·L/10) (α in dB/km).  The PLOB bound (Pirandola, Laurenza,
Ottaviani, Banchi, Nat. Commun. 8, 15043 (2017)) caps the entanglement/secret-key capacity
of a pure-loss channel at −log2(1−η) bits per channel use, whatever the protocol.
"""

from __future__ import annotations

import math

from qnum.physics.constants import DEFAULT_ATTENUATION_DB_PER_KM


def loss_db(
    length_km: float, attenuation_db_per_km: float = DEFAULT_ATTENUATION_DB_PER_KM
) -> float:
    """Total attenuation α·L of a fibre span in dB."""
    if length_km < 0 or attenuation_db_per_km < 0:
        raise ValueError("fibre length and attenuation must be non-negative")
    return attenuation_db_per_km * length_km


def transmissivity_from_db(loss: float) -> float:
    """Power transmissivity 10^(−loss/10) of a loss given in dB."""
    if loss < 0:
        raise ValueError("loss in dB must be non-negative")
    return float(10.0 ** (-loss / 10.0))


def transmissivity(
    length_km: float, attenuation_db_per_km: float = DEFAULT_ATTENUATION_DB_PER_KM
) -> float:
    """η(L) = 10^(−α·L/10): probability that a photon survives the span."""
    return transmissivity_from_db(loss_db(length_km, attenuation_db_per_km))


def plob_capacity(eta: float) -> float:
    """PLOB capacity −log2(1−η) in ebits (or secret bits) per channel use."""
    if not 0.0 <= eta <= 1.0:
        raise ValueError("transmissivity must lie in [0, 1]")
    if eta == 1.0:
        return math.inf
    return -math.log2(1.0 - eta)
