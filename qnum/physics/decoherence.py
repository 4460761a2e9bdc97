"""Memory decoherence of stored pairs (qnum/README.md, "Memory decoherence").

* Depolarising memory: a qubit stored for t in a memory with time constant T undergoes
  ρ → e^(−t/T)ρ + (1−e^(−t/T))·I/2 ⊗ Tr₁ρ, which maps a Werner pair w → w·e^(−t/T).
  A pair whose halves sit in two memories decays with the sum of both rates.
* Pure dephasing of one half with flip probability p(t) = (1 − e^(−t/T2))/2:
  Werner pair F(t) = F0 − p(t)(4F0 − 1)/3; Φ+/Φ− mixture F(t) = ½(1 + (2F0 − 1)e^(−t/T2)).
* Entanglement lifetime (the usual tutorial convention): the time for the Φ+/Φ− form to
  fall to 2/3, T_ent = T2·ln((2F0 − 1)/(1/3)).  It is *not* the chain's budget: a chain
  holds Werner pairs, and its budget is :func:`pair_lifetime` of the pair it models.

Pauli-eigenvalue form.  A Bell-diagonal pair is Φ+ with a Pauli channel on one half; the
channel's eigenvalues (λ_X, λ_Y, λ_Z) multiply under composition, swapping (Pauli errors
of the two pairs compose) and the two memory models: a depolarising memory multiplies all
three by e^(−t/T), a dephasing one only λ_X and λ_Y.  Starting from Werner pairs
(λ_X = λ_Y = λ_Z = w) the state therefore stays exactly described by
(λ_xy, λ_z) = (λ_X = λ_Y, λ_Z), with F = (1 + 2λ_xy + λ_z)/4 (qnum/README.md,
"Memory decoherence").
"""

from __future__ import annotations

import math
from typing import Final, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from qnum.physics.constants import MEMORY_CLASSICAL_LIMIT

#: The eigenvalue maps serve scalars (the chain model) and numpy arrays (the simulator).
Num = TypeVar("Num", float, npt.NDArray[np.float64])

DecoherenceModel = Literal["depolarising", "dephasing"]
DECOHERENCE_MODELS: Final[tuple[str, ...]] = ("depolarising", "dephasing")
#: Bisection steps of :func:`pair_lifetime` for mixed models (relative error 2^−60).
_LIFETIME_BISECTION_STEPS: Final[int] = 60


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


def check_decoherence_model(model: str) -> None:
    """Reject unknown memory models early, with the list of valid ones."""
    if model not in DECOHERENCE_MODELS:
        raise ValueError(f"unknown decoherence model {model!r}; use one of {DECOHERENCE_MODELS}")


def z_decay_rate(rate: float, model: str) -> float:
    """Decay rate of λ_Z in a memory of ``model``: γ when depolarising, 0 when dephasing
    (a phase flip commutes with Z, so it leaves Z-basis correlations intact)."""
    check_decoherence_model(model)
    return rate if model == "depolarising" else 0.0


def pauli_fidelity(lambda_xy: Num, lambda_z: Num) -> Num:
    """F = (1 + 2λ_xy + λ_z)/4 of the Bell-diagonal pair with eigenvalues (λ_xy, λ_xy, λ_z)."""
    return (1.0 + 2.0 * lambda_xy + lambda_z) / 4.0


def pauli_bell_diagonal(lambda_xy: Num, lambda_z: Num) -> tuple[Num, Num, Num, Num]:
    """Coefficients (A, B, C, D) on (Φ+, Ψ−, Ψ+, Φ−) of eigenvalues (λ_xy, λ_xy, λ_z).

    Errors I, Y, X, Z on one half of Φ+ give Φ+, Ψ−, Ψ+, Φ−; inverting
    λ_X = A − B + C − D, λ_Y = A + B − C − D, λ_Z = A − B − C + D gives these weights.
    """
    a = pauli_fidelity(lambda_xy, lambda_z)
    b = (1.0 - lambda_z) / 4.0
    c = (1.0 - lambda_z) / 4.0
    d = (1.0 - 2.0 * lambda_xy + lambda_z) / 4.0
    return (a, b, c, d)


def pair_fidelity(w0: float, t: float, rate_xy: float, rate_z: float) -> float:
    """Fidelity of a Werner pair w0 stored for t with λ_xy, λ_z decaying at the given rates."""
    if t < 0:
        raise ValueError("storage time must be >= 0")
    return pauli_fidelity(w0 * math.exp(-rate_xy * t), w0 * math.exp(-rate_z * t))


def pair_lifetime(w0: float, rate_xy: float, rate_z: float) -> float:
    """Time a Werner pair w0 stays at F ≥ 2/3 when λ_xy and λ_z decay at the given rates.

    This is the coherence budget of a stored pair under its nodes' memory models
    (``rate_xy`` = Σ γ over both holding memories, ``rate_z`` = Σ γ over the depolarising
    ones).  Closed forms: depolarising (equal rates) ln(9w0/5)/β; dephasing (λ_z constant)
    ln(6w0/(5 − 3w0))/β; a mix lies between the two and is found by bisection on the
    decreasing F(t).  0 when the pair starts at F ≤ 2/3, ∞ for ideal memories.
    """
    if not 0 <= rate_z <= rate_xy:
        raise ValueError("need 0 <= rate_z <= rate_xy")
    if pauli_fidelity(w0, w0) <= MEMORY_CLASSICAL_LIMIT:
        return 0.0
    if rate_xy == 0.0:
        return math.inf
    fastest = math.log(9.0 * w0 / 5.0) / rate_xy  # λ_z decaying as fast as λ_xy
    slowest = math.log(6.0 * w0 / (5.0 - 3.0 * w0)) / rate_xy  # λ_z frozen
    if rate_z == rate_xy:
        return fastest
    if rate_z == 0.0:
        return slowest
    lo, hi = fastest, slowest
    for _ in range(_LIFETIME_BISECTION_STEPS):
        mid = (lo + hi) / 2.0
        if pair_fidelity(w0, mid, rate_xy, rate_z) > MEMORY_CLASSICAL_LIMIT:
            lo = mid
        else:
            hi = mid
    return lo
