"""Measured fibre loss, from the repeaters' heralding counters.

No device reports a fibre's optical loss, but every repeater counts, per fibre it
generates on, the attempts it made and the heralded successes (sdqn-repeater
`link-generation/link/state` attempts, successes). Over a window their ratio is the
attempt success probability, and qnum's heralding model (qnum/physics/link.py) turns it
back into the channel's loss given the fibre's configured detector efficiency, heralding
scheme and the entry's multiplexing: the way QKD systems estimate channel transmittance
from their detection counts. So the figure is measured, not the configured
attenuation × length: a fibre that degrades (a bend, a bad splice) or detectors that
lose efficiency show as a higher loss.

Only an entry on a direct fibre (named after the fibre) measures that fibre; an entry
through q-ROADMs (`fibre>neighbour`) spans several fibres and the q-ROADMs' insertion
losses, so it is not used. A window closes once it holds `min_heralds` successes (the
relative error of the ratio is about 1/√heralds: 100 heralds give ±0.43 dB at 1σ); a
fibre whose window is still open keeps its previous figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from qnum.io import Network
from qnum.physics import channel_loss_db

REPEATER = "urn:sdqn:sdqn-repeater"
MIN_HERALDS = 100


@dataclass(frozen=True)
class _Counts:
    attempts: int
    successes: int


def _entries(xml: str) -> list[tuple[str, int | None, _Counts]]:
    """(link-id, multiplexing-modes, counters) of every generation entry of a repeater."""
    root = etree.fromstring(f"<data>{xml}</data>".encode())
    out = []
    for link in root.iter(f"{{{REPEATER}}}link"):
        link_id = link.findtext(f"{{{REPEATER}}}link-id")
        attempts = link.findtext(f"{{{REPEATER}}}state/{{{REPEATER}}}attempts")
        successes = link.findtext(f"{{{REPEATER}}}state/{{{REPEATER}}}successes")
        if link_id is None or attempts is None or successes is None:
            continue
        modes = link.findtext(f"{{{REPEATER}}}multiplexing-modes")
        out.append((link_id, int(modes) if modes is not None else None,
                    _Counts(int(attempts), int(successes))))
    return out


class LossEstimator:
    """Keeps each entry's counters at the start of its open window, across rounds."""

    def __init__(self, min_heralds: int = MIN_HERALDS) -> None:
        self.min_heralds = min_heralds
        self._start: dict[tuple[str, str], _Counts] = {}

    def update(self, network: Network, readings: Mapping[str, str]) -> dict[str, float]:
        """Loss in dB of every direct fibre whose window closed with this round."""
        eta_sum: dict[str, float] = {}
        weight: dict[str, int] = {}
        for node, xml in readings.items():
            for link_id, modes, now in _entries(xml):
                link = network.links.get(link_id)
                if link is None:          # a span through q-ROADMs, or not ours
                    continue
                key = (node, link_id)
                start = self._start.setdefault(key, _Counts(0, 0))
                if now.attempts < start.attempts or now.successes < start.successes:
                    start = _Counts(0, 0)       # the device restarted: counters from 0
                    self._start[key] = start
                attempts = now.attempts - start.attempts
                heralds = now.successes - start.successes
                if heralds < self.min_heralds or heralds >= attempts:
                    continue
                self._start[key] = now
                loss = channel_loss_db(heralds / attempts, heralding=link.heralding.value,
                                       detector_efficiency=link.detector_efficiency,
                                       modes=modes or link.modes)
                # Both ends may measure the fibre: average their transmissivities,
                # weighted by the heralds each window holds.
                eta_sum[link_id] = eta_sum.get(link_id, 0.0) + heralds * 10 ** (-loss / 10)
                weight[link_id] = weight.get(link_id, 0) + heralds
        return {link_id: -10.0 * math.log10(eta_sum[link_id] / weight[link_id])
                for link_id in eta_sum}
