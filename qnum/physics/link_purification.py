"""Per-link (elementary-link) purification: r rounds of a recurrence protocol run by a
link's two nodes on the link's own pairs, before any swap.

Model (qnum/README.md, "Purification"):

* The raw pair is the link's Werner pair (link fidelity and both write steps), decayed in
  its two holders' memories over the heralding latency h.
* Each round combines two such pairs (``purification.dejmps_pair`` on the actual
  Bell-diagonal state; BBPSSW twirls its inputs to Werner form), succeeds with probability
  p_k, and then needs one classical round trip over the link (2L/c_f: each node sends its
  parity outcome and learns the other's before the kept pair is released); the kept pair
  decays meanwhile under each node's memory model.
* A purified pair is therefore ready h + r·2L/c_f after its last raw herald and costs
  2^r/Π p_k raw pairs on average: the link delivers pairs at (raw rate)·Π p_k/2^r.  Like
  the end-to-end rounds, the partner pairs of a round are taken to be heralded together
  (a pair waiting for its partner does not decay further); this is what the emulated
  repeater does too (it scales its side's pair supply by Π p_k/2^r).

The output is Bell-diagonal but no longer has λ_X = λ_Y (DEJMPS moves weight between Ψ+
and Ψ−), so it is returned as the three Pauli eigenvalues (λ_X, λ_Y, λ_Z).  Swaps,
memories and BSMs act on each eigenvalue multiplicatively, so the chain model keeps
composing them exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from qnum.physics.constants import MEMORY_CLASSICAL_LIMIT
from qnum.physics.purification import bbpssw, check_protocol, dejmps
from qnum.physics.states import BellDiagonal, werner_bell_diagonal

PauliEigenvalues = tuple[float, float, float]

#: Bisection steps of ``pauli_lifetime`` (relative precision ≈ 2^-60).
_LIFETIME_STEPS: Final[int] = 60


def bell_diagonal_of(lam: PauliEigenvalues) -> BellDiagonal:
    """Weights (A, B, C, D) on (Φ+, Ψ−, Ψ+, Φ−) of Φ+ through the Pauli channel with
    eigenvalues (λ_X, λ_Y, λ_Z) (errors I, Y, X, Z give Φ+, Ψ−, Ψ+, Φ−)."""
    x, y, z = lam
    return ((1 + x + y + z) / 4, (1 - x + y - z) / 4, (1 + x - y - z) / 4, (1 - x - y + z) / 4)


def eigenvalues_of(state: BellDiagonal) -> PauliEigenvalues:
    """Inverse of :func:`bell_diagonal_of`."""
    a, b, c, d = state
    return (a - b + c - d, a + b - c - d, a - b - c + d)


def pauli_state_fidelity(lam: PauliEigenvalues) -> float:
    """F = (1 + λ_X + λ_Y + λ_Z)/4."""
    return (1.0 + lam[0] + lam[1] + lam[2]) / 4.0


def decay(lam: PauliEigenvalues, rate_xy: float, rate_z: float, t: float) -> PauliEigenvalues:
    """Storage for t in memories decaying λ_X, λ_Y at ``rate_xy`` and λ_Z at ``rate_z``."""
    dxy, dz = math.exp(-rate_xy * t), math.exp(-rate_z * t)
    return (lam[0] * dxy, lam[1] * dxy, lam[2] * dz)


def purify_once(protocol: str, lam: PauliEigenvalues) -> tuple[float, PauliEigenvalues]:
    """(p_succ, output eigenvalues) of one round on two copies of the pair ``lam``."""
    check_protocol(protocol)
    if protocol == "bbpssw":
        p, f_new = bbpssw(pauli_state_fidelity(lam))
        return p, eigenvalues_of(werner_bell_diagonal(f_new))
    p, state = dejmps(bell_diagonal_of(lam))
    return p, eigenvalues_of(state)


@dataclass(frozen=True)
class PurifiedLink:
    """A link's pair after its rounds: eigenvalues when ready, Π p_k, and the time its
    qubits have been in memory when it is ready (heralding latency + round trips)."""

    eigenvalues: PauliEigenvalues
    success_probability: float
    ready_s: float
    rounds: int = 0
    #: p_k of each round on the actual pair (their product is ``success_probability``)
    round_success: tuple[float, ...] = ()

    @property
    def pairs_per_output(self) -> float:
        """Raw pairs spent per purified pair on average: 2^r/Π p_k."""
        return math.inf if self.success_probability <= 0.0 else (
            2.0 ** self.rounds / self.success_probability)


def purify_link(
    werner: float,
    rate_xy: float,
    rate_z: float,
    herald_s: float,
    round_trip_s: float,
    rounds: int,
    protocol: str,
) -> PurifiedLink:
    """The link's pair after ``rounds`` rounds (module docstring)."""
    if rounds < 0:
        raise ValueError("rounds must be >= 0")
    lam = decay((werner, werner, werner), rate_xy, rate_z, herald_s)
    success = 1.0
    steps = []
    for _ in range(rounds):
        p, lam = purify_once(protocol, lam)
        success *= p
        steps.append(p)
        lam = decay(lam, rate_xy, rate_z, round_trip_s)
    return PurifiedLink(lam, success, herald_s + rounds * round_trip_s, rounds, tuple(steps))


