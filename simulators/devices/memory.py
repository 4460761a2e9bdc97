"""The coherence-time probe of an emulated memory node (repeater, end node).

A real node cannot read its memories' T2 off a data sheet once they age, warm up or lose
their magnetic shielding: it measures it.  The emulated node does what such a device does
between uses of a spare register: every PROBE_PERIOD_S it runs a spin-echo Ramsey sequence
— prepare |+⟩, wait τ, refocus, measure in the X basis — at delays from 1/32 to 2 times
the expected T2 (its last measurement; at first the configured one), SHOTS shots each.
Under either memory model qnum uses (qnum/README.md, "Memory decoherence": depolarising or
dephasing, both shrink the equatorial Bloch component as e^(−τ/T2)) the fringe decays
alike, so P(+) = (1 + e^(−τ/T2))/2 and the fringe contrast
c = 2P(+) − 1 = e^(−τ/T2).  The estimate is the weighted least-squares slope of −ln ĉ
against τ through the origin, weights the inverse variance of ln ĉ (binomial:
Var ĉ = (1 − c²)/N), over the delays whose contrast is measurable (MIN_CONTRAST < ĉ <
MAX_CONTRAST, up to the first delay where it is lost).  When none is, the delays were far
off: they move by RESCALE towards the decay and the sequence runs again.

So what the device reports is an estimate with the shot noise of a real measurement (a few
per cent), drawn from the device's seeded random stream, never the emulator's truth.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from simulators.devices.base import seconds

#: Simulated seconds between two probes (a probe interleaves with link generation).
PROBE_PERIOD_S = 5.0
#: Shots per delay.
SHOTS = 1000
#: Delays as fractions of the expected T2: 1/32 … 2.
DELAY_FRACTIONS = 2.0 ** np.arange(-5, 2)
#: Contrasts too close to 1 (no visible decay) or 0 (lost in shot noise) say nothing.
MIN_CONTRAST = 0.15
MAX_CONTRAST = 0.95
#: Factor the delays move by when no contrast was measurable, and how often they may.
RESCALE = 16.0
MAX_RESCALES = 6


def ramsey_estimate(rng: np.random.Generator, true_t2: float, expected_t2: float,
                    shots: int = SHOTS) -> float | None:
    """T2 estimated from simulated Ramsey fringes (module docstring); None when no delay
    within MAX_RESCALES rescalings showed a measurable decay."""
    scale = expected_t2
    for _ in range(MAX_RESCALES + 1):
        delays = scale * DELAY_FRACTIONS
        plus = rng.binomial(shots, 0.5 * (1.0 + np.exp(-delays / true_t2)))
        contrast = 2.0 * plus / shots - 1.0
        # the fringe up to where it is lost: a later delay reading above MIN_CONTRAST is
        # shot noise, and its long τ would weigh heavily in the fit
        lost = np.flatnonzero(contrast <= MIN_CONTRAST)
        usable = contrast < MAX_CONTRAST
        usable[lost[0] if lost.size else len(contrast):] = False
        if usable.any():
            c, tau = contrast[usable], delays[usable]
            weight = shots * c**2 / (1.0 - c**2)
            slope = float(np.sum(weight * tau * -np.log(c)) / np.sum(weight * tau**2))
            return 1.0 / slope
        # every fringe gone: T2 is far shorter than expected; none decayed: far longer
        scale = scale / RESCALE if contrast[0] <= MIN_CONTRAST else scale * RESCALE
    return None


class CoherenceProbe:
    """The periodic T2 measurement of one node's memories and its last result."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.measured: float | None = None
        self.measured_at: float | None = None

    def step(self, now: float, true_t2: float | None, rated_t2: float | None) -> None:
        """Probe again if PROBE_PERIOD_S passed since the last probe (the first tick
        probes at once).  ``true_t2``: the memories' coherence time now (None: no memory);
        ``rated_t2``: what the device expects, where the first probe looks."""
        if true_t2 is None or math.isinf(true_t2):
            self.measured = self.measured_at = None
            return
        if self.measured_at is not None and now - self.measured_at < PROBE_PERIOD_S - 1e-9:
            return
        expected = self.measured or rated_t2 or true_t2
        self.measured = ramsey_estimate(self.rng, true_t2, expected)   # None: unmeasurable
        self.measured_at = now

    def leaves(self, iso: Callable[[float], str]) -> dict[str, Any]:
        """The sdqn-device-common memory leaves of the last probe (RFC 7951); none before
        the first probe or when it measured nothing."""
        if self.measured is None or self.measured_at is None:
            return {}
        return {"measured-coherence-time": seconds(self.measured),
                "coherence-last-measured": iso(self.measured_at)}
