"""Analytic end-to-end model of a repeater chain — the figure of merit the optimiser uses.

Protocol (one *round*; the Monte-Carlo simulator in ``simulators.montecarlo`` runs exactly
the same protocol by sampling, so the two must agree):

0. Optional per-link purification (``link_purification``): with r_L rounds a link's
   "attempt" is one purified pair: it succeeds with p_i·Π p_k/2^r_L per slot, its pair is
   ready h_i + r_L·2L_i/c_f after the attempt (that is its heralding latency below), and
   it is the purified Bell-diagonal pair, decayed over that time (tracked as three Pauli
   eigenvalues; λ_X ≠ λ_Y after DEJMPS).  Each repeater then holds 2·(r_L + 1) qubits.
1. At round start every elementary link i attempts in parallel, one attempt per slot of
   length τ_i = attempt_period/share_i, each attempt succeeding with probability p_i
   (``link.attempt_success_probability``).  Link i's pair is heralded at T_i = K_i·τ_i with
   K_i ~ Geometric(p_i), independent across links.  Its qubits have already been in memory
   for the heralding latency h_i at that moment.
2. Heralded pairs wait in memory until every link holds one, i.e. until M = max_i T_i.
   Each stored half decoheres in its node's memory (rate γ_k = 1/T_k; model depolarising
   or dephasing per node, ``qnum.physics.decoherence``).  A pair is tracked by its Pauli
   eigenvalues (λ_xy, λ_z), starting at the link's Werner parameter (link fidelity and
   both nodes' write fidelities): λ_xy is multiplied by e^(−(γ_{i−1}+γ_i)(M − T_i + h_i)),
   λ_z by the same with only the depolarising nodes' rates.  With depolarising memories
   everywhere λ_xy = λ_z and the pair is the Werner pair w.
3. Repeater j swaps at M + d_j, d_j its swap-pairing delay (``qnum.physics.swap_timing``;
   0 by default: a scheduled chain swaps at once); its two halves decohere until then.
   Repeater j succeeds with probability
   p_swap,j·η_mem,j² (both stored qubits must be read out); the delivered pair is also read
   out of the two end memories (η_mem,0·η_mem,n).  Any failure discards the round.
   The swapped pair has λ = Π λ_i(M) · Π λ_j for both eigenvalues (``swap.chain_werner``;
   λ_j the BSM's depolarising factor) times the decay of the waits after M.
4. The Pauli frame travels to the end nodes (by default over the whole chain: end k knows
   it s_k = max_j d_j + ΣL/c_f after M for n ≥ 2 links, 0 for a single link; with the
   ``direct`` route max_j (d_j + distance_jk/c_f)); meanwhile end half k decoheres in its
   memory (same rule as item 2).  All waits after M are deterministic, so their decay
   multiplies the expectation exactly.
5. The next round starts at M + max_j d_j (links restart once every repeater memory is
   free; M itself without pairing delays).
6. Optional window cut-off c: if M > c the round is abandoned at time c and all stored
   pairs are discarded, so no pair waits longer than c after its herald for its partners
   (plus the deterministic swap and frame delays, which the coherence budget counts).  (This is
   the "global" cut-off policy of e.g. Li, Coopmans et al., npj Quantum Inf. 7, 2021; unlike
   a per-pair age cut-off it keeps the model exactly computable.)
7. r rounds of end-to-end recurrence purification (``purification.iterate``) combine
   successive delivered pairs; each round consumes two pairs for at most one.

Exactness.  By renewal–reward the delivered rate is
P(accept)·P(swaps)/(E[min(M, c)] + P(accept)·max_j d_j).
Because Bell-diagonal states are linear in (λ_xy, λ_z), the ensemble of delivered pairs is
the Bell-diagonal state with the conditional means of both; since one purification round
is bilinear in its two independent inputs, purifying that ensemble state gives exactly the
success probability and the mean output fidelity of purifying individually sampled pairs.
(DEJMPS acts on the Bell-diagonal coefficients; BBPSSW twirls its inputs to Werner form.)
(Simplification: a pair waiting at the end nodes for its purification partner does not
decohere further.)

E[M] and E[e^(−Σβ_i(M−T_i))] are Stieltjes sums over the distribution of M:
with H̃_i(t) = E[e^(−β_i(t−T_i)) 1{T_i ≤ t}] (closed form, a geometric series),
E[e^(−Σβ_i(M−T_i)) 1{M ≤ c}] = Σ_j [Π_i H̃_i(t_j) − e^(−B(t_j−t_{j−1})) Π_i H̃_i(t_{j−1})],
B = Σβ_i, over the sorted herald times t_j (the union of the lattices kτ_i), truncated where
P(M > t) < 1e−12.  That sum is exact.  When the union exceeds ``MAX_ATOMS`` points it is
evaluated on a uniform grid of MAX_ATOMS points instead, placing each cell's mass at the
cell centre (errors O((BΔt)²) and O((Δt/E[M])²): ≲ 1e−6 on E[M] and ≲ 1e−3 on w̄ even
for pairs decohered to F ≈ 0.26; a 10-link call then takes a few ms).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from qnum.physics.constants import MAXIMALLY_MIXED_FIDELITY
from qnum.physics.decoherence import (
    DecoherenceModel,
    check_decoherence_model,
    pair_lifetime,
    pauli_bell_diagonal,
    pauli_fidelity,
    z_decay_rate,
)
from qnum.physics.link import (
    LinkParams,
    attempt_success_probability,
    classical_one_way_s,
    heralding_latency_s,
    slot_period_s,
    swap_outcome_delay_s,
)
from qnum.physics.link_purification import (
    PauliEigenvalues,
    bell_diagonal_of,
    pauli_lifetime,
    pauli_state_fidelity,
    purify_link,
)
from qnum.physics.purification import check_protocol, iterate_bell_diagonal
from qnum.physics.states import fidelity_from_werner, werner_from_fidelity
from qnum.physics.swap import chain_werner
from qnum.physics.swap_timing import (
    SwapOutcomeRoute,
    SwapTiming,
    check_swap_options,
    parallel_swap_timing,
)

FloatArray = npt.NDArray[np.float64]

MAX_ATOMS: Final[int] = 2**15
TAIL_EPSILON: Final[float] = 1e-12
MAX_PURIFICATION_ROUNDS: Final[int] = 3
#: Slack when mapping a time onto a link's attempt lattice (floating-point k·τ).
_LATTICE_SLACK: Final[float] = 1e-9


@dataclass(frozen=True)
class NodeParams:
    """Memory node: coherence time T (s), memory model and swap hardware.

    ``coherence_time_s`` may be ``math.inf`` (ideal memory).  Only it is positional.
    ``bsm_lambda`` is the depolarising factor of the swap (from a BSM fidelity F:
    (4F−1)/3); ``initial_fidelity`` the fidelity a perfect half keeps when written into
    this node's memory (a depolarising write with factor (4F−1)/3 on each pair it stores).
    """

    coherence_time_s: float
    _: KW_ONLY
    bsm_lambda: float = 0.99
    swap_success_probability: float = 0.5
    memory_efficiency: float = 1.0
    decoherence_model: DecoherenceModel = "depolarising"
    initial_fidelity: float = 1.0
    swap_pairing_round_trips: float = 0.0
    swap_outcome_route: SwapOutcomeRoute = "along-chain"

    def __post_init__(self) -> None:
        check_swap_options(self.swap_pairing_round_trips, self.swap_outcome_route)
        if not self.coherence_time_s > 0:
            raise ValueError("coherence_time_s must be > 0")
        if not 0.0 < self.bsm_lambda <= 1.0:
            raise ValueError("bsm_lambda must lie in (0, 1]")
        if not 0.0 <= self.swap_success_probability <= 1.0:
            raise ValueError("swap_success_probability must lie in [0, 1]")
        if not 0.0 <= self.memory_efficiency <= 1.0:
            raise ValueError("memory_efficiency must lie in [0, 1]")
        check_decoherence_model(self.decoherence_model)
        if not 0.25 <= self.initial_fidelity <= 1.0:
            raise ValueError("initial_fidelity must lie in [0.25, 1]")

    @property
    def decay_rate(self) -> float:
        """γ = 1/T in 1/s (0 for an ideal memory)."""
        return 0.0 if math.isinf(self.coherence_time_s) else 1.0 / self.coherence_time_s

    @property
    def z_decay_rate(self) -> float:
        """Decay rate of λ_Z: γ for a depolarising memory, 0 for a dephasing one."""
        return z_decay_rate(self.decay_rate, self.decoherence_model)

    @property
    def write_werner(self) -> float:
        """Depolarising factor (4F_init − 1)/3 of writing one half into this memory."""
        return werner_from_fidelity(self.initial_fidelity)


#: End node with an ideal, loss-free memory: the default when ``end_nodes`` is omitted.
IDEAL_END_NODE: Final[NodeParams] = NodeParams(
    math.inf, bsm_lambda=1.0, swap_success_probability=1.0, memory_efficiency=1.0
)


@dataclass(frozen=True)
class ChainSetup:
    """Deterministic per-link / per-node numbers of a chain (shared with the simulator)."""

    slot_s: tuple[float, ...]
    attempt_probability: tuple[float, ...]
    herald_s: tuple[float, ...]
    link_werner: tuple[float, ...]
    link_fidelity: tuple[float, ...]
    node_decay_rate: tuple[float, ...]
    node_z_decay_rate: tuple[float, ...]
    node_readout_probability: tuple[float, ...]
    bsm_lambdas: tuple[float, ...]
    swap_probability: tuple[float, ...]
    signalling_s: float
    swap_timing: SwapTiming
    #: Per-link purification (``link_purification``): rounds, each link's pair when ready
    #: as Pauli eigenvalues (heralding-latency and round-trip decay included), and the
    #: time that pair has spent in memory when ready.  None without link rounds.
    link_purification_rounds: int = 0
    link_pauli: tuple[PauliEigenvalues, ...] | None = None
    #: With link rounds: each link's raw attempt success p and its rounds' p_k (the
    #: simulator redraws the purification process from them).
    raw_attempt_probability: tuple[float, ...] | None = None
    link_round_success: tuple[tuple[float, ...], ...] | None = None

    @property
    def decayed_herald_s(self) -> tuple[float, ...]:
        """Latency still to be charged as decay to each link's pair in the round (the
        purified pair carries its own decay already)."""
        return self.herald_s if self.link_pauli is None else (0.0,) * self.n_links

    @property
    def n_links(self) -> int:
        return len(self.slot_s)

    @property
    def pair_decay_rate(self) -> tuple[float, ...]:
        """β_i = γ_{i−1} + γ_i: decay rate of link i's pair (both halves stored)."""
        g = self.node_decay_rate
        return tuple(g[i] + g[i + 1] for i in range(self.n_links))

    @property
    def pair_z_decay_rate(self) -> tuple[float, ...]:
        """Decay rate of link i's λ_Z: the depolarising holders' γ only."""
        g = self.node_z_decay_rate
        return tuple(g[i] + g[i + 1] for i in range(self.n_links))

    @property
    def delivery_probability(self) -> float:
        """Π_j p_swap,j·η_j² × η_0·η_n: an accepted round yields a pair."""
        return math.prod(self.swap_probability) * math.prod(self.node_readout_probability)


