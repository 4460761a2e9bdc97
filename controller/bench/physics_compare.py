"""Predicted (chain model) versus simulated (SeQUeNCe) rate and fidelity of one chain.

The chain model is given the timing of SeQUeNCe's protocol: a meet-in-the-middle link
whose every attempt spends 1.5 classical round trips (memory pairing, NEGOTIATE and
NEGOTIATE_ACK) before its emission, i.e. one attempt per 4 L/c; repeaters that pair their
swap with both partners by one round trip before swapping and send the outcome straight to
the ends.  The project's ideal link layer (no handshakes, one attempt per L/c) is reported
beside it, so the size of that assumption stays visible.

From three links on, SeQUeNCe swaps sequentially and keeps pairs across failed swaps, a
protocol the analytic model does not cover; the Monte-Carlo simulator runs it
(``simulate_chain(swap_order="sequential")``) with the same parameters, and SeQUeNCe is
judged against that number (for one and two links the protocols coincide and the
analytic model is the reference).

Confidence intervals (95 %): the rate from batch means over ``RATE_BATCHES`` equal slices
of simulated time (Student t); the fidelity from the delivered pairs, which are i.i.d.
apart from sharing a memory register (normal theory).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from controller.bench.sequence_chain import SequenceChain, SequenceRun, mean_interval, run_chain
from qnum.physics import LinkParams, NodeParams, chain_performance
from simulators.montecarlo import simulate_chain

RATE_BATCHES: Final[int] = 20
#: Student t 0.975 quantile with RATE_BATCHES − 1 = 19 degrees of freedom.
T_975_19: Final[float] = 2.0930
Z_975: Final[float] = 1.959964
#: SeQUeNCe 0.8.5 single-heralded generation: pairing + NEGOTIATE/ACK before each emission.
SEQUENCE_HANDSHAKE_ROUND_TRIPS: Final[float] = 1.5
#: SeQUeNCe 0.8.5 swapping rule: a request/response with both partners before the swap.
SEQUENCE_SWAP_PAIRING_ROUND_TRIPS: Final[float] = 1.0
#: ... and SWAP_RES sent from the repeater to each partner directly.
SEQUENCE_SWAP_OUTCOME_ROUTE: Final = "direct"
#: Pairs sampled by the sequential-protocol Monte-Carlo (CI ≈ ±1 % on the rate).
SEQUENTIAL_MC_PAIRS: Final[int] = 20_000
RATE_TARGET: Final[float] = 0.10
FIDELITY_TARGET: Final[float] = 0.01


@dataclass(frozen=True)
class Prediction:
    """Analytic (synchronous swaps) and Monte-Carlo (SeQUeNCe's sequential protocol)."""

    rate_hz: float
    fidelity: float
    ideal_link_layer_rate_hz: float
    sequential_rate_hz: float
    sequential_fidelity: float
    n_links: int

    @property
    def matched_rate_hz(self) -> float:
        """The prediction under SeQUeNCe's own protocol (see module docstring)."""
        return self.sequential_rate_hz if self.n_links >= 3 else self.rate_hz

    @property
    def matched_fidelity(self) -> float:
        return self.sequential_fidelity if self.n_links >= 3 else self.fidelity


@dataclass(frozen=True)
class Comparison:
    chain: SequenceChain
    prediction: Prediction
    pairs: int
    rate_hz: float
    rate_half_width: float
    fidelity: float
    fidelity_half_width: float

    @property
    def rate_ratio(self) -> float:
        """Simulated / predicted rate (under SeQUeNCe's protocol)."""
        return self.rate_hz / self.prediction.matched_rate_hz

    @property
    def fidelity_difference(self) -> float:
        """Simulated − predicted mean fidelity (under SeQUeNCe's protocol)."""
        return self.fidelity - self.prediction.matched_fidelity

    @property
    def rate_met(self) -> bool:
        return abs(self.rate_ratio - 1.0) <= RATE_TARGET

    @property
    def fidelity_met(self) -> bool:
        return abs(self.fidelity_difference) <= FIDELITY_TARGET


def link_and_node(
    chain: SequenceChain, handshake_round_trips: float, swap_pairing_round_trips: float = 0.0
) -> tuple[LinkParams, NodeParams]:
    """The project's parameters of the chain's (identical) links and nodes."""
    link = LinkParams(
        chain.length_km,
        source_rate_hz=chain.source_rate_hz,
        attenuation_db_per_km=chain.attenuation_db_per_km,
        detector_efficiency=chain.detector_efficiency,
        link_fidelity=chain.link_fidelity,
        heralding="meet-in-the-middle",
        handshake_round_trips=handshake_round_trips,
    )
    node = NodeParams(
        chain.coherence_time_s,
        bsm_lambda=chain.bsm_lambda,
        swap_success_probability=chain.swap_success_probability,
        memory_efficiency=1.0,
        swap_pairing_round_trips=swap_pairing_round_trips,
        swap_outcome_route=(
            SEQUENCE_SWAP_OUTCOME_ROUTE if swap_pairing_round_trips else "along-chain"
        ),
    )
    return link, node


def predict(chain: SequenceChain, seed: int = 0) -> Prediction:
    """Raw (unpurified) delivered rate and mean fidelity from ``qnum.physics`` (SeQUeNCe's
    timing and, with the ideal link layer, the project's defaults) and from the
    sequential-protocol Monte-Carlo."""
    link, node = link_and_node(
        chain, SEQUENCE_HANDSHAKE_ROUND_TRIPS, SEQUENCE_SWAP_PAIRING_ROUND_TRIPS
    )
    links, repeaters = [link] * chain.n_links, [node] * (chain.n_links - 1)
    perf = chain_performance(links, repeaters, end_nodes=(node, node))
    ideal_link, ideal_node = link_and_node(chain, 0.0)
    ideal = chain_performance(
        [ideal_link] * chain.n_links,
        [ideal_node] * (chain.n_links - 1),
        end_nodes=(ideal_node, ideal_node),
    )
    sequential = simulate_chain(
        links, repeaters, end_nodes=(node, node), n_rounds=SEQUENTIAL_MC_PAIRS, seed=seed,
        swap_order="sequential",
    )
    return Prediction(
        perf.raw_rate_hz,
        perf.raw_fidelity,
        ideal.raw_rate_hz,
        sequential.raw_rate_hz,
        sequential.raw_fidelity,
        chain.n_links,
    )


def batch_rate(run: SequenceRun, batches: int = RATE_BATCHES) -> tuple[float, float]:
    """Pairs per second over the run and the 95 % half-width from batch means."""
    width = run.duration_s / batches
    counts = [0] * batches
    for t in run.times_s:
        counts[min(int(t / width), batches - 1)] += 1
    mean, half = mean_interval([c / width for c in counts], T_975_19)
    return mean, half


def compare(chain: SequenceChain, duration_s: float, seed: int = 0) -> Comparison:
    """Run SeQUeNCe for ``duration_s`` simulated seconds and set it against the model."""
    prediction = predict(chain, seed)
    run = run_chain(chain, duration_s, seed)
    rate, rate_half = batch_rate(run)
    fidelity, fidelity_half = mean_interval(run.fidelities, Z_975)
    return Comparison(
        chain, prediction, len(run.times_s), rate, rate_half, fidelity, fidelity_half
    )


def duration_for(chain: SequenceChain, target_pairs: int, max_duration_s: float) -> float:
    """Simulated time expected to deliver ``target_pairs`` pairs, capped."""
    link, node = link_and_node(
        chain, SEQUENCE_HANDSHAKE_ROUND_TRIPS, SEQUENCE_SWAP_PAIRING_ROUND_TRIPS
    )
    rate = chain_performance(
        [link] * chain.n_links, [node] * (chain.n_links - 1), end_nodes=(node, node)
    ).raw_rate_hz
    return min(max_duration_s, target_pairs / rate) if rate > 0 else max_duration_s


def with_coherence(chain: SequenceChain, coherence_time_s: float) -> SequenceChain:
    return replace(chain, coherence_time_s=coherence_time_s)
