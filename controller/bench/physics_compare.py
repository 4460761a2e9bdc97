"""Predicted (chain model) versus simulated (SeQUeNCe) rate and fidelity of one chain.

The chain model is given the timing of SeQUeNCe's link layer: a meet-in-the-middle link
whose every attempt spends 1.5 classical round trips (memory pairing, NEGOTIATE and
NEGOTIATE_ACK) before its emission, i.e. one attempt per 4 L/c.  The project's ideal
link layer (no handshakes, one attempt per L/c) is reported beside it, so the size of that
assumption stays visible.

Confidence intervals (95 %): the rate from batch means over ``RATE_BATCHES`` equal slices
of simulated time (Student t); the fidelity from the delivered pairs, which are i.i.d.
apart from sharing a memory register (normal theory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

from controller.bench.sequence_chain import SequenceChain, SequenceRun, mean_interval, run_chain
from qnum.physics import LinkParams, NodeParams, chain_performance

RATE_BATCHES: Final[int] = 20
#: Student t 0.975 quantile with RATE_BATCHES − 1 = 19 degrees of freedom.
T_975_19: Final[float] = 2.0930
Z_975: Final[float] = 1.959964
#: SeQUeNCe 0.8.5 single-heralded generation: pairing + NEGOTIATE/ACK before each emission.
SEQUENCE_HANDSHAKE_ROUND_TRIPS: Final[float] = 1.5
RATE_TARGET: Final[float] = 0.10
FIDELITY_TARGET: Final[float] = 0.01


@dataclass(frozen=True)
class Prediction:
    rate_hz: float
    fidelity: float
    ideal_link_layer_rate_hz: float


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
        """Simulated / predicted rate."""
        return self.rate_hz / self.prediction.rate_hz

    @property
    def fidelity_difference(self) -> float:
        """Simulated − predicted mean fidelity."""
        return self.fidelity - self.prediction.fidelity

    @property
    def rate_met(self) -> bool:
        return abs(self.rate_ratio - 1.0) <= RATE_TARGET

    @property
    def fidelity_met(self) -> bool:
        return abs(self.fidelity_difference) <= FIDELITY_TARGET


def link_and_node(
    chain: SequenceChain, handshake_round_trips: float
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
    )
    return link, node


def predict(chain: SequenceChain) -> Prediction:
    """Raw (unpurified) delivered rate and mean fidelity from ``qnum.physics``."""
    rates = []
    fidelity = math.nan
    for handshakes in (SEQUENCE_HANDSHAKE_ROUND_TRIPS, 0.0):
        link, node = link_and_node(chain, handshakes)
        perf = chain_performance(
            [link] * chain.n_links, [node] * (chain.n_links - 1), end_nodes=(node, node)
        )
        rates.append(perf.raw_rate_hz)
        if handshakes:
            fidelity = perf.raw_fidelity
    return Prediction(rates[0], fidelity, rates[1])


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
    prediction = predict(chain)
    run = run_chain(chain, duration_s, seed)
    rate, rate_half = batch_rate(run)
    fidelity, fidelity_half = mean_interval(run.fidelities, Z_975)
    return Comparison(
        chain, prediction, len(run.times_s), rate, rate_half, fidelity, fidelity_half
    )


def duration_for(chain: SequenceChain, target_pairs: int, max_duration_s: float) -> float:
    """Simulated time expected to deliver ``target_pairs`` pairs, capped."""
    rate = predict(chain).rate_hz
    return min(max_duration_s, target_pairs / rate) if rate > 0 else max_duration_s


def with_coherence(chain: SequenceChain, coherence_time_s: float) -> SequenceChain:
    return replace(chain, coherence_time_s=coherence_time_s)
