"""Distillable entanglement of Bell-diagonal pairs: the hashing bound.

The hashing protocol of Bennett, DiVincenzo, Smolin & Wootters (PRA 54, 3824 (1996))
distils D_H = 1 − H(p) ebits per pair from many copies of a Bell-diagonal state with
coefficients p = (A, B, C, D) (H the Shannon entropy in bits) using one-way LOCC; it is a
lower bound on the distillable entanglement and is the figure of merit Vardoyan & Wehner
use for entanglement-distribution utility ("Quantum network utility: a framework for
benchmarking quantum networks", arXiv:2210.10752; "On the quantum performance evaluation
of two distributed quantum architectures", Perform. Eval. 153, 102242 (2022)).
For a Werner state of fidelity F: D_H = 1 − h2(F) − (1 − F)·log2 3, zero at F ≈ 0.8107.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qnum.physics.states import werner_bell_diagonal


def shannon_entropy(probabilities: Sequence[float]) -> float:
    """H(p) = −Σ p log2 p in bits (0·log 0 = 0); p must be a probability vector."""
    if any(p < 0.0 for p in probabilities) or not math.isclose(
        math.fsum(probabilities), 1.0, abs_tol=1e-9
    ):
        raise ValueError("probabilities must be >= 0 and sum to 1")
    return -math.fsum(p * math.log2(p) for p in probabilities if p > 0.0)


def hashing_bound(bell_diagonal: Sequence[float]) -> float:
    """D_H = 1 − H(A, B, C, D): ebits per pair the hashing protocol distils (may be < 0,
    where hashing yields nothing)."""
    if len(bell_diagonal) != 4:
        raise ValueError("a Bell-diagonal state has four coefficients")
    return 1.0 - shannon_entropy(bell_diagonal)


def werner_hashing_bound(fidelity: float) -> float:
    """D_H of the Werner state with fidelity F: 1 − h2(F) − (1 − F)·log2 3."""
    if not 0.0 <= fidelity <= 1.0:
        raise ValueError("fidelity must lie in [0, 1]")
    return hashing_bound(werner_bell_diagonal(fidelity))
