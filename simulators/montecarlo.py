"""Monte-Carlo validation of the analytic chain model (``qnum.physics.chain``).

It runs the protocol described in ``qnum.physics.chain`` by sampling instead of taking
expectations, so that the optimiser's figures can be checked independently:

* per round and link, the number of attempts until a herald is drawn from a geometric
  distribution (numpy ``Generator.geometric``); herald time T_i = K_i·τ_i;
* every stored half is put through its own node's memory map (depolarising or dephasing),
  acting on the pair's Pauli eigenvalues (λ_xy, λ_z) (qnum.physics.decoherence), for its
  actual storage time: from its emission (T_i − h_i) until its node swaps (M + d_j) or, at
  an end node, until that end knows the Pauli frame (M + s_k);
* each repeater's swap (and each end-node read-out) succeeds by a Bernoulli draw;
* the cut-off window rejects rounds with M > c, which then last c;
* purification pairs successive delivered pairs, draws success with the probability of
  the actual two input states and keeps the actual output state;
* per-link purification (``link_purification_rounds`` r_L): a link's pair is its purified
  pair (``qnum.physics.link_purification``), tracked as three Pauli eigenvalues from the
  moment it is ready.  How long it takes is drawn in one of two ways: ``"model"`` (the
  analytic model's protocol: each attempt slot yields a purified pair with probability
  p·Π p_k/2^r_L) or ``"recursive"`` (what a link does: raw attempts until 2^r_L raw pairs
  are heralded, each round's success drawn, a failed round re-making both of its inputs
  from scratch, depth first).  Both have the same mean; the recursive time varies less,
  so on chains of several links the model's E[max] — and its rate — is conservative.

Rates come with a 95 % confidence interval from batch means (Student t over
``N_BATCHES`` contiguous batches); mean fidelity with a normal-theory interval over the
delivered pairs (which are i.i.d.).  Everything is vectorised over rounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from qnum.physics.chain import ChainSetup, NodeParams, chain_setup, check_chain_options
from qnum.physics.decoherence import pauli_bell_diagonal, pauli_fidelity
from qnum.physics.link import LinkParams
from qnum.physics.purification import bbpssw_pair, dejmps_pair
from qnum.physics.swap_timing import SWAP_ORDERS, SwapOrder
from simulators.sequential import sample_sequential

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

N_BATCHES: Final[int] = 32
#: Student t 0.975 quantile with N_BATCHES − 1 = 31 degrees of freedom.
T_975_31: Final[float] = 2.0395
Z_975: Final[float] = 1.959964
DEFAULT_ROUNDS: Final[int] = 200_000
MAX_ROUNDS: Final[int] = 5_000_000
#: Relative slack on the cut-off comparison: K·τ computed in floating point.
_CUTOFF_SLACK: Final[float] = 1e-9
#: How a purified link's time is drawn (module docstring).
LINK_ATTEMPTS: Final[tuple[str, ...]] = ("model", "recursive")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % confidence interval."""

    value: float
    ci_low: float
    ci_high: float

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2.0

    def contains(self, x: float) -> bool:
        return self.ci_low <= x <= self.ci_high


@dataclass(frozen=True)
class RoundSamples:
    """Raw per-round samples (exposed so tests can replay rounds with density matrices)."""

    herald_times: FloatArray  # (rounds, links): T_i
    swap_time: FloatArray  # M = max_i T_i
    cycle_time: FloatArray  # M, or the cut-off c for abandoned rounds
    accepted: BoolArray  # M ≤ c
    delivered: BoolArray  # accepted and every swap / read-out succeeded
    storage_times: FloatArray  # (rounds, links): M − T_i + h_i
    werner: FloatArray  # end-to-end λ_xy: the Werner parameter when every memory depolarises
    lambda_z: FloatArray  # end-to-end λ_z (equal to ``werner`` with depolarising memories)
    #: end-to-end λ_Y when it differs from λ_X (per-link purification); ``werner`` is λ_X then
    lambda_y: FloatArray | None = None


@dataclass(frozen=True)
class MonteCarloResult:
    """Simulated steady-state performance of a chain."""

    rate_hz: Estimate
    fidelity: Estimate
    raw_rate_hz: float
    raw_fidelity: float
    n_rounds: int
    n_delivered: int
    n_output: int
    simulated_time_s: float
    seed: int


