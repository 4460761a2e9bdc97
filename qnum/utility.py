"""Application-class utility functions for Q-NUM (qnum/README.md, "Q-NUM").

Utility of a request is U = R · q(F): the delivered pair rate times a fidelity-dependent
quality factor q ∈ [0, 1] that is 0 where the application cannot use the pairs.

Shapes (documented choices):

* ``qkd`` — q(F) = BB84 secret fraction 1 − f·h2(e) − h2(e) at QBER e = 2(1−F)/3, clamped
  at 0 (zero once e ≳ 10 % for f = 1.15, i.e. F ≲ 0.85; 11 % / F ≈ 0.83 for f = 1).
  U is then the secret-key rate in bits/s.
* ``dqc`` — distributed computing needs gates above a fault-tolerance-like threshold:
  a step, q = 1 for F ≥ F_th (default 0.95), else 0.
* ``dqs`` — sensing gains continuously with fidelity above a high threshold (default 0.99):
  a logistic ramp normalised to 0 at F_th and 1 at F = 1,
  q = (σ(k(F−F_th)) − ½)/(σ(k(1−F_th)) − ½), 0 below F_th; large steepness k approaches a
  step at F_th, small k a linear ramp.
* ``teleportation`` — the average teleportation fidelity of a Werner resource is
  f_tel = (2F+1)/3 (Horodecki, Horodecki & Horodecki, PRA 60, 1888 (1999)); only the excess
  over the classical (measure-and-prepare) limit 2/3 is useful, normalised:
  q = (f_tel − 2/3)/(1/3) = max(0, 2F − 1), zero at the pair limit F = ½.
* ``distillation`` — pairs consumed by entanglement distillation (error-corrected
  entanglement, Vardoyan & Wehner, arXiv:2210.10752): q(F) = max(0, D_H), the hashing
  bound 1 − h2(F) − (1−F)·log2 3 of a Werner pair (``qnum.physics.hashing``): 1 at F = 1,
  0 at and below F ≈ 0.8107.  U is then distillable ebits/s.
* ``custom`` — piecewise-linear through user breakpoints (F, q), 0 below the first.

Utilities are evaluated on the pair's fidelity as if it were a Werner pair.  A delivered
pair that is Bell-diagonal but not Werner (dephasing memories) can be twirled into the
Werner pair of the same fidelity by local random bilateral rotations, so the value is
always achievable (a lower bound for hashing, which only gains from the asymmetry).

Every class additionally honours an optional hard ``min_fidelity`` (the request's
min-fidelity leaf): q = 0 below it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qnum.physics.constants import PAIR_CLASSICAL_LIMIT
from qnum.physics.hashing import werner_hashing_bound
from qnum.physics.qkd import (
    DEFAULT_RECONCILIATION_EFFICIENCY,
    bb84_secret_fraction,
    qber_from_fidelity,
)

AppClass = Literal["qkd", "dqc", "dqs", "teleportation", "distillation", "custom"]
APP_CLASSES: Final[tuple[str, ...]] = (
    "qkd", "dqc", "dqs", "teleportation", "distillation", "custom",
)
DEFAULT_THRESHOLDS: Final[dict[str, float]] = {"dqc": 0.95, "dqs": 0.99}
DEFAULT_STEEPNESS: Final[float] = 50.0
DEFAULT_LOG_FLOOR: Final[float] = 1e-9
_BISECTION_STEPS: Final[int] = 60


class UtilityParams(BaseModel):
    """Per-request utility parameters (``utility`` container of a request; RFC 7951 names).

    Accepts both the YANG names (``threshold-fidelity``) and Python names, and decimal64
    values as JSON strings.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    threshold_fidelity: float | None = Field(
        default=None, validation_alias="threshold-fidelity", ge=0.0, le=1.0
    )
    steepness: float = Field(default=DEFAULT_STEEPNESS, gt=0.0)
    reconciliation_efficiency: float = Field(
        default=DEFAULT_RECONCILIATION_EFFICIENCY,
        validation_alias="reconciliation-efficiency",
        ge=1.0,
    )
    min_fidelity: float | None = Field(
        default=None, validation_alias="min-fidelity", ge=0.0, le=1.0
    )
    points: tuple[tuple[float, float], ...] = ()

    @field_validator("points")
    @classmethod
    def _sorted_points(
        cls, pts: tuple[tuple[float, float], ...]
    ) -> tuple[tuple[float, float], ...]:
        fids = [f for f, _ in pts]
        if fids != sorted(fids) or len(set(fids)) != len(fids):
            raise ValueError("custom points must have strictly increasing fidelities")
        if any(not 0.0 <= q <= 1.0 for _, q in pts):
            raise ValueError("custom quality values must lie in [0, 1]")
        return pts


