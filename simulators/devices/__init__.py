"""Emulated quantum network devices, each served by a real NETCONF server.

Topology device kinds map to YANG modules and physics models here; `runtime` binds a
model to an NMDA store and a NETCONF server, `world` holds the plant they share.
"""

from __future__ import annotations

from typing import Final

from simulators.devices.apc import Apc
from simulators.devices.base import DeviceModel, Health, Notification
from simulators.devices.endnode import EndNode
from simulators.devices.qroadm import QRoadm
from simulators.devices.repeater import Repeater
from simulators.devices.world import PhysLink, PhysNode, Span, Topology, World

#: topology device-kind -> model class (its ``module`` is the YANG module it serves).
MODELS: Final[dict[str, type[DeviceModel]]] = {
    m.kind: m for m in (EndNode, Repeater, Apc, QRoadm)
}

__all__ = [
    "MODELS",
    "Apc",
    "DeviceModel",
    "EndNode",
    "Health",
    "Notification",
    "PhysLink",
    "PhysNode",
    "QRoadm",
    "Repeater",
    "Span",
    "Topology",
    "World",
]