@dataclass(frozen=True)
class ChainPerformance:
    """Expected steady-state performance of one chain.

    rate_hz: delivered (purified) end-to-end pairs per second, 0 if the coherence budget
    fails; fidelity: mean fidelity of delivered pairs; latency_s: classical latency
    (max heralding + Pauli-frame signalling); waiting_time_s: E[M | accepted], the time
    from round start to the swaps; success_probability: probability that a round
    delivers a raw end-to-end pair; t_ent_s: the chain's entanglement lifetime budget.
    """

    rate_hz: float
    fidelity: float
    latency_s: float
    waiting_time_s: float
    memory_slots_per_node: tuple[int, ...]
    success_probability: float
    coherence_ok: bool
    t_ent_s: float
    raw_rate_hz: float
    raw_fidelity: float
    pairs_per_output: float


@dataclass(frozen=True)
class RoundStatistics:
    """Moments of the round duration M (see module docstring)."""

    accept_probability: float
    mean_cycle_s: float
    mean_wait_accepted_s: float
    mean_decay_accepted: float


def chain_setup(
    links: Sequence[LinkParams],
    repeaters: Sequence[NodeParams],
    shares: Sequence[float] | None = None,
    end_nodes: Sequence[NodeParams] | None = None,
    link_purification_rounds: int = 0,
    protocol: str = "dejmps",
) -> ChainSetup:
    """Validate a chain description and derive its per-link / per-node numbers.

    With ``link_purification_rounds`` r > 0 every link is purified r rounds of
    ``protocol`` by its two nodes (``qnum.physics.link_purification``): its attempt
    succeeds with p·Π p_k/2^r, its pair is ready h + r·2L/c_f after the attempt and is
    the purified state.  Memoised on its (immutable) arguments: a configuration space
    sets up the same chain for every window and purification depth.
    """
    return _chain_setup(tuple(links), tuple(repeaters),
                        None if shares is None else tuple(shares),
                        None if end_nodes is None else tuple(end_nodes),
                        link_purification_rounds, protocol)


