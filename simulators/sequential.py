"""Monte-Carlo of a chain that swaps sequentially and keeps pairs across failed swaps.

SeQUeNCe's repeater chains (and on-demand link layers generally) do not run synchronous
rounds: each repeater swaps in the order of ``qnum.physics.swap_timing.sequence_swap_plan``
as soon as it holds pairs to both of its partners and has paired with them
(``swap_pairing_round_trips``); a failed swap frees only the two pairs it consumed, whose
links start again once their memories are free, while pairs elsewhere in the chain keep
waiting (and decohering) in memory.  This protocol has no closed form here, so it is
sampled event by event (one Python call per swap attempt; a few seconds for 10⁴ pairs).

Every memory is one qubit per side of a node (one at an end node, two at a repeater), as in
``controller.bench.sequence_chain``.  A pair's Werner parameter decays with the sum of the
rates of the two memories holding it (depolarising memories); a successful swap at time S
gives w = λ·w_left(S)·w_right(S); the delivered pair decays further at each end until that
end knows the whole Pauli frame (route as in ``qnum.physics.swap_timing``).  The next
delivery starts from the memories' free times: a repeater's at its swap, an end's when it
knows the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qnum.physics.chain import ChainSetup
from qnum.physics.swap_timing import (
    SwapStep,
    outcome_delivery_s,
    pairing_delay_s,
    sequence_swap_plan,
)

FloatArray = npt.NDArray[np.float64]

_LEFT, _RIGHT = 0, 1


@dataclass(frozen=True)
class _Pair:
    """A pair between nodes l < r: Werner parameter at ``made_s``, when each end knows of
    it (ready) and when each end knows its whole Pauli frame."""

    werner: float
    made_s: float
    ready_s: tuple[float, float]
    frame_s: tuple[float, float]


class _Chain:
    def __init__(self, setup: ChainSetup, rng: np.random.Generator) -> None:
        self.setup = setup
        self.rng = rng
        n = setup.n_links
        self.steps: dict[tuple[int, int], SwapStep] = {
            (s.left, s.right): s for s in sequence_swap_plan(n)
        }
        self.free = np.zeros((n + 1, 2))  # (node, side) → time the memory is free
        self.x = setup.swap_timing.positions_s

    def _decay(self, pair: _Pair, left: int, right: int, t: float) -> float:
        g = self.setup.node_decay_rate
        return pair.werner * math.exp(-(g[left] + g[right]) * (t - pair.made_s))

    def _link(self, i: int) -> _Pair:
        s = self.setup
        start = max(self.free[i, _RIGHT], self.free[i + 1, _LEFT])
        herald = start + int(self.rng.geometric(s.attempt_probability[i])) * s.slot_s[i]
        beta = s.node_decay_rate[i] + s.node_decay_rate[i + 1]
        werner = s.link_werner[i] * math.exp(-beta * s.herald_s[i])
        return _Pair(werner, herald, (herald, herald), (herald, herald))

    def produce(self, left: int, right: int) -> _Pair:
        """Sample until a pair between ``left`` and ``right`` exists; update free times."""
        if right == left + 1:
            return self._link(left)
        step = self.steps[(left, right)]
        j = step.node
        timing = self.setup.swap_timing
        a = self.produce(left, j)
        b = self.produce(j, right)
        while True:
            ready = max(a.ready_s[1], b.ready_s[0])
            rts = timing.pairing_round_trips[j - 1]
            swap = ready + pairing_delay_s(self.x, j, left, right, rts)
            self.free[j, :] = swap
            to_left, to_right = self.x[j] - self.x[left], self.x[right] - self.x[j]
            index = j - 1
            if self.rng.random() < self.setup.swap_probability[index]:
                werner = (
                    self.setup.bsm_lambdas[index]
                    * self._decay(a, left, j, swap)
                    * self._decay(b, j, right, swap)
                )
                route = timing.routes[index]
                frame = (
                    max(a.frame_s[0], swap + outcome_delivery_s(self.x, j, left, route)),
                    max(b.frame_s[1], swap + outcome_delivery_s(self.x, j, right, route)),
                )
                return _Pair(werner, swap, (swap + to_left, swap + to_right), frame)
            # Failure: both pairs are gone; their outer memories are free once told.
            self.free[left, _RIGHT] = swap + to_left
            self.free[right, _LEFT] = swap + to_right
            a = self.produce(left, j)
            b = self.produce(j, right)

    def deliver(self) -> tuple[float, float]:
        """One end-to-end pair: (time both ends know it, Werner parameter then)."""
        n = self.setup.n_links
        pair = self.produce(0, n)
        g = self.setup.node_decay_rate
        t0, tn = pair.frame_s
        werner = pair.werner * math.exp(
            -g[0] * (t0 - pair.made_s) - g[n] * (tn - pair.made_s)
        )
        self.free[0, _RIGHT], self.free[n, _LEFT] = t0, tn
        return max(t0, tn), werner


def sample_sequential(
    setup: ChainSetup, n_pairs: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Delivery times and Werner parameters of ``n_pairs`` successive delivered pairs
    (before end read-out losses, which the caller applies)."""
    chain = _Chain(setup, rng)
    times = np.empty(n_pairs)
    werner = np.empty(n_pairs)
    for k in range(n_pairs):
        times[k], werner[k] = chain.deliver()
    return times, werner
