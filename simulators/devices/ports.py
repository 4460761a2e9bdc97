"""Loss-of-signal supervision of the fibres that end on a device (sdqn-device-common
``fibre-ports``).

A port's monitor needs no configuration: it watches the classical timing channel that
shares each fibre, so a cut of a fibre no service uses is visible too, and so is its
repair. Without it a cut spare fibre goes unnoticed until a plan puts a service on it, and
a repaired fibre nothing generates on stays "cut" in the controller's view.
"""

from __future__ import annotations

from typing import Any

from simulators.clock import Clock
from simulators.devices.world import World

Json = dict[str, Any]

PRESENT = "present"
LOSS_OF_LIGHT = "loss-of-light"
PEER_UNREACHABLE = "peer-unreachable"


class FibrePorts:
    """The signal each attached fibre carries now, and since when."""

    def __init__(self, node_id: str, world: World, clock: Clock) -> None:
        self.node_id = node_id
        self.world = world
        self.clock = clock
        self._since: dict[str, tuple[str, float]] = {}     # link-id → (signal, since)

    def signal(self, link_id: str) -> str:
        link = self.world.topology.links[link_id]
        if not self.world.fibre_ok(link):
            return LOSS_OF_LIGHT
        if not self.world.node_up(link.other(self.node_id)):
            return PEER_UNREACHABLE
        return PRESENT

    def state(self, now: float) -> Json:
        """The ``fibre-ports`` container (RFC 7951)."""
        ports = []
        for link in sorted(self.world.topology.links_of(self.node_id),
                           key=lambda link: link.link_id):
            signal = self.signal(link.link_id)
            last = self._since.get(link.link_id)
            if last is None or last[0] != signal:
                last = self._since[link.link_id] = (signal, now)
            ports.append({"link-id": link.link_id, "neighbour": link.other(self.node_id),
                          "signal": signal, "last-change": self.clock.iso(last[1])})
        return {"port": ports}