@functools.lru_cache(maxsize=4096)
def _chain_setup(
    links: tuple[LinkParams, ...],
    repeaters: tuple[NodeParams, ...],
    shares: tuple[float, ...] | None,
    end_nodes: tuple[NodeParams, ...] | None,
    link_purification_rounds: int,
    protocol: str,
) -> ChainSetup:
    n = len(links)
    if n == 0:
        raise ValueError("a chain needs at least one link")
    if len(repeaters) != n - 1:
        raise ValueError("need exactly len(links) - 1 repeaters")
    share_list = [1.0] * n if shares is None else list(shares)
    if len(share_list) != n:
        raise ValueError("need one share per link")
    ends = (IDEAL_END_NODE, IDEAL_END_NODE) if end_nodes is None else end_nodes
    if len(ends) != 2:
        raise ValueError("end_nodes must hold exactly two nodes")
    nodes = [ends[0], *repeaters, ends[1]]
    link_werner = tuple(
        werner_from_fidelity(lk.link_fidelity) * nodes[i].write_werner * nodes[i + 1].write_werner
        for i, lk in enumerate(links)
    )
    attempt = tuple(attempt_success_probability(lk) for lk in links)
    herald = tuple(heralding_latency_s(lk) for lk in links)
    link_fidelity = tuple(fidelity_from_werner(w) for w in link_werner)
    link_pauli = raw_attempt = round_success = None
    if link_purification_rounds > 0:
        purified = [
            purify_link(
                w, nodes[i].decay_rate + nodes[i + 1].decay_rate,
                nodes[i].z_decay_rate + nodes[i + 1].z_decay_rate,
                herald[i], 2.0 * classical_one_way_s(lk), link_purification_rounds, protocol)
            for i, (lk, w) in enumerate(zip(links, link_werner, strict=True))
        ]
        raw_attempt = attempt
        round_success = tuple(pl.round_success for pl in purified)
        attempt = tuple(p * pl.success_probability / 2.0**link_purification_rounds
                        for p, pl in zip(attempt, purified, strict=True))
        herald = tuple(pl.ready_s for pl in purified)
        link_pauli = tuple(pl.eigenvalues for pl in purified)
        link_fidelity = tuple(pauli_state_fidelity(pl.eigenvalues) for pl in purified)
    return ChainSetup(
        slot_s=tuple(slot_period_s(lk, s) for lk, s in zip(links, share_list, strict=True)),
        attempt_probability=attempt,
        herald_s=herald,
        link_werner=link_werner,
        link_fidelity=link_fidelity,
        node_decay_rate=tuple(nd.decay_rate for nd in nodes),
        node_z_decay_rate=tuple(nd.z_decay_rate for nd in nodes),
        node_readout_probability=(ends[0].memory_efficiency, ends[1].memory_efficiency),
        bsm_lambdas=tuple(r.bsm_lambda for r in repeaters),
        swap_probability=tuple(
            r.swap_success_probability * r.memory_efficiency**2 for r in repeaters
        ),
        signalling_s=swap_outcome_delay_s(links),
        swap_timing=parallel_swap_timing(
            links,
            [r.swap_pairing_round_trips for r in repeaters],
            [r.swap_outcome_route for r in repeaters],
        ),
        link_purification_rounds=link_purification_rounds,
        link_pauli=link_pauli,
        raw_attempt_probability=raw_attempt,
        link_round_success=round_success,
    )


