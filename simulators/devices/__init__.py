"""Emulated quantum network devices, each served by a real NETCONF server.

One physics model per device kind of ``southbound.kinds`` (importing this package
registers each in `MODELS`, keyed by kind); `runtime` binds a model to an NMDA store and a
NETCONF server, `world` holds the plant they share.
"""

from __future__ import annotations

from simulators.devices.apc import Apc
from simulators.devices.base import MODELS, DeviceModel, Health, Notification
from simulators.devices.endnode import EndNode
from simulators.devices.qroadm import QRoadm
from simulators.devices.repeater import Repeater
from simulators.devices.world import PhysLink, PhysNode, Span, Topology, World

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