def _store(w: FloatArray, storage_s: FloatArray, decay_rate: float) -> FloatArray:
    """One memory's map on a Pauli eigenvalue: λ → λ·e^(−γt) (γ = 0 where it is kept)."""
    return w * np.exp(-decay_rate * storage_s)


def _decayed(
    setup: ChainSetup, born: FloatArray, release: FloatArray, gamma: Sequence[float],
    n_rounds: int, start: Sequence[float] | None = None,
) -> FloatArray:
    """One Pauli eigenvalue of the end-to-end pair: link i's (``start[i]``, by default its
    Werner parameter), stored in both holders' memories from ``born`` (its emission, or
    when a purified pair is ready) until each holder releases it (swap, or frame known at
    an end node), then swapped (product with the BSM factors)."""
    first = setup.link_werner if start is None else start
    link_w = [
        _store(
            _store(np.full(n_rounds, first[i]), release[:, i] - born[:, i],
                   gamma[i]),
            release[:, i + 1] - born[:, i],
            gamma[i + 1],
        )
        for i in range(setup.n_links)
    ]
    w = link_w[0]
    for j, lam in enumerate(setup.bsm_lambdas):
        w = w * link_w[j + 1] * lam
    return w


def _event_times(
    setup: ChainSetup, herald: FloatArray, swap_time: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(rounds, nodes) times at which each node's stored halves stop decaying — a
    repeater's at its swap, an end node's when it knows the whole Pauli frame — and the
    time the last repeater memory is freed."""
    n = setup.n_links
    timing = setup.swap_timing
    release = np.empty((herald.shape[0], n + 1))
    for j, d in enumerate(timing.swap_delay_s, start=1):
        release[:, j] = swap_time + d
    release[:, 0] = swap_time + timing.end_wait_s[0]
    release[:, n] = swap_time + timing.end_wait_s[1]
    return release, swap_time + timing.busy_s


def _recursive_attempts(
    p: float, round_success: Sequence[float], n_rounds: int, rng: np.random.Generator
) -> IntArray:
    """Raw attempt slots a link spends on one pair purified len(round_success) rounds,
    depth first: a level-k pair needs two level-(k−1) pairs and round k's success;
    a failure discards both and the level starts over."""
    if not round_success:
        return rng.geometric(p, size=n_rounds).astype(np.int64)
    below = list(round_success[:-1])
    total = np.zeros(n_rounds, dtype=np.int64)
    pending = np.arange(n_rounds)
    while pending.size:
        spent = (_recursive_attempts(p, below, pending.size, rng)
                 + _recursive_attempts(p, below, pending.size, rng))
        total[pending] += spent
        pending = pending[rng.random(pending.size) >= round_success[-1]]
    return total


def sample_rounds(
    setup: ChainSetup,
    n_rounds: int,
    rng: np.random.Generator,
    cutoff_s: float | None = None,
    link_attempts: str = "model",
) -> RoundSamples:
    """Sample ``n_rounds`` independent rounds of the chain protocol."""
    n = setup.n_links
    if link_attempts not in LINK_ATTEMPTS:
        raise ValueError(f"link_attempts must be one of {LINK_ATTEMPTS}")
    if (setup.link_pauli is not None and link_attempts == "recursive"
            and setup.raw_attempt_probability is not None
            and setup.link_round_success is not None):
        raw_p, steps = setup.raw_attempt_probability, setup.link_round_success
        counts = np.column_stack([
            _recursive_attempts(raw_p[i], steps[i], n_rounds, rng) for i in range(n)])
    else:
        counts = np.column_stack(
            [rng.geometric(p, size=n_rounds) for p in setup.attempt_probability])
    herald = counts * np.asarray(setup.slot_s)
    swap_time = herald.max(axis=1)
    release, freed = _event_times(setup, herald, swap_time)
    if cutoff_s is None:
        accepted = np.ones(n_rounds, dtype=np.bool_)
        cycle = freed
    else:
        accepted = swap_time <= cutoff_s * (1.0 + _CUTOFF_SLACK)
        cycle = np.where(accepted, freed, cutoff_s)
    storage = swap_time[:, None] - herald + np.asarray(setup.herald_s)
    born = herald - np.asarray(setup.decayed_herald_s)
    # Link i is held by nodes i and i+1; each half decoheres in its own memory until
    # that node releases it.
    lambda_y = None
    if setup.link_pauli is None:
        w = _decayed(setup, born, release, setup.node_decay_rate, n_rounds)
        w_z = _decayed(setup, born, release, setup.node_z_decay_rate, n_rounds)
    else:  # purified links: their pairs as ready, one eigenvalue at a time
        x, y, z = (tuple(lam[a] for lam in setup.link_pauli) for a in range(3))
        w = _decayed(setup, born, release, setup.node_decay_rate, n_rounds, x)
        lambda_y = _decayed(setup, born, release, setup.node_decay_rate, n_rounds, y)
        w_z = _decayed(setup, born, release, setup.node_z_decay_rate, n_rounds, z)
    delivered = accepted.copy()
    for j in range(n - 1):
        delivered &= rng.random(n_rounds) < setup.swap_probability[j]
    for eta in setup.node_readout_probability:
        delivered &= rng.random(n_rounds) < eta
    return RoundSamples(herald, swap_time, cycle, accepted, delivered, storage, w, w_z,
                        lambda_y)


def _purify(
    werner: FloatArray,
    lambda_z: FloatArray,
    batch: IntArray,
    protocol: str,
    rounds: int,
    rng: np.random.Generator,
    lambda_y: FloatArray | None = None,
) -> tuple[FloatArray, IntArray]:
    """Pair successive pairs round by round; return output fidelities and their batches.
    ``werner`` is λ_X (and λ_Y unless ``lambda_y`` is given)."""
    if lambda_y is None:
        bell = pauli_bell_diagonal(werner, lambda_z)  # (Φ+, Ψ−, Ψ+, Φ−)
    else:
        x, y, z = werner, lambda_y, lambda_z
        bell = ((1 + x + y + z) / 4, (1 - x + y - z) / 4, (1 + x - y - z) / 4,
                (1 - x - y + z) / 4)
    for _ in range(rounds):
        m = bell[0].size // 2
        first = tuple(c[0 : 2 * m : 2] for c in bell)
        second = tuple(c[1 : 2 * m : 2] for c in bell)
        if protocol == "bbpssw":
            p, f_new = bbpssw_pair(first[0], second[0])
            e_new = (1.0 - f_new) / 3.0
            new = (f_new, e_new, e_new, e_new)
        else:
            p, new = dejmps_pair(
                (first[0], first[1], first[2], first[3]),
                (second[0], second[1], second[2], second[3]),
            )
        keep = rng.random(m) < p
        bell = (new[0][keep], new[1][keep], new[2][keep], new[3][keep])
        batch = batch[1 : 2 * m : 2][keep]
    return bell[0], batch


def _batch_rate(outputs: IntArray, batch_time: FloatArray) -> Estimate:
    rates = outputs / batch_time
    value = float(outputs.sum() / batch_time.sum())
    half = T_975_31 * float(rates.std(ddof=1)) / math.sqrt(rates.size)
    return Estimate(value, value - half, value + half)


def _mean_estimate(values: FloatArray) -> Estimate:
    if values.size < 2:
        v = float(values.mean()) if values.size else math.nan
        return Estimate(v, math.nan, math.nan)
    value = float(values.mean())
    half = Z_975 * float(values.std(ddof=1)) / math.sqrt(values.size)
    return Estimate(value, value - half, value + half)


def simulate_chain(
    links: Sequence[LinkParams],
    repeaters: Sequence[NodeParams],
    purification_rounds: int = 0,
    protocol: str = "dejmps",
    shares: Sequence[float] | None = None,
    cutoff_s: float | None = None,
    end_nodes: Sequence[NodeParams] | None = None,
    n_rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
    swap_order: SwapOrder = "parallel",
    link_purification_rounds: int = 0,
    link_attempts: str = "model",
) -> MonteCarloResult:
    """Simulate ``n_rounds`` rounds of the chain protocol (same arguments as
    ``qnum.physics.chain_performance``) and estimate rate and mean fidelity with 95 % CIs.

    ``swap_order="sequential"`` runs the protocol of ``simulators.sequential`` instead
    (SeQUeNCe's swap order, pairs kept across failed swaps, no synchronous rounds; no
    cut-off): the analytic model does not cover it.  ``n_rounds`` is then the number of
    end-to-end pairs sampled.  ``link_attempts`` chooses how a purified link's time is
    drawn (module docstring).
    """
    check_chain_options(purification_rounds, protocol, cutoff_s, link_purification_rounds)
    if not N_BATCHES <= n_rounds <= MAX_ROUNDS:
        raise ValueError(f"n_rounds must lie in {N_BATCHES}..{MAX_ROUNDS}")
    setup = chain_setup(links, repeaters, shares, end_nodes, link_purification_rounds,
                        protocol)
    if min(setup.attempt_probability) <= 0.0:
        raise ValueError("every link needs a positive attempt success probability")
    rng = np.random.default_rng(seed)
    if swap_order not in SWAP_ORDERS:
        raise ValueError(f"swap_order must be one of {SWAP_ORDERS}")
    if swap_order == "sequential":
        if cutoff_s is not None or link_purification_rounds:
            raise ValueError("the sequential protocol has no cut-off window and no "
                             "per-link purification")
        if tuple(setup.node_z_decay_rate) != tuple(setup.node_decay_rate):
            raise ValueError("the sequential protocol tracks Werner pairs: depolarising "
                             "memories only")
        return _simulate_sequential(setup, n_rounds, rng, protocol, purification_rounds, seed)
    samples = sample_rounds(setup, n_rounds, rng, cutoff_s, link_attempts)
    round_batch = (np.arange(n_rounds, dtype=np.int64) * N_BATCHES) // n_rounds
    batch_time = np.asarray(
        np.bincount(round_batch, weights=samples.cycle_time, minlength=N_BATCHES),
        dtype=np.float64,
    )
    raw_w = samples.werner[samples.delivered]
    raw_z = samples.lambda_z[samples.delivered]
    raw_y = None if samples.lambda_y is None else samples.lambda_y[samples.delivered]
    fidelities, out_batch = _purify(
        raw_w, raw_z, round_batch[samples.delivered], protocol, purification_rounds, rng,
        raw_y,
    )
    outputs = np.bincount(out_batch, minlength=N_BATCHES).astype(np.int64)
    total_time = float(samples.cycle_time.sum())
    return MonteCarloResult(
        rate_hz=_batch_rate(outputs, batch_time),
        fidelity=_mean_estimate(fidelities),
        raw_rate_hz=raw_w.size / total_time,
        raw_fidelity=(
            math.nan if not raw_w.size
            else float(pauli_fidelity(raw_w.mean(), raw_z.mean())) if raw_y is None
            else float((1.0 + raw_w.mean() + raw_y.mean() + raw_z.mean()) / 4.0)
        ),
        n_rounds=n_rounds,
        n_delivered=int(raw_w.size),
        n_output=int(fidelities.size),
        simulated_time_s=total_time,
        seed=seed,
    )


def _simulate_sequential(
    setup: ChainSetup,
    n_pairs: int,
    rng: np.random.Generator,
    protocol: str,
    purification_rounds: int,
    seed: int,
) -> MonteCarloResult:
    """Rate and fidelity of ``simulators.sequential``'s protocol, batch means over pairs."""
    times, werner = sample_sequential(setup, n_pairs, rng)
    delivered = np.ones(n_pairs, dtype=np.bool_)
    for eta in setup.node_readout_probability:
        delivered &= rng.random(n_pairs) < eta
    cycle = np.diff(times, prepend=0.0)
    pair_batch = (np.arange(n_pairs, dtype=np.int64) * N_BATCHES) // n_pairs
    batch_time = np.asarray(
        np.bincount(pair_batch, weights=cycle, minlength=N_BATCHES), dtype=np.float64
    )
    raw_w = werner[delivered]
    fidelities, out_batch = _purify(  # Werner pairs: λ_z = λ_xy
        raw_w, raw_w, pair_batch[delivered], protocol, purification_rounds, rng
    )
    outputs = np.bincount(out_batch, minlength=N_BATCHES).astype(np.int64)
    total_time = float(times[-1])
    return MonteCarloResult(
        rate_hz=_batch_rate(outputs, batch_time),
        fidelity=_mean_estimate(fidelities),
        raw_rate_hz=raw_w.size / total_time,
        raw_fidelity=float((1.0 + 3.0 * raw_w.mean()) / 4.0) if raw_w.size else math.nan,
        n_rounds=n_pairs,
        n_delivered=int(raw_w.size),
        n_output=int(fidelities.size),
        simulated_time_s=total_time,
        seed=seed,
    )