def _herald_count(t: FloatArray, slot: float) -> FloatArray:
    """Number of attempt slots of length ``slot`` completed by time t."""
    return np.floor(t / slot + _LATTICE_SLACK)


def _cdf(k: FloatArray, p: float) -> FloatArray:
    """P(K ≤ k) = 1 − (1−p)^k of a geometric attempt count."""
    if p >= 1.0:
        return (k > 0).astype(np.float64)
    return -np.expm1(k * math.log1p(-p))


def _discounted_cdf(t: FloatArray, slot: float, p: float, beta: float) -> FloatArray:
    """H̃(t) = E[e^(−β(t−T)) 1{T ≤ t}] for T = K·slot, K ~ Geometric(p).

    Σ_{k=1}^{K} p q^(k−1) e^(−β(t−kτ)) = p e^(−β(t−Kτ)) Σ_{j<K} q^(K−1−j) y^j with y = e^(−βτ);
    the inner sum is a^(K−1)(1 − r^K)/(1 − r) with a = max(q, y), r = min/max ≤ 1,
    evaluated through expm1 so that it is stable for r → 1 and never overflows.
    """
    k = _herald_count(t, slot)
    q, y = 1.0 - p, math.exp(-beta * slot)
    a, b = max(q, y), min(q, y)
    log_r = math.log(b) - math.log(a) if b > 0 else -math.inf
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if log_r == 0.0:
            ratio = k
        elif math.isinf(log_r):
            ratio = np.ones_like(k)
        else:
            ratio = np.expm1(k * log_r) / math.expm1(log_r)
        inner = np.exp((k - 1.0) * math.log(a)) * ratio
        value = p * np.exp(-beta * (t - k * slot)) * inner
    return np.where(k > 0, value, 0.0)


