"""Explicit density-matrix reference computations for the physics tests (numpy only).

Qubits are numbered from the left of the tensor product (qubit 0 is the most significant).
Nothing here imports qnum: it is the independent ground truth the closed forms are
checked against.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.complex128]

I2: Matrix = np.eye(2, dtype=np.complex128)
X: Matrix = np.array([[0, 1], [1, 0]], dtype=np.complex128)
Y: Matrix = np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
Z: Matrix = np.array([[1, 0], [0, -1]], dtype=np.complex128)

_S = 1.0 / np.sqrt(2.0)
PHI_PLUS = np.array([_S, 0, 0, _S], dtype=np.complex128)
PHI_MINUS = np.array([_S, 0, 0, -_S], dtype=np.complex128)
PSI_PLUS = np.array([0, _S, _S, 0], dtype=np.complex128)
PSI_MINUS = np.array([0, _S, -_S, 0], dtype=np.complex128)
#: Deutsch et al. (1996) ordering of Bell-diagonal coefficients (A, B, C, D).
BELL_ORDER = (PHI_PLUS, PSI_MINUS, PSI_PLUS, PHI_MINUS)


def projector(psi: Matrix) -> Matrix:
    return np.outer(psi, psi.conj())


def bell_diagonal(coeffs: Sequence[float]) -> Matrix:
    """Σ c_k |B_k⟩⟨B_k| in the (Φ+, Ψ−, Ψ+, Φ−) order."""
    return sum((c * projector(b) for c, b in zip(coeffs, BELL_ORDER, strict=True)),
               np.zeros((4, 4), dtype=np.complex128))


def werner(fidelity: float) -> Matrix:
    """Werner state with fidelity F to Φ+ built from its definition wΦ+ + (1−w)I/4."""
    w = (4 * fidelity - 1) / 3
    return w * projector(PHI_PLUS) + (1 - w) * np.eye(4) / 4


def fidelity(rho: Matrix, psi: Matrix = PHI_PLUS) -> float:
    return float(np.real(psi.conj() @ rho @ psi))


def bell_coefficients(rho: Matrix) -> tuple[float, float, float, float]:
    a, b, c, d = (fidelity(rho, v) for v in BELL_ORDER)
    return (a, b, c, d)


def embed(op: Matrix, qubit: int, n: int) -> Matrix:
    """Single-qubit operator acting on ``qubit`` of an n-qubit register."""
    out: Matrix = np.ones((1, 1), dtype=np.complex128)
    for k in range(n):
        out = np.asarray(np.kron(out, op if k == qubit else I2), dtype=np.complex128)
    return out


def cnot(control: int, target: int, n: int) -> Matrix:
    p0 = np.diag([1, 0]).astype(np.complex128)
    p1 = np.diag([0, 1]).astype(np.complex128)
    return embed(p0, control, n) + embed(p1, control, n) @ embed(X, target, n)


def apply_channel(rho: Matrix, kraus: Sequence[Matrix], qubit: int, n: int) -> Matrix:
    ops = [embed(k, qubit, n) for k in kraus]
    return sum((k @ rho @ k.conj().T for k in ops), np.zeros_like(rho))


def depolarising_kraus(lam: float) -> list[Matrix]:
    """ρ → λρ + (1−λ)·I/2 (on the qubit), i.e. Pauli errors each with prob (1−λ)/4."""
    p = (1 - lam) / 4
    return [np.sqrt(1 - 3 * p) * I2, np.sqrt(p) * X, np.sqrt(p) * Y, np.sqrt(p) * Z]


def dephasing_kraus(p_flip: float) -> list[Matrix]:
    return [np.sqrt(1 - p_flip) * I2, np.sqrt(p_flip) * Z]


def partial_trace_keep(rho: Matrix, keep: Sequence[int], n: int) -> Matrix:
    """Reduced state on the qubits ``keep`` (in that order)."""
    t = rho.reshape([2] * (2 * n))
    drop = [k for k in range(n) if k not in keep]
    for removed, q in enumerate(sorted(drop)):
        axis = q - removed
        t = np.trace(t, axis1=axis, axis2=axis + t.ndim // 2)
    d = 2 ** len(keep)
    return np.asarray(t.reshape(d, d), dtype=np.complex128)


#: Pauli correction on the far qubit for each Bell outcome on the inner pair.
SWAP_CORRECTIONS = ((PHI_PLUS, I2), (PHI_MINUS, Z), (PSI_PLUS, X), (PSI_MINUS, Z @ X))


def swap_outcomes(rho_a: Matrix, rho_b: Matrix) -> list[tuple[float, Matrix]]:
    """Bell measurement on qubits 1,2 of ρ_a(0,1)⊗ρ_b(2,3), Pauli-corrected on qubit 3.

    Returns (probability, normalised state of qubits 0,3) per outcome.
    """
    rho = np.kron(rho_a, rho_b)
    out = []
    for bell, corr in SWAP_CORRECTIONS:
        proj = np.kron(np.kron(I2, projector(bell)), I2)
        post = proj @ rho @ proj
        u = embed(corr, 3, 4)
        post = u @ post @ u.conj().T
        prob = float(np.real(np.trace(post)))
        out.append((prob, partial_trace_keep(post, [0, 3], 4) / prob))
    return out


def rx(theta: float) -> Matrix:
    return np.asarray(np.cos(theta / 2) * I2 - 1j * np.sin(theta / 2) * X, dtype=np.complex128)


def recurrence_round(
    rho1: Matrix, rho2: Matrix, *, dejmps: bool
) -> tuple[float, Matrix]:
    """Two pairs (a1,b1),(a2,b2) as qubits (0,1),(2,3): [DEJMPS rotations], bilateral CNOT
    1→2, measure pair 2 in Z, keep if the outcomes agree.  Returns (p_succ, output state).
    """
    rho = np.kron(rho1, rho2)
    n = 4
    if dejmps:
        # Deutsch et al. 1996: Alice applies Rx(π/2), Bob Rx(−π/2) to each of her qubits.
        u = embed(rx(np.pi / 2), 0, n) @ embed(rx(-np.pi / 2), 1, n)
        u = u @ embed(rx(np.pi / 2), 2, n) @ embed(rx(-np.pi / 2), 3, n)
        rho = u @ rho @ u.conj().T
    bc = cnot(0, 2, n) @ cnot(1, 3, n)
    rho = bc @ rho @ bc.conj().T
    keep = np.zeros((16, 16), dtype=np.complex128)
    for bit in (0, 1):
        v = np.zeros(4, dtype=np.complex128)
        v[3 * bit] = 1.0  # |00⟩ or |11⟩ on (a2, b2)
        keep += np.kron(np.eye(4), projector(v))
    post = keep @ rho @ keep
    prob = float(np.real(np.trace(post)))
    return prob, partial_trace_keep(post, [0, 1], n) / prob
