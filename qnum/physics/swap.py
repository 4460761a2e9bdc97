"""Entanglement swapping of Werner pairs.

A Bell measurement on the inner halves of two Werner pairs w1, w2 followed by the Pauli
correction yields a Werner pair with w1·w2 (depolarising noise commutes through the swap);
imperfect gates/measurement are modelled as a depolarising channel with factor λ_BSM, so
w_out = λ·w1·w2 (Briegel, Dür, Cirac, Zoller, PRL 81, 5932 (1998)); see qnum/README.md,
"Entanglement swapping".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qnum.physics.states import fidelity_from_werner, werner_from_fidelity


def swap_werner(w1: float, w2: float, bsm_lambda: float = 1.0) -> float:
    """Werner parameter after swapping pairs w1 and w2 with a λ-depolarising BSM."""
    if not 0.0 < bsm_lambda <= 1.0:
        raise ValueError("bsm_lambda must lie in (0, 1]")
    return w1 * w2 * bsm_lambda


def chain_werner(ws: Sequence[float], bsm_lambdas: Sequence[float]) -> float:
    """Werner parameter of an n-link chain swapped at its n−1 repeaters: Π w_i · Π λ_j."""
    if len(ws) == 0:
        raise ValueError("a chain needs at least one link")
    if len(bsm_lambdas) != len(ws) - 1:
        raise ValueError("need exactly one BSM lambda per repeater (len(ws) - 1)")
    w = ws[0]
    for w_next, lam in zip(ws[1:], bsm_lambdas, strict=True):
        w = swap_werner(w, w_next, lam)
    return w


def end_to_end_fidelity(
    link_fidelities: Sequence[float], bsm_lambdas: Sequence[float]
) -> float:
    """F = ¼ + ¾·Π w_i·Π λ_j for a chain of Werner links (no memory decoherence)."""
    ws = [werner_from_fidelity(f) for f in link_fidelities]
    return fidelity_from_werner(chain_werner(ws, bsm_lambdas))


def swap_success(p_swap: float, n_hops: int) -> float:
    """Probability that all n_hops−1 swaps of an n-hop chain succeed: p_swap^(n−1)."""
    if n_hops < 1:
        raise ValueError("n_hops must be >= 1")
    if not 0.0 <= p_swap <= 1.0:
        raise ValueError("p_swap must lie in [0, 1]")
    return p_swap ** (n_hops - 1)


def path_success(link_probabilities: Sequence[float], p_swap: float) -> float:
    """Π p_i · p_swap^(N−1): success of one synchronous attempt of the whole chain."""
    return math.prod(link_probabilities) * swap_success(p_swap, len(link_probabilities))