def _time_points(
    slots: Sequence[float], probs: Sequence[float], cutoff_s: float | None
) -> tuple[FloatArray, bool]:
    """Sorted herald times (exact) or a uniform grid (fallback), starting with t = 0."""
    horizons = []
    for slot, p in zip(slots, probs, strict=True):
        k_tail = 1.0 if p >= 1.0 else math.ceil(math.log(TAIL_EPSILON) / math.log1p(-p))
        horizons.append(max(k_tail, 1.0) * slot)
    horizon = max(horizons)
    if cutoff_s is not None:
        horizon = min(horizon, cutoff_s)
    n_atoms = sum(math.floor(horizon / s + _LATTICE_SLACK) for s in slots)
    if n_atoms <= MAX_ATOMS:
        lattices = [
            np.arange(1, math.floor(horizon / s + _LATTICE_SLACK) + 1, dtype=np.float64) * s
            for s in slots
        ]
        points = np.unique(np.concatenate([np.zeros(1), *lattices]))
        return points, True
    return np.linspace(0.0, horizon, MAX_ATOMS + 1), False


def round_statistics(
    slots: Sequence[float],
    probs: Sequence[float],
    betas: Sequence[float],
    cutoff_s: float | None = None,
) -> RoundStatistics:
    """Acceptance probability, E[min(M,c)], E[M|acc] and E[e^(−Σβ_i(M−T_i)) | acc].

    Memoised: a configuration space evaluates the same round (same links, share and
    window) once per end-to-end purification depth, and only the last step differs.
    """
    return _round_statistics(tuple(slots), tuple(probs), tuple(betas), cutoff_s)


