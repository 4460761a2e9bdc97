"""Entanglement purification (distillation) recurrence protocols.

Both protocols take two pairs, apply a bilateral CNOT (pair 1 control, pair 2 target),
measure pair 2 in Z on both sides and keep pair 1 iff the outcomes agree.  Each round
therefore consumes two pairs for at most one.

* BBPSSW — Bennett, Brassard, Popescu, Schumacher, Smolin, Wootters, PRL 76, 722 (1996):
  the kept pair is twirled back to a Werner state, so only F is tracked:
  p = F1F2 + (F1(1−F2) + F2(1−F1))/3 + 5(1−F1)(1−F2)/9,
  F' = (F1F2 + (1−F1)(1−F2)/9)/p.  With F1 = F2 this is the formula in qnum/README.md,
  "Purification".
* DEJMPS — Deutsch, Ekert, Jozsa, Macchiavello, Popescu, Sanpera, PRL 77, 2818 (1996):
  Alice applies Rx(π/2), Bob Rx(−π/2) before the CNOTs; no twirl, Bell-diagonal
  coefficients (A, B, C, D) on (Φ+, Ψ−, Ψ+, Φ−) map to
  N = (A1+B1)(A2+B2) + (C1+D1)(C2+D2),
  A' = (A1A2 + B1B2)/N, B' = (C1D2 + D1C2)/N, C' = (C1C2 + D1D2)/N, D' = (A1B2 + B1A2)/N.
"""

from __future__ import annotations

from typing import Final, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from qnum.physics.states import BellDiagonal, werner_bell_diagonal

#: The pairwise maps are written once for scalars and reused elementwise on numpy arrays
#: by the Monte-Carlo simulator (one array entry per sampled pair).
Num = TypeVar("Num", float, npt.NDArray[np.float64])

PurificationProtocol = Literal["bbpssw", "dejmps"]
PROTOCOLS: Final[tuple[str, ...]] = ("bbpssw", "dejmps")


def bbpssw_pair(f1: Num, f2: Num) -> tuple[Num, Num]:
    """(p_succ, F_out) of one BBPSSW round on Werner pairs of fidelities f1 and f2."""
    e1, e2 = (1.0 - f1) / 3.0, (1.0 - f2) / 3.0
    p = f1 * f2 + f1 * e2 + f2 * e1 + 5.0 * e1 * e2
    return p, (f1 * f2 + e1 * e2) / p


def bbpssw(fidelity: float) -> tuple[float, float]:
    """(p_succ, F_out) of BBPSSW on two Werner pairs of fidelity F (qnum/README.md)."""
    return bbpssw_pair(fidelity, fidelity)


def dejmps_pair(
    first: tuple[Num, Num, Num, Num], second: tuple[Num, Num, Num, Num]
) -> tuple[Num, tuple[Num, Num, Num, Num]]:
    """(p_succ, new coefficients) of one DEJMPS round on two Bell-diagonal pairs."""
    a1, b1, c1, d1 = first
    a2, b2, c2, d2 = second
    n = (a1 + b1) * (a2 + b2) + (c1 + d1) * (c2 + d2)
    return n, (
        (a1 * a2 + b1 * b2) / n,
        (c1 * d2 + d1 * c2) / n,
        (c1 * c2 + d1 * d2) / n,
        (a1 * b2 + b1 * a2) / n,
    )


def dejmps(
    bell_diagonal: tuple[float, float, float, float],
) -> tuple[float, tuple[float, float, float, float]]:
    """(p_succ, new coefficients) of DEJMPS on two copies of a Bell-diagonal pair."""
    return dejmps_pair(bell_diagonal, bell_diagonal)


def check_protocol(protocol: str) -> None:
    """Reject unknown protocol names early, with the list of valid ones."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown purification protocol {protocol!r}; use one of {PROTOCOLS}")


def iterate(protocol: str, fidelity: float, rounds: int) -> tuple[float, float, float]:
    """Recurrence purification of Werner pairs of fidelity F for ``rounds`` rounds.

    Returns (F_out, expected input pairs consumed per output pair, overall success
    probability Π p_k).  Round k turns 2 pairs into one with probability p_k, so one output
    costs Π_k 2/p_k inputs on average.  Rounds are assumed to be fed by independent pairs
    of identical state (the pumping-free recurrence scheme).
    """
    return iterate_bell_diagonal(protocol, werner_bell_diagonal(fidelity), rounds)


def iterate_bell_diagonal(
    protocol: str, state: BellDiagonal, rounds: int
) -> tuple[float, float, float]:
    """:func:`iterate` for any Bell-diagonal input (A, B, C, D).

    DEJMPS acts on the coefficients as they are; BBPSSW twirls its inputs to the Werner
    state of the same fidelity A first (its protocol does, so only A matters to it).
    """
    check_protocol(protocol)
    if rounds < 0:
        raise ValueError("rounds must be >= 0")
    cost, success = 1.0, 1.0
    for _ in range(rounds):
        if protocol == "bbpssw":
            p, f_new = bbpssw(state[0])
            state = werner_bell_diagonal(f_new)
        else:
            p, state = dejmps(state)
        cost *= 2.0 / p
        success *= p
    return state[0], cost, success