DEFAULT_PARAMS: Final[UtilityParams] = UtilityParams()


def normalise_app_class(app_class: str) -> str:
    """Strip a YANG identity prefix (``sdqn-types:qkd`` → ``qkd``) and validate."""
    name = app_class.rsplit(":", 1)[-1]
    if name not in APP_CLASSES:
        raise ValueError(f"unknown application class {app_class!r}; use one of {APP_CLASSES}")
    return name


def q_qkd(
    fidelity: float, reconciliation_efficiency: float = DEFAULT_RECONCILIATION_EFFICIENCY
) -> float:
    """BB84 secret fraction of a Werner pair with fidelity F."""
    return bb84_secret_fraction(qber_from_fidelity(fidelity), reconciliation_efficiency)


def q_dqc(fidelity: float, threshold: float = DEFAULT_THRESHOLDS["dqc"]) -> float:
    """Step at the threshold: usable (1) or not (0)."""
    return 1.0 if fidelity >= threshold else 0.0


def q_dqs(
    fidelity: float,
    threshold: float = DEFAULT_THRESHOLDS["dqs"],
    steepness: float = DEFAULT_STEEPNESS,
) -> float:
    """Normalised logistic ramp: 0 at/below the threshold, 1 at F = 1."""
    if fidelity <= threshold:
        return 0.0
    if threshold >= 1.0:
        return 0.0

    def rise(x: float) -> float:
        # σ(kx) − ½ = ½·tanh(kx/2): numerically safe for any k.
        return 0.5 * math.tanh(steepness * x / 2.0)

    return min(1.0, rise(fidelity - threshold) / rise(1.0 - threshold))


def q_teleportation(fidelity: float) -> float:
    """Normalised excess teleportation fidelity over the classical 2/3: max(0, 2F − 1)."""
    return max(0.0, 2.0 * fidelity - 1.0)


def q_distillation(fidelity: float) -> float:
    """Hashing bound of a Werner pair with fidelity F, clamped at 0 (ebits per pair)."""
    return max(0.0, werner_hashing_bound(fidelity))


def q_custom(fidelity: float, points: Sequence[tuple[float, float]]) -> float:
    """Linear interpolation through (F, q) points; 0 below the first, last value above."""
    if not points:
        raise ValueError("custom utility needs at least one (fidelity, quality) point")
    if fidelity < points[0][0]:
        return 0.0
    for (f0, q0), (f1, q1) in itertools.pairwise(points):
        if fidelity <= f1:
            return q0 + (q1 - q0) * (fidelity - f0) / (f1 - f0)
    return points[-1][1]


def quality(app_class: str, fidelity: float, params: UtilityParams | None = None) -> float:
    """q(F) ∈ [0, 1] of an application class (module docstring gives the shapes)."""
    p = params or DEFAULT_PARAMS
    name = normalise_app_class(app_class)
    if p.min_fidelity is not None and fidelity < p.min_fidelity:
        return 0.0
    if name == "qkd":
        return q_qkd(fidelity, p.reconciliation_efficiency)
    if name == "dqc":
        return q_dqc(fidelity, _threshold(name, p))
    if name == "dqs":
        return q_dqs(fidelity, _threshold(name, p), p.steepness)
    if name == "teleportation":
        return q_teleportation(fidelity)
    if name == "distillation":
        return q_distillation(fidelity)
    return q_custom(fidelity, p.points)