@functools.lru_cache(maxsize=4096)
def _round_statistics(
    slots: tuple[float, ...],
    probs: tuple[float, ...],
    betas: tuple[float, ...],
    cutoff_s: float | None,
) -> RoundStatistics:
    if min(probs) <= 0.0 or max(probs) > 1.0:
        raise ValueError("attempt success probabilities must lie in (0, 1]")
    t, exact = _time_points(slots, probs, cutoff_s)
    cdf = np.ones_like(t)
    disc = np.ones_like(t)
    for slot, p, beta in zip(slots, probs, betas, strict=True):
        cdf *= _cdf(_herald_count(t, slot), p)
        disc *= _discounted_cdf(t, slot, p, beta)
    dt = np.diff(t)
    d_cdf = np.diff(cdf)
    mass_points = t[1:] if exact else t[1:] - dt / 2.0
    total_beta = float(sum(betas))
    decay_terms = disc[1:] - np.exp(-total_beta * dt) * disc[:-1]
    if not exact:
        # Each term discounts its cell's mass as if M sat at the cell's right end; moving
        # it to the cell centre on average turns the O(BΔt) error into O((BΔt)²).
        decay_terms = decay_terms * np.exp(total_beta * dt / 2.0)
    decay_mass = float(np.sum(decay_terms))
    accept = float(cdf[-1]) if cutoff_s is not None else 1.0
    wait_mass = float(np.sum(mass_points * d_cdf))
    if accept <= 0.0:
        return RoundStatistics(0.0, float(cutoff_s or 0.0), math.nan, math.nan)
    cycle = wait_mass + (cutoff_s * (1.0 - accept) if cutoff_s is not None else 0.0)
    # Without a cut-off the truncation (P(M > horizon) ≤ n·1e−12) is renormalised away.
    norm = accept if cutoff_s is not None else float(cdf[-1])
    return RoundStatistics(
        accept_probability=accept,
        mean_cycle_s=cycle if cutoff_s is not None else wait_mass / norm,
        mean_wait_accepted_s=wait_mass / norm,
        mean_decay_accepted=decay_mass / norm,
    )


def swap_timing_decay(setup: ChainSetup, node_rates: Sequence[float] | None = None) -> float:
    """Factor of the waits after M on one Pauli eigenvalue (λ_xy with the nodes' decay
    rates, the default; λ_z with their depolarising rates only): each repeater's two
    halves until its swap (e^(−2γ_j·d_j)), each end half until that end knows the frame
    (e^(−γ_k·s_k)).

    The waits are deterministic, so the factor multiplies the round's expectation exactly.
    """
    g = setup.node_decay_rate if node_rates is None else node_rates
    timing = setup.swap_timing
    exponent = g[0] * timing.end_wait_s[0] + g[-1] * timing.end_wait_s[1]
    exponent += sum(2.0 * g[j + 1] * d for j, d in enumerate(timing.swap_delay_s))
    return math.exp(-exponent)


