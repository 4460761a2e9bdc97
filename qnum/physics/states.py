"""Werner / Bell-diagonal state parametrisations.

A Werner state ρ = w|Φ+⟩⟨Φ+| + (1−w)·I/4 has fidelity F = (1+3w)/4 to |Φ+⟩, hence
w = (4F−1)/3.  Working in w makes swaps and depolarising memories multiplicative.

Bell-diagonal coefficients follow Deutsch et al., PRL 77, 2818 (1996): the tuple
(A, B, C, D) holds the weights on (Φ+, Ψ−, Ψ+, Φ−), A being the target state.
"""

from __future__ import annotations

BellDiagonal = tuple[float, float, float, float]


def werner_from_fidelity(fidelity: float) -> float:
    """Werner parameter w = (4F−1)/3 of a Werner state with fidelity F."""
    return (4.0 * fidelity - 1.0) / 3.0


def fidelity_from_werner(w: float) -> float:
    """Fidelity F = (1+3w)/4 of the Werner state with parameter w."""
    return (1.0 + 3.0 * w) / 4.0


def werner_bell_diagonal(fidelity: float) -> BellDiagonal:
    """Bell-diagonal coefficients (A, B, C, D) of a Werner state: (F, (1−F)/3 × 3)."""
    rest = (1.0 - fidelity) / 3.0
    return (fidelity, rest, rest, rest)
