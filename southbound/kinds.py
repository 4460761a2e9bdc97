"""The device kinds the controller manages: one declarative row per kind.

A device kind is an ``sdqn-types:device-kind`` identity whose devices are configured
through a YANG module of their own. This table is the single place that names them; each
layer attaches its part of a kind to the row by the kind's name:

* the service layer its renderer (plan → device configuration):
  ``controller.service.render.renders``;
* the simulators its emulator (a ``simulators.devices.base.DeviceModel`` subclass);
* adapters (this SDK and third parties) read the YANG module to diff and validate a
  device's configuration with, and the adapter a device uses when its topology entry
  names none.

A row also states the kind's `Capabilities` beyond its YANG module (its detector inventory,
the purification it can run): the renderer refuses a plan asking more, and the emulator is
built to the same row.

Adding a kind is a row here, its YANG module (and identity in ``sdqn-types``), its renderer
and its emulator; ``tests/southbound/test_kinds.py`` checks that every row has all four.
The module stays importable on its own (stdlib only): vendors and every layer above the
SDK read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = ["DEVICE_KINDS", "TYPES_MODULE", "Capabilities", "DeviceKindSpec", "PlantRole",
           "kind_of_module", "kind_spec"]

#: The module every device configuration uses identities of (RFC 7950 §7.18: identityref
#: values need their module implemented, so it is part of every device's schema).
TYPES_MODULE = "sdqn-types"


class PlantRole(StrEnum):
    """Where a kind sits in the optical plant, which decides how generic code treats it
    (route hops, links shown, whether a route needs it managed)."""

    #: Holds qubits: terminates and swaps elementary links (end node, repeater).
    MEMORY = "memory"
    #: Switches light through without memory: not a hop of an entanglement path.
    TRANSPARENT = "transparent"
    #: Sits on one fibre (sdqn-topology: a link attribute, never a link end).
    INLINE = "inline"


@dataclass(frozen=True)
class Capabilities:
    """What devices of a kind can do for a plan, beyond what their YANG module can say.

    The renderer refuses a plan that asks more of a device than its kind can do, instead
    of pushing a configuration the device would silently not honour. The emulator of the
    kind is built to the same row, so emulated and rendered hardware agree.
    """

    #: The detector inventory every device of the kind ships with (detector-id): a full
    #: configuration keeps it, and application endpoints measure with these detectors.
    detectors: tuple[str, ...] = ()
    #: Purification protocols the kind runs end to end on its application endpoints, and
    #: the most rounds it can run (registers aside, which its YANG ``must``s check).
    purification_protocols: tuple[str, ...] = ()
    max_purification_rounds: int = 0
    #: Whether devices of the kind can swap for flows crossing them (be an inner hop of a
    #: route). A repeater always does; an end node only with its module's ``relay`` feature,
    #: which the kind's devices have, and only where the topology sets the node's ``relay``
    #: (the operator's statement that this node has the registers and the BSM for it).
    relays: bool = False
    #: The most per-link purification rounds the kind runs with its neighbour on the
    #: elementary link attached to it (same protocols).
    max_link_purification_rounds: int = 0


@dataclass(frozen=True)
class DeviceKindSpec:
    """One managed device kind."""

    name: str              # the sdqn-types device-kind identity (without prefix)
    module: str            # YANG module holding the device's configuration and state
    top: str               # the module's top container
    role: PlantRole
    default_adapter: str = "netconf"  # when the topology's management names no adapter
    capabilities: Capabilities = Capabilities()

    @property
    def namespace(self) -> str:
        """XML namespace of the module (every sdqn module is ``urn:sdqn:<name>``)."""
        return f"urn:sdqn:{self.module}"

    @property
    def qname(self) -> str:
        """RFC 7951 member name of the top container (``module:top``)."""
        return f"{self.module}:{self.top}"

    @property
    def diff_modules(self) -> tuple[str, ...]:
        """Modules a schema needs to diff and validate this kind's configuration."""
        return (TYPES_MODULE, self.module)


_ROWS = (
    DeviceKindSpec("end-node", "sdqn-end-node", "end-node", PlantRole.MEMORY,
                   capabilities=Capabilities(detectors=("d1", "d2"),
                                             purification_protocols=("bbpssw", "dejmps"),
                                             max_purification_rounds=3,
                                             max_link_purification_rounds=3,
                                             relays=True)),
    DeviceKindSpec("repeater", "sdqn-repeater", "repeater", PlantRole.MEMORY,
                   capabilities=Capabilities(relays=True)),
    DeviceKindSpec("apc", "sdqn-apc", "apc", PlantRole.INLINE),
    DeviceKindSpec("q-roadm", "sdqn-qroadm", "q-roadm", PlantRole.TRANSPARENT),
)

#: Every managed kind by name, in table order.
DEVICE_KINDS: Mapping[str, DeviceKindSpec] = MappingProxyType({k.name: k for k in _ROWS})


def kind_spec(name: str) -> DeviceKindSpec | None:
    """The row of a kind; None for kinds that are parts of devices (source, detector)."""
    return DEVICE_KINDS.get(name)


def kind_of_module(module: str) -> DeviceKindSpec | None:
    """The kind whose configuration lives in `module`, if any."""
    return next((k for k in DEVICE_KINDS.values() if k.module == module), None)