def chain_t_ent(setup: ChainSetup) -> float:
    """min over links of the time link i's pair, as modelled, stays at F ≥ 2/3.

    Each pair starts at its link's Werner parameter and decays in its two holders'
    memories under their own models (``decoherence.pair_lifetime``; qnum/README.md,
    "Memory decoherence"), exactly as item 2 of the module docstring stores it.
    With link purification a link's budget is the time its purified pair is ready plus
    the time that pair, as delivered, stays at F ≥ 2/3: both count from the raw pair's
    creation, as the unpurified budget does.
    """
    if setup.link_pauli is not None:
        return min(
            ready + pauli_lifetime(lam, beta, beta_z)
            for lam, ready, beta, beta_z in zip(
                setup.link_pauli, setup.herald_s, setup.pair_decay_rate,
                setup.pair_z_decay_rate, strict=True)
        )
    lifetimes = [
        pair_lifetime(w, beta, beta_z)
        for w, beta, beta_z in zip(
            setup.link_werner, setup.pair_decay_rate, setup.pair_z_decay_rate, strict=True
        )
    ]
    return min(lifetimes)


def _stored_decay(
    setup: ChainSetup, betas: Sequence[float], node_rates: Sequence[float], mean_wait: float
) -> float:
    """Decay of one Pauli eigenvalue over a round: heralding latency, waiting for the
    swaps (``mean_wait`` = its E[e^(−Σβ_i(M−T_i)) | accepted]), the swap-pairing delays
    and Pauli-frame signalling (``swap_timing_decay``)."""
    herald = math.exp(-sum(b * h for b, h in zip(betas, setup.decayed_herald_s, strict=True)))
    return herald * swap_timing_decay(setup, node_rates) * mean_wait


def _z_mean_decay(setup: ChainSetup, stats: RoundStatistics, cutoff_s: float | None) -> float:
    """E[e^(−Σβ^z_i(M−T_i)) | accepted]: the λ_z twin of ``stats.mean_decay_accepted``
    (the same statistic when every memory depolarises, 1 when none does)."""
    betas_z = setup.pair_z_decay_rate
    if betas_z == setup.pair_decay_rate:
        return stats.mean_decay_accepted
    if not any(betas_z):
        return 1.0
    return round_statistics(
        setup.slot_s, setup.attempt_probability, betas_z, cutoff_s
    ).mean_decay_accepted


def memory_slots(
    n_links: int, purification_rounds: int, link_purification_rounds: int = 0
) -> tuple[int, ...]:
    """Qubit slots per node for r end-to-end and r_L per-link rounds.

    Recurrence purification of 2^r_L pairs, done depth first, holds at most one pair per
    level below the top plus the one being made: r_L + 1 qubits on each side of a link.
    A repeater serves two links: 2·(r_L + 1) (2 without link rounds; the repeater model
    asks for at least 4 when it purifies).  An end node buffers r end-to-end pairs while
    its link makes the next one: 1 + r + r_L.
    """
    end = 1 + purification_rounds + link_purification_rounds
    return (end, *([2 * (1 + link_purification_rounds)] * (n_links - 1)), end)


def check_chain_options(purification_rounds: int, protocol: str, cutoff_s: float | None,
                        link_purification_rounds: int = 0) -> None:
    """Validate the protocol options shared by the model and the simulator."""
    check_protocol(protocol)
    if not 0 <= purification_rounds <= MAX_PURIFICATION_ROUNDS:
        raise ValueError(f"purification_rounds must lie in 0..{MAX_PURIFICATION_ROUNDS}")
    if not 0 <= link_purification_rounds <= MAX_PURIFICATION_ROUNDS:
        raise ValueError(
            f"link_purification_rounds must lie in 0..{MAX_PURIFICATION_ROUNDS}")
    if cutoff_s is not None and not cutoff_s > 0:
        raise ValueError("cutoff_s must be > 0")


