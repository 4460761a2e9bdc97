"""What a flow delivers to its two endpoints: one random draw shared by both ends.

A delivered pair reaches both end nodes of a flow at once, and purification is a
two-party protocol whose outcome both ends learn (they compare their measurements).  So
what a flow delivers in an interval — raw pairs from the chain, which purification rounds
kept a pair, which delivered pairs carry a bit error — is drawn once per interval
(`JointDelivery.draw`) and read by both endpoints; each endpoint then applies only what
is local to it (its detectors).  Drawing at each end separately would give the two ends
different counts for the same pairs, and any comparison of the two (the controller takes
the smaller) would be biased low.

Purification (qnum/README.md, "Purification"; :func:`qnum.physics.iterate`): round k
pairs up its input pairs and keeps one of each two with the protocol's success
probability p_k.  A pair left without a partner in an interval waits for the next one
(as in the chain model, it does not decohere meanwhile), so over time one output costs
Π_k 2/p_k raw pairs on average — exactly ``ChainPerformance.pairs_per_output``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FlowOffer:
    """What a flow's chain yields in expectation (the parameters of one draw)."""

    raw_rate_hz: float                 # end-to-end pairs/s before purification
    round_success: tuple[float, ...]   # p_k of each purification round, in order
    qber: float                        # bit-error probability of a delivered pair


@dataclass(frozen=True)
class JointDraw:
    """One interval of a flow, as both endpoints see it."""

    raw_pairs: int
    delivered: int
    errors: int                                 # delivered pairs with a bit error
    purification: tuple[tuple[int, int], ...]   # (attempts, successes) per round


class JointDelivery:
    """The pair process of one flow between two end nodes (seeded, shared by both)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._carry: list[int] = []   # an unpaired pair waiting at each round's input
        self._last: tuple[tuple[float, float], JointDraw] | None = None
        self._lock = threading.Lock()

    def draw(self, interval: tuple[float, float], offer: FlowOffer) -> JointDraw:
        """The flow's pairs over ``interval`` (start, end) in simulated seconds.

        The first endpoint to ask for an interval draws it from ``offer``; the other end
        asking for the same interval gets the same draw.
        """
        with self._lock:
            if self._last is not None and self._last[0] == interval:
                return self._last[1]
            result = self._draw(max(0.0, interval[1] - interval[0]), offer)
            self._last = (interval, result)
            return result

    def _draw(self, dt: float, offer: FlowOffer) -> JointDraw:
        mean = offer.raw_rate_hz * dt
        raw = int(self.rng.poisson(mean)) if mean > 0 else 0
        if len(self._carry) != len(offer.round_success):
            self._carry = [0] * len(offer.round_success)   # the purification changed
        pairs = raw
        rounds: list[tuple[int, int]] = []
        for k, p in enumerate(offer.round_success):
            waiting = pairs + self._carry[k]
            attempts, self._carry[k] = divmod(waiting, 2)
            pairs = int(self.rng.binomial(attempts, p)) if attempts else 0
            rounds.append((attempts, pairs))
        errors = int(self.rng.binomial(pairs, offer.qber)) if pairs and offer.qber > 0 else 0
        return JointDraw(raw, pairs, errors, tuple(rounds))
