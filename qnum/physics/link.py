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
one fibre-length of signalling (qnum/README.md, "Heralded elementary links").

Timing of one attempt (qnum/README.md, "Attempt timing").  Real link layers spend classical
round trips between the two nodes on top of the heralding signal: agreeing on an emission
time (SeQUeNCe's NEGOTIATE / NEGOTIATE_ACK), pairing memories, or a second emission round
(Barrett–Kok needs two heralded rounds).  An attempt here is ``herald_rounds`` rounds, each
``handshake_round_trips`` node-to-node round trips (2L/c_f each) followed by one emission and
its heralding signal h, so the attempt period is
max(herald_rounds/f_rep, herald_rounds·(handshake_round_trips·2L/c_f + h)).
The defaults (one round, no handshake) are the ideal pipelined link layer the optimiser has
always assumed; SeQUeNCe 0.8.5's single-heralded protocol is MM with 1.5 round trips
(4 L/c_f per attempt, measured by ``sdqn bench physics``).  Multiplexing
over m modes turns p into 1 − (1 − p)^m (each mode an independent trial inside the same
attempt slot).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    handshake_round_trips: float = 0.0
    herald_rounds: int = 1

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
        if not 0.0 <= self.handshake_round_trips < math.inf:
            raise ValueError("handshake_round_trips must be a finite number >= 0")
        if self.herald_rounds < 1:
            raise ValueError("herald_rounds must be >= 1")


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


def classical_one_way_s(link: LinkParams) -> float:
    """L/c_f: one classical message from one end of the link to the other."""
    return link.length_km / C_FIBRE_KM_PER_S


def herald_signal_s(link: LinkParams) -> float:
    """h: from one emission to both nodes knowing its outcome (2L/c_f for SR, else L/c_f)."""
    one_way = classical_one_way_s(link)
    return 2.0 * one_way if link.heralding == "sender-receiver" else one_way


def round_duration_s(link: LinkParams) -> float:
    """One emission round: its handshake round trips, then the emission and its herald."""
    return link.handshake_round_trips * 2.0 * classical_one_way_s(link) + herald_signal_s(link)


def heralding_latency_s(link: LinkParams) -> float:
    """Time the stored qubits have spent in memory when the attempt is heralded.

    The memory is initialised at the first emission; later rounds (with their handshakes)
    add their full duration.  One round: just the heralding signal h.
    """
    return herald_signal_s(link) + (link.herald_rounds - 1) * round_duration_s(link)


def attempt_period_s(link: LinkParams) -> float:
    """Attempt slot: max(rounds/f_rep, rounds·(handshakes·2L/c_f + h)) — the memory is
    blocked until heralded, and the source cannot fire faster than f_rep."""
    return max(
        link.herald_rounds / link.source_rate_hz,
        link.herald_rounds * round_duration_s(link),
    )


def swap_outcome_delay_s(links: Sequence[LinkParams]) -> float:
    """Classical delay of the swap outcomes (Pauli frame) of a chain: ΣL/c_f for n ≥ 2.

    The end nodes may use the delivered pair only once they know the frame; it is sent over
    the chain, so the far end learns the last outcome one chain length after the swaps
    (a conservative bound: repeaters near the middle reach both ends sooner).
    """
    if len(links) < 2:
        return 0.0
    return sum(classical_one_way_s(lk) for lk in links)


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