def _threshold(name: str, params: UtilityParams) -> float:
    if params.threshold_fidelity is not None:
        return params.threshold_fidelity
    return DEFAULT_THRESHOLDS[name]


def utility(
    app_class: str, rate: float, fidelity: float, params: UtilityParams | None = None
) -> float:
    """U = R · q(F)."""
    if rate < 0:
        raise ValueError("rate must be >= 0")
    return rate * quality(app_class, fidelity, params)


def qkd_zero_fidelity(
    reconciliation_efficiency: float = DEFAULT_RECONCILIATION_EFFICIENCY,
) -> float:
    """Fidelity where the BB84 secret fraction reaches 0 (bisection on the monotone q)."""
    return _zero_crossing(lambda f: q_qkd(f, reconciliation_efficiency))


def distillation_zero_fidelity() -> float:
    """Fidelity where the Werner hashing bound reaches 0 (≈ 0.8107)."""
    return _zero_crossing(q_distillation)


def _zero_crossing(q: Callable[[float], float]) -> float:
    """Infimum of F in [½, 1] with q(F) > 0, for q nondecreasing there (bisection)."""
    lo, hi = PAIR_CLASSICAL_LIMIT, 1.0
    for _ in range(_BISECTION_STEPS):
        mid = (lo + hi) / 2.0
        if q(mid) > 0.0:
            hi = mid
        else:
            lo = mid
    return hi


def min_useful_fidelity(app_class: str, params: UtilityParams | None = None) -> float:
    """Infimum of the fidelities with q(F) > 0: a linear constraint for the optimiser."""
    p = params or DEFAULT_PARAMS
    name = normalise_app_class(app_class)
    if name == "qkd":
        floor = qkd_zero_fidelity(p.reconciliation_efficiency)
    elif name in DEFAULT_THRESHOLDS:
        floor = _threshold(name, p)
    elif name == "teleportation":
        floor = PAIR_CLASSICAL_LIMIT
    elif name == "distillation":
        floor = distillation_zero_fidelity()
    else:
        floor = next((f for f, q in p.points if q > 0.0), 1.0)
    return max(floor, p.min_fidelity or 0.0)


def weighted_sum(utilities: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """Σ_j w_j U_j (weights default to 1)."""
    ws = [1.0] * len(utilities) if weights is None else list(weights)
    if len(ws) != len(utilities):
        raise ValueError("need one weight per utility")
    return math.fsum(w * u for w, u in zip(ws, utilities, strict=True))


def proportional_fair(value: float, floor: float = DEFAULT_LOG_FLOOR) -> float:
    """log(max(U, floor)): proportional-fair utility with a floor so U = 0 stays finite."""
    if floor <= 0:
        raise ValueError("floor must be > 0")
    return math.log(max(value, floor))


def proportional_fair_objective(
    utilities: Sequence[float],
    weights: Sequence[float] | None = None,
    floor: float = DEFAULT_LOG_FLOOR,
) -> float:
    """Σ_j w_j log(max(U_j, floor)) (Kelly's proportional fairness)."""
    return weighted_sum([proportional_fair(u, floor) for u in utilities], weights)


def log_tangent_cuts(lo: float, hi: float, n: int) -> list[tuple[float, float]]:
    """(slope, intercept) of n tangents to log x at geometrically spaced x ∈ [lo, hi].

    log is concave, so y ≤ a_k·x + b_k for all k is a linear outer approximation a MILP can
    maximise y against; tangent points closer together tighten it.
    """
    if not 0 < lo < hi or n < 1:
        raise ValueError("need 0 < lo < hi and n >= 1")
    if n == 1:
        xs = [math.sqrt(lo * hi)]
    else:
        ratio = (hi / lo) ** (1.0 / (n - 1))
        xs = [lo * ratio**k for k in range(n)]
    return [(1.0 / x, math.log(x) - 1.0) for x in xs]
