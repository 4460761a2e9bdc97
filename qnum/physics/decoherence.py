"""Memory decoherence of stored pairs (qnum/README.md, "Memory decoherence").

* Depolarising memory: a qubit stored for t in a memory with time constant T undergoes
  ρ → e^(−t/T)ρ + (1−e^(−t/T))·I/2 ⊗ Tr₁ρ, which maps a Werner pair w → w·e^(−t/T).
  A pair whose halves sit in two memories decays with the sum of both rates.
* Pure dephasing of one half with flip probability p(t) = (1 − e^(−t/T2))/2:
  Werner pair F(t) = F0 − p(t)(4F0 − 1)/3; Φ+/Φ− mixture F(t) = ½(1 + (2F0 − 1)e^(−t/T2)).
* Entanglement lifetime (the usual tutorial convention): the time for the Φ+/Φ− form to
  fall to 2/3, T_ent = T2·ln((2F0 − 1)/(1/3)).  This is the coherence budget.
"""

from __future__ import annotations

import math

from qnum.physics.constants import MEMORY_CLASSICAL_LIMIT


def decay_factor(t: float, coherence_time: float) -> float:
    """e^(−t/T); an infinite T is an ideal memory (factor 1)."""
    if t < 0:
        raise ValueError("storage time must be >= 0")
    if coherence_time <= 0:
        raise ValueError("coherence time must be > 0")
    return 1.0 if math.isinf(coherence_time) else math.exp(-t / coherence_time)


def depolarising_werner(w0: float, t: float, coherence_time: float) -> float:
    """Werner parameter after one half is stored t seconds in a depolarising memory."""
    return w0 * decay_factor(t, coherence_time)


def dephasing_flip_probability(t: float, t2: float) -> float:
    """Phase-flip probability p(t) = (1 − e^(−t/T2))/2 of a dephasing memory."""
    return (1.0 - decay_factor(t, t2)) / 2.0


def dephasing_fidelity_werner(f0: float, t: float, t2: float) -> float:
    """Fidelity of a Werner pair after one half dephases for t: F0 − p(t)(4F0 − 1)/3."""
    return f0 - dephasing_flip_probability(t, t2) * (4.0 * f0 - 1.0) / 3.0


def dephasing_fidelity_phase_flip(f0: float, t: float, t2: float) -> float:
    """Fidelity of a Φ+/Φ− mixture after one half dephases for t: ½(1 + (2F0 − 1)e^(−t/T2))."""
    return 0.5 * (1.0 + (2.0 * f0 - 1.0) * decay_factor(t, t2))


def entanglement_lifetime(f0: float, t2: float) -> float:
    """T_ent = T2·ln(3(2F0 − 1)): time until a dephasing pair drops to F = 2/3.

    Returns 0 when F0 ≤ 2/3 (nothing to spend) and ∞ for an ideal memory.
    """
    if t2 <= 0:
        raise ValueError("coherence time must be > 0")
    if f0 <= MEMORY_CLASSICAL_LIMIT:
        return 0.0
    if math.isinf(t2):
        return math.inf
    return t2 * math.log((2.0 * f0 - 1.0) / (1.0 / 3.0))