def chain_performance(
    links: Sequence[LinkParams],
    repeaters: Sequence[NodeParams],
    purification_rounds: int = 0,
    protocol: str = "dejmps",
    shares: Sequence[float] | None = None,
    cutoff_s: float | None = None,
    end_nodes: Sequence[NodeParams] | None = None,
    link_purification_rounds: int = 0,
) -> ChainPerformance:
    """Expected rate/fidelity/latency of a chain under the protocol in the module docstring.

    ``repeaters`` are the n−1 inner nodes in path order; ``end_nodes`` (source, destination)
    default to ideal memories.  ``shares[i]`` ∈ (0, 1] is the fraction of link i's attempt
    slots given to this chain.  ``cutoff_s`` is the round window (module docstring, item 6).
    ``link_purification_rounds`` r_L purifies every link r_L rounds of ``protocol`` before
    the swaps (item 0 of the module docstring).
    """
    check_chain_options(purification_rounds, protocol, cutoff_s, link_purification_rounds)
    setup = chain_setup(links, repeaters, shares, end_nodes, link_purification_rounds, protocol)
    betas = setup.pair_decay_rate
    if min(setup.attempt_probability) > 0.0:
        stats = round_statistics(setup.slot_s, setup.attempt_probability, betas, cutoff_s)
    else:  # a link so lossy that p underflows to 0 never heralds
        stats = RoundStatistics(0.0, math.inf, math.nan, math.nan)
    timing = setup.swap_timing
    latency = max(setup.herald_s) + timing.outcome_s
    t_ent = chain_t_ent(setup)
    slots = memory_slots(setup.n_links, purification_rounds, link_purification_rounds)
    success = stats.accept_probability * setup.delivery_probability
    if stats.accept_probability <= 0.0:
        return ChainPerformance(
            0.0, MAXIMALLY_MIXED_FIDELITY, latency, math.inf, slots, 0.0, False, t_ent,
            0.0, MAXIMALLY_MIXED_FIDELITY, math.inf,
        )
    decay_xy = _stored_decay(setup, betas, setup.node_decay_rate, stats.mean_decay_accepted)
    decay_z = _stored_decay(
        setup, setup.pair_z_decay_rate, setup.node_z_decay_rate,
        _z_mean_decay(setup, stats, cutoff_s),
    )
    if setup.link_pauli is None:
        w_swapped = chain_werner(setup.link_werner, setup.bsm_lambdas)
        lambda_xy, lambda_z = w_swapped * decay_xy, w_swapped * decay_z
        raw_fidelity = pauli_fidelity(lambda_xy, lambda_z)
        delivered = pauli_bell_diagonal(lambda_xy, lambda_z)
    else:  # the Pauli errors of the links compose: each eigenvalue multiplies
        bsm = math.prod(setup.bsm_lambdas)
        lam = tuple(math.prod(link[a] for link in setup.link_pauli) * bsm for a in range(3))
        eig = (lam[0] * decay_xy, lam[1] * decay_xy, lam[2] * decay_z)
        raw_fidelity = pauli_state_fidelity(eig)
        delivered = bell_diagonal_of(eig)
    # The repeater memories are freed busy_s after M: accepted rounds last that much longer.
    raw_rate = success / (stats.mean_cycle_s + stats.accept_probability * timing.busy_s)
    fidelity, cost, _ = iterate_bell_diagonal(protocol, delivered, purification_rounds)
    coherence_ok = stats.mean_wait_accepted_s + latency <= t_ent
    return ChainPerformance(
        rate_hz=raw_rate / cost if coherence_ok else 0.0,
        fidelity=fidelity,
        latency_s=latency,
        waiting_time_s=stats.mean_wait_accepted_s,
        memory_slots_per_node=slots,
        success_probability=success,
        coherence_ok=coherence_ok,
        t_ent_s=t_ent,
        raw_rate_hz=raw_rate,
        raw_fidelity=raw_fidelity,
        pairs_per_output=cost,
    )
