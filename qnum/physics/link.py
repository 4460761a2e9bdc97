"""Heralded elementary links: per-attempt success, attempt period, rate and bound.

The three heralding schemes follow the classification of Jones, Kim, Rao & Van Meter,
"Design and analysis of communication protocols for quantum repeater networks",
New J. Phys. 18, 083015 (2016).  Choices made here (L = fibre length, η = η(L) including
``extra_loss_db``, η_d = detector efficiency, c_f = fibre light speed):

* ``midpoint-source`` (MS): an entangled-photon source at the middle sends one photon over
  L/2 to each end node; both must arrive and be detected/absorbed, so
  p = η(L/2)²·η_d² = η·η_d².  A node learns of the other side's success one fibre length
  later, so a memory is blocked for L/c_f per attempt and the herald latency is L/c_f.
* ``meet-in-the-middle`` (MM): both nodes emit a photon entangled with a memory; the photons
  meet at a linear-optics Bell-state analyser at the midpoint, which identifies 2 of the 4
  Bell states (Calsamiglia & Lütkenhaus, Appl. Phys. B 72, 67 (2001)):
  p = η·η_d²·½.  The result travels L/2 back: memories are blocked for L/c_f.
* ``sender-receiver`` (SR): one node emits, the other absorbs/detects and returns the
  herald: p = η·η_d, round trip 2L/c_f.

The textbook "attempt period ≥ max(1/f_rep, 2L/c_f)" is the SR case; MS and MM need only
one fibre-length of signalling (qnum/README.md, "Heralded elementary links").  Multiplexing
over m modes turns p into 1 − (1 − p)^m (each mode an independent trial inside the same
attempt slot).
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Final, Literal

from qnum.physics.constants import C_FIBRE_KM_PER_S, DEFAULT_ATTENUATION_DB_PER_KM
from qnum.physics.fibre import loss_db, plob_capacity, transmissivity_from_db

HeraldingScheme = Literal["midpoint-source", "sender-receiver", "meet-in-the-middle"]
HERALDING_SCHEMES: Final[tuple[str, ...]] = (
    "midpoint-source",
    "sender-receiver",
    "meet-in-the-middle",
)
#: Fraction of Bell states a linear-optics analyser can identify (no ancillas).
LINEAR_OPTICS_BSM_EFFICIENCY: Final[float] = 0.5


@dataclass(frozen=True)
class LinkParams:
    """One elementary link (one fibre span between two memory nodes).

    Only ``length_km`` may be positional; every other field is keyword-only so that a
    mis-ordered call fails loudly instead of silently swapping rate and attenuation.
    """

    length_km: float
    _: KW_ONLY
    source_rate_hz: float
    attenuation_db_per_km: float = DEFAULT_ATTENUATION_DB_PER_KM
    detector_efficiency: float = 0.9
    modes: int = 1
    link_fidelity: float = 0.97
    heralding: HeraldingScheme = "midpoint-source"
    extra_loss_db: float = 0.0

    def __post_init__(self) -> None:
        if self.length_km < 0:
            raise ValueError("length_km must be >= 0")
        if not self.source_rate_hz > 0:
            raise ValueError("source_rate_hz must be > 0")
        if self.attenuation_db_per_km < 0 or self.extra_loss_db < 0:
            raise ValueError("losses must be >= 0")
        if not 0.0 < self.detector_efficiency <= 1.0:
            raise ValueError("detector_efficiency must lie in (0, 1]")
        if self.modes < 1:
            raise ValueError("modes must be >= 1")
        if not 0.25 <= self.link_fidelity <= 1.0:
            raise ValueError("link_fidelity must lie in [0.25, 1]")
        if self.heralding not in HERALDING_SCHEMES:
            raise ValueError(f"heralding must be one of {HERALDING_SCHEMES}")


def channel_transmissivity(link: LinkParams) -> float:
    """η of the whole span (fibre + extra insertion loss), excluding detectors."""
    return transmissivity_from_db(
        loss_db(link.length_km, link.attenuation_db_per_km) + link.extra_loss_db
    )


def single_mode_success_probability(link: LinkParams) -> float:
    """Per-mode success probability of one attempt (see module docstring per scheme)."""
    eta = channel_transmissivity(link)
    eta_d = link.detector_efficiency
    if link.heralding == "sender-receiver":
        return eta * eta_d
    if link.heralding == "midpoint-source":
        return eta * eta_d**2
    return eta * eta_d**2 * LINEAR_OPTICS_BSM_EFFICIENCY


def attempt_success_probability(link: LinkParams) -> float:
    """Probability that one attempt slot heralds at least one pair: 1 − (1 − p)^m."""
    p = single_mode_success_probability(link)
    # -expm1(m*log1p(-p)) keeps precision when p*m << 1.
    return -math.expm1(link.modes * math.log1p(-p)) if p < 1.0 else 1.0


def channel_loss_db(
    attempt_success: float,
    *,
    heralding: HeraldingScheme,
    detector_efficiency: float,
    modes: int = 1,
) -> float:
    """Span loss in dB (fibre plus insertion losses) that makes an attempt slot herald
    with probability ``attempt_success``: the inverse of :func:`attempt_success_probability`
    for the channel, with the detectors and heralding scheme given.  Measured success
    ratios (heralds / attempts) thus estimate a link's loss, as QKD systems estimate
    channel transmittance from their detection counts.  The transmissivity is capped at 1
    (a ratio above what a lossless channel allows reads as 0 dB).  Close to
    ``attempt_success`` = 1 (many modes over little loss) the ratio hardly depends on the
    loss, and the estimate loses its precision."""
    if not 0.0 < attempt_success < 1.0:
        raise ValueError("attempt_success must lie in (0, 1)")
    if not 0.0 < detector_efficiency <= 1.0:
        raise ValueError("detector_efficiency must lie in (0, 1]")
    if modes < 1:
        raise ValueError("modes must be >= 1")
    if heralding not in HERALDING_SCHEMES:
        raise ValueError(f"heralding must be one of {HERALDING_SCHEMES}")
    per_mode = -math.expm1(math.log1p(-attempt_success) / modes)
    if heralding == "sender-receiver":
        detection = detector_efficiency
    elif heralding == "midpoint-source":
        detection = detector_efficiency**2
    else:
        detection = detector_efficiency**2 * LINEAR_OPTICS_BSM_EFFICIENCY
    eta = min(1.0, per_mode / detection)
    return -10.0 * math.log10(eta)


def heralding_latency_s(link: LinkParams) -> float:
    """Time a memory waits after an attempt before it knows the outcome."""
    one_way = link.length_km / C_FIBRE_KM_PER_S
    return 2.0 * one_way if link.heralding == "sender-receiver" else one_way


def attempt_period_s(link: LinkParams) -> float:
    """Attempt slot: max(1/f_rep, heralding latency) — the memory is blocked until heralded."""
    return max(1.0 / link.source_rate_hz, heralding_latency_s(link))


def _check_share(share: float) -> None:
    if not 0.0 < share <= 1.0:
        raise ValueError("share must lie in (0, 1]")


def slot_period_s(link: LinkParams, share: float = 1.0) -> float:
    """Attempt period seen by one user that receives ``share`` of the link (time division)."""
    _check_share(share)
    return attempt_period_s(link) / share


def generation_rate_hz(link: LinkParams, share: float = 1.0) -> float:
    """Heralded pairs per second when ``share`` ∈ (0, 1] of the attempt slots are used."""
    return attempt_success_probability(link) / slot_period_s(link, share)


def plob_bound_rate(link: LinkParams) -> float:
    """PLOB bound in ebits/s: −log2(1−η) per channel use × f_rep × modes channel uses/s."""
    return plob_capacity(channel_transmissivity(link)) * link.source_rate_hz * link.modes