def pauli_lifetime(lam: PauliEigenvalues, rate_xy: float, rate_z: float) -> float:
    """Time the pair ``lam`` stays at F ≥ 2/3 when stored (0 if it starts at or below,
    ∞ for ideal memories); F(t) decreases when the eigenvalues are non-negative."""
    def fidelity(t: float) -> float:
        return pauli_state_fidelity(decay(lam, rate_xy, rate_z, t))

    if fidelity(0.0) <= MEMORY_CLASSICAL_LIMIT:
        return 0.0
    if rate_xy == 0.0 and rate_z == 0.0:
        return math.inf
    x, y, z = lam
    limit = 4.0 * MEMORY_CLASSICAL_LIMIT - 1.0   # F = 2/3 ⇔ Σ decayed λ = 5/3
    if rate_xy == rate_z:    # (x + y + z)·e^(−βt) = 5/3
        return math.log((x + y + z) / limit) / rate_xy
    if rate_z == 0.0:        # (x + y)·e^(−βt) + z = 5/3 (z ≤ 1 < 5/3)
        return math.log((x + y) / (limit - z)) / rate_xy
    hi = 1.0 / max(rate_xy, rate_z)
    while fidelity(hi) > MEMORY_CLASSICAL_LIMIT:
        hi *= 2.0
        if math.isinf(hi):
            return math.inf
    lo = 0.0
    for _ in range(_LIFETIME_STEPS):
        mid = (lo + hi) / 2.0
        if fidelity(mid) > MEMORY_CLASSICAL_LIMIT:
            lo = mid
        else:
            hi = mid
    return lo


def link_bound(werner: float, max_rounds: int, protocol: str) -> float:
    """An upper bound on every |λ| of the link's pair over 0..max_rounds rounds, from the
    ideal Werner parameter ``werner`` of its fibres (no writes, no memory decay).

    Writes and memory decay only lower the eigenvalues, keep λ_X = λ_Y ≤ λ_Z ≤ w on the
    raw pair (dephasing spares λ_Z), and between rounds multiply (λ_X, λ_Y) by one factor
    and λ_Z by a larger one; from such states the protocol never reaches a larger |λ|
    than from the Werner pair w itself (checked over 2·10⁵ random states and decays in
    tests/qnum/test_link_purification.py).  So the best over rounds of the ideal pair's
    largest |λ| bounds every pair the link can deliver.
    """
    best = werner
    lam: PauliEigenvalues = (werner, werner, werner)
    for _ in range(max_rounds):
        _, lam = purify_once(protocol, lam)
        best = max(best, max(abs(v) for v in lam))
    return best


def _best_round(fidelity: float) -> float:
    """g(F) = F²/(F² + (1 − F)²): the most one recurrence round can make of any pair of
    fidelity F ≥ ½ (see :func:`purification_ceiling`)."""
    return fidelity * fidelity / (fidelity * fidelity + (1.0 - fidelity) ** 2)


def purification_ceiling(fidelity: float, rounds: int) -> float:
    """An upper bound on the fidelity after the best of 0..``rounds`` recurrence rounds
    (DEJMPS or BBPSSW) on two copies of *any* Bell-diagonal pair with non-negative Pauli
    eigenvalues and fidelity at most ``fidelity``.

    Why not the rounds on the Werner pair of that fidelity: DEJMPS does better on
    asymmetric pairs, and link-purified chains make such pairs (two 0.9 links purified
    twice give λ = (0.977, 0.957, 0.977): one end-to-end round reaches 0.9978, the Werner
    pair of the same bound 0.9897).  One round on (A, B, C, D) gives
    A' = (A² + B²)/((A + B)² + (C + D)²); for A ≥ ½ this is largest at B = 0, where it is
    g(A) = A²/(A² + (1 − A)²), non-decreasing in A, and A ≥ ½ stays ≥ ½
    (2A' − 1 ∝ (2A − 1)(1 − 2B), B ≤ A).  Below ½ with non-negative eigenvalues
    (B ≤ A < ½) the output stays below ½.  So the bound is max(F, g(F), g(g(F)), …) from
    F ≥ ½, and ½ below it.  BBPSSW twirls to a Werner pair first, which one round of
    DEJMPS matches, so the bound covers it too.  Checked on random pairs in
    tests/qnum/test_link_purification.py.
    """
    if rounds <= 0:
        return fidelity
    if fidelity < 0.5:
        return 0.5
    best = current = fidelity
    for _ in range(rounds):
        current = _best_round(current)
        best = max(best, current)
    return best
