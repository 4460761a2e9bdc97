"""Render a Q-NUM plan as each managed device's full configuration (RFC 7951 JSON).

The expansion (:mod:`controller.service.expansion`) writes these documents into
<intended> (RFC 8342 §5.1.4) and pushes them, as YANG XML, to the devices with a
*replace*: so every document is the device's whole configuration in its own module —
identity and hardware facts from the topology plus what the admitted requests need.
A device no admitted request uses gets only that base (pump off, no flows, no
cross-connects), which is how a withdrawn service's resources are released.
The plan is first checked by :func:`qnum.schedule.build_schedule` (coherence budget,
TDMA slots, memory), so a plan that could not run is refused before any device is.

Mapping (why each choice, where the device models leave room):

* Repeater: one ``flow`` per admitted request whose route swaps at it, joining the two
  fibres of the route attached to it (``neighbour-links``), with the plan's memory slots
  and cut-off (rounded down: it bounds storage).  The plan swaps when every elementary link
  holds a pair; ``swap-asap`` measures the repeater's halves no later, so they decohere
  no more and the delivered fidelity is at least the plan's.  The flow's
  ``purification-rounds`` and ``purification-protocol`` are the plan's *per-link* rounds
  (each side's link purified before the swap; end-to-end rounds are the end nodes'), and
  its memory slots 2·(r_L + 1), r_L + 1 per side (the sdqn-repeater ``must`` asks for at
  least 4 when it purifies).  ``link-generation`` has one entry per attached fibre and
  far-end memory node a flow uses (through transparent q-ROADMs one fibre may serve
  several), at the fibre's full source rate (the TDMA share is a slot
  schedule the module has no leaf for), a herald timeout no shorter than the heralding
  latency, and at most the registers its flows reserve on that side.
* End node that relays (topology ``relay``; its kind's ``Capabilities.relays``): for each
  admitted request whose route crosses it, the repeater's flow and link-generation entries
  above, under its ``relay`` container (sdqn-end-node feature ``relay``), with its swap
  physics; absent when no route crosses it.  A plan relaying through a node whose kind
  cannot, or through an end node the topology does not let relay, is refused.
* End node: source pump on while it terminates an admitted request, at the repetition
  rate of its elementary links and on the wavelength its lightpaths use; its detector
  inventory (the kind's factory detectors, ``southbound.kinds``) always, so a replace never
  deletes hardware; one ``application-endpoint`` per request end with what the plan
  configures for the flow: its role (source or destination end of the request), memory
  slots, the end-to-end purification (rounds, protocol), the per-link rounds it runs on
  its attached link (``link-purification-rounds``),
  the granted time share s of the path's attempt slots, the planned rate as
  ``target-rate`` (the plan's rate is min(r_c·s, demand), so the endpoints stop at it),
  the round cut-off, and the detectors it measures with (all of the node's).  A plan that
  asks an end node for more purification than its kind can run, or for an application on
  a kind without detectors, is refused.
* q-ROADM (circuit): per elementary link through it a quantum cross-connect with
  amplifier bypass and a timing cross-connect on the same ports (sdqn-qroadm ``must``s:
  timing follows the qubits' fibre path) on the fibres' timing-channel wavelength.  A side
  facing a memory node uses an add/drop port of its own (naming that node and the fibre to
  it), a side facing another q-ROADM the line degree of the fibre — exactly the ports
  :mod:`qnum.candidates` counts.  Channels
  lie on the ITU-T G.694.1 100 GHz grid and are identical on every q-ROADM of a lightpath
  (no wavelength conversion); an end node has one source, so every lightpath reaching it
  uses its wavelength (preferably the one the topology gives its fibre).
  Packet mode: one route per elementary-link end through it.
* Slices (:mod:`controller.service.partitions`): on a repeater or end node where a
  dedicated slice reserves memory or an attached fibre's time, a ``slice-partition`` with
  concrete registers (packed from register 0 in slice-name order) and fibre time shares;
  the slice's admitted members' flows and endpoints there name it (an endpoint also its
  ``attached-link``), so the device keeps other flows out of its registers.  A member
  that does not fit its partition is refused, naming slice and device.  Shared slices
  get no partition.
* APC: identity, the fibre it compensates, hourly calibration preferably in idle windows
  (controller/README.md, "Operational facts"), and a tracking tolerance no looser than the
  tightest service on the fibre can absorb (:func:`misalignment_budget`).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

import structlog

from controller.datastore.schema import Schema
from controller.datastore.tree import Forest
from controller.errors import NetconfError
from controller.service.partitions import Partition, PartitionError, partitions
from qnum.candidates import Segment
from qnum.io import DeviceKind, Link, Network, Node, QRoadm, SwitchingMode
from qnum.physics import heralding_latency_s, qber_from_fidelity
from qnum.plan import Assignment, Plan
from qnum.schedule import ScheduleError, build_schedule
from qnum.slices import Slicing
from southbound.kinds import Capabilities, PlantRole, kind_of_module, kind_spec

log = structlog.get_logger(__name__)

Json = dict[str, Any]

#: sdqn-repeater heralding-timeout default; longer heralds get their own timeout.
DEFAULT_HERALDING_TIMEOUT_S = 0.001
#: ITU-T G.694.1 100 GHz DWDM grid; channel-id n sits at 193.4 + 0.1·(n − 1) THz, so
#: channel 1 is 1550.12 nm, the sdqn-end-node default signal wavelength.
GRID_ANCHOR_THZ, GRID_SPACING_THZ = 193.4, 0.1
#: Topology wavelengths are quoted to 0.01 nm: closer than this is the same grid channel.
GRID_MATCH_NM = 0.01
C_VACUUM_NM_THZ = 299_792.458
#: sdqn-topology timing-channel defaults (wavelength, same fibre as the qubits).
DEFAULT_TIMING_NM, DEFAULT_TIMING_SAME_FIBRE = 1310.0, True
MAX_CHANNEL_ID = 65_535                     # channel-id is a uint16
#: sdqn-apc tracking-tolerance default: derived tolerances never exceed it (a looser spec
#: would hide a drifting compensator).
APC_DEFAULT_TOLERANCE_RAD = 0.1
#: APC base settings (hourly calibration in idle windows: controller/README.md,
#: "Operational facts").
APC_BASE: Mapping[str, Any] = {
    "calibration-interval": "3600.0", "prefer-idle-windows": True, "max-deferral": "600.0",
    "target-bases": ["diagonal", "rectilinear"], "tracking-enabled": True,
}


class RenderError(ValueError):
    """The plan cannot be expressed in the devices' configuration models."""


#: One side of a lightpath's hop through a q-ROADM: (attached node, its fibre) for an
#: add/drop port, ("degree", fibre) for a line degree.
HopSide = tuple[str, str]
#: A lightpath's hop through a q-ROADM: (flow, source side, destination side).
Hop = tuple[str, HopSide, HopSide]


@dataclass(frozen=True)
class CommittedCircuit:
    """What a q-ROADM's committed configuration switches: the hops of its quantum
    cross-connects and the add/drop ports its cross-connects use."""

    hops: frozenset[Hop] = frozenset()
    in_use: frozenset[int] = frozenset()


def dec(value: float, digits: int, rounding: str = ROUND_HALF_EVEN) -> str:
    """decimal64 as an RFC 7951 string (§6.1) in libyang's canonical form (so a rendered
    document reads back unchanged), at most ``digits`` fraction digits; ``rounding`` lets
    bounds round the safe way (a cut-off down, a timeout up)."""
    if not math.isfinite(value):
        raise RenderError(f"{value} is not a decimal64 value")
    quantum = Decimal(1).scaleb(-digits)
    text = f"{Decimal(repr(float(value))).quantize(quantum, rounding=rounding):f}"
    if "." in text:
        text = text.rstrip("0")
        text = text + "0" if text.endswith(".") else text
    return "0.0" if text.lstrip("-") in ("0", "0.0") else text


def grid_nm(channel: int) -> float:
    return C_VACUUM_NM_THZ / (GRID_ANCHOR_THZ + GRID_SPACING_THZ * (channel - 1))


def wavelength_text(nm: float) -> str:
    """A wavelength leaf: grid channels as ITU-T G.694.1 quotes them (0.01 nm, e.g.
    1550.12), anything else at the type's 0.001 nm."""
    channel = grid_channel(nm)
    return dec(grid_nm(channel), 2) if channel is not None else dec(nm, 3)


def grid_channel(wavelength_nm: float | None) -> int | None:
    """Grid channel-id of a topology wavelength; None when it is off the grid."""
    if wavelength_nm is None:
        return None
    n = round((C_VACUUM_NM_THZ / wavelength_nm - GRID_ANCHOR_THZ) / GRID_SPACING_THZ) + 1
    return n if n >= 1 and abs(grid_nm(n) - wavelength_nm) <= GRID_MATCH_NM else None


def timing_channel(link: Link) -> tuple[float, bool]:
    """(wavelength nm, same fibre) of a fibre's sdqn-topology ``timing-channel``.

    Read from ``Link.timing_wavelength_nm`` / ``Link.timing_same_fibre`` where qnum.io
    provides them; the YANG defaults apply otherwise.
    """
    nm = getattr(link, "timing_wavelength_nm", None)
    same = getattr(link, "timing_same_fibre", None)
    return (DEFAULT_TIMING_NM if nm is None else float(nm),
            DEFAULT_TIMING_SAME_FIBRE if same is None else bool(same))


def misalignment_budget(fidelity: float, min_fidelity: float, compensated: int) -> float:
    """Largest residual polarisation angle (rad) each of ``compensated`` APCs may leave.

    A residual angle θ flips a qubit with probability s = sin²(θ/2) (sdqn-apc), which adds
    to the pair's QBER e = 2(1 − F)/3 (qnum/README.md, "QKD") as e ⊕ s = e + s(1 − 2e).  The pair
    keeps F ≥ F_min while e ⊕ s ≤ e_max = 2(1 − F_min)/3; independent flips on k fibres
    compose to at most Σ s_i, so s_i ≤ s/k each is enough.
    """
    e, e_max = qber_from_fidelity(fidelity), qber_from_fidelity(min_fidelity)
    s = max(0.0, (e_max - e) / (1.0 - 2.0 * e)) / max(1, compensated)
    return 2.0 * math.asin(math.sqrt(min(1.0, s)))


# -- per-device accumulation ----------------------------------------------------------------


@dataclass
class _Lightpath:
    """One elementary link through circuit q-ROADMs: one channel on all of them."""

    flow: str
    seg: Segment
    hops: list[tuple[str, Json, Json]]  # (q-roadm, source port, destination port)
    timing_nm: float
    channel: int = 0                     # grid channel-id, assigned once all are known

    @property
    def label(self) -> str:
        return f"{self.flow} ({'–'.join(self.seg.nodes)})"

    def ends(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """(node, its fibre) at both ends of the elementary link."""
        return (self.seg.nodes[0], self.seg.links[0]), (self.seg.nodes[-1], self.seg.links[-1])


@dataclass
class _Devices:
    network: Network
    flows: dict[str, list[Json]] = field(default_factory=dict)
    generation: dict[str, dict[str, tuple[str, Segment, str]]] = field(default_factory=dict)
    registers: dict[tuple[str, str], int] = field(default_factory=dict)  # (node, fibre)
    endpoints: dict[str, list[Json]] = field(default_factory=dict)
    pair_rate: dict[str, float] = field(default_factory=dict)
    signal: dict[str, dict[str, str]] = field(default_factory=dict)  # node → nm → why
    lightpaths: list[_Lightpath] = field(default_factory=list)
    routes: dict[str, dict[str, tuple[Json, str]]] = field(default_factory=dict)
    #: q-ROADM → add/drop port number → (attached node, the fibre to it)
    ports: dict[str, dict[int, tuple[str, str]]] = field(default_factory=dict)
    #: q-ROADM → (flow, attached node, fibre) → the add/drop port it had in the last
    #: committed configuration (kept, so a change elsewhere renumbers nothing)
    previous_ports: Mapping[str, Mapping[tuple[str, str, str], int]] = field(
        default_factory=dict)
    #: q-ROADM → the lightpath hops of the last committed configuration and the add/drop
    #: ports its cross-connects use (`committed_circuits`)
    previous_circuits: Mapping[str, CommittedCircuit] = field(default_factory=dict)
    #: q-ROADM → the add/drop sides asked for, in order: (flow, node, fibre), its port dict,
    #: the hop it is a side of
    _sides: dict[str, list[tuple[tuple[str, str, str], Json, Hop]]] = field(
        default_factory=dict)
    tolerance: dict[str, float] = field(default_factory=dict)       # APC → rad
    #: (end node, request) → the fibre its endpoint's first elementary link leaves by
    attached: dict[tuple[str, str], str] = field(default_factory=dict)
    #: memory device → the slice partitions it enforces (controller/service/partitions.py)
    partitions: dict[str, list[Partition]] = field(default_factory=dict)

    # Repeater ------------------------------------------------------------------------------
    def link(self, node: str, seg: Segment, near_end: int, flow: str, slots: int) -> str:
        """The generation entry on ``node`` for ``seg``: its attached fibre, aimed at the far
        end of the elementary link.

        ``near_end`` 0: node is the segment's first node; -1: its last. A fibre into a
        q-ROADM can carry elementary links towards several memory nodes, one entry each:
        such an entry is named ``fibre>neighbour`` with the fibre in its ``fibre`` leaf; a
        direct fibre keeps its own name. The name depends on nothing else, so a re-route
        elsewhere never renames the entries of flows it did not move.
        """
        fibre = seg.links[near_end]
        neighbour = seg.nodes[-1 - near_end]
        direct = self.network.links[fibre].other_end(node) == neighbour
        name = fibre if direct else f"{fibre}>{neighbour}"
        entries = self.generation.setdefault(node, {})
        known = entries.get(name)
        if known is None or seg.params.source_rate_hz < known[1].params.source_rate_hz:
            entries[name] = (neighbour, seg, fibre)   # several routes: the slowest one
        self.registers[(node, name)] = self.registers.get((node, name), 0) + slots // 2
        return name

    def relay_flow(self, a: Assignment, node: str, pos: int) -> None:
        """The swap flow of an inner memory node of ``a``'s route: a repeater, or an end
        node whose kind can relay and whose topology entry sets ``relay``."""
        cand = a.candidate
        assert cand is not None
        facts = self.network.nodes[node]
        if not _capabilities(facts.kind).relays:
            raise RenderError(f"flow {a.request.name} relays through {facts.kind.value} "
                              f"{node}, whose device cannot swap")
        if facts.kind is DeviceKind.END_NODE and not facts.relay:
            raise RenderError(f"flow {a.request.name} relays through end node {node}, whose "
                              "topology entry does not set relay")
        segs = cand.route.segments
        slots = cand.memory.get(node, 0)
        if slots < 2:
            raise RenderError(f"{facts.kind.value} {node}: flow {a.request.name} reserves "
                              f"{slots} memory slots; a swap needs one per side (at least 2)")
        up = self.link(node, segs[pos - 1], -1, a.request.name, slots)
        down = self.link(node, segs[pos], 0, a.request.name, slots)
        self.flows.setdefault(node, []).append({
            "flow-id": a.request.name, "service": a.request.name, "memory-slots": slots,
            "neighbour-links": [up, down], "swap-policy": "swap-asap",
            "purification-rounds": cand.link_purification_rounds,
            "purification-protocol": cand.protocol, "cutoff-time": _cutoff(a),
        })

    # End node ------------------------------------------------------------------------------
    def endpoint(self, a: Assignment, node: str, peer: str, seg: Segment, role: str
                 ) -> None:
        cand = a.candidate
        assert cand is not None
        kind = self.network.nodes[node].kind
        if kind is not DeviceKind.END_NODE:
            raise RenderError(f"flow {a.request.name} ends at {kind.value} {node}: only "
                              "sdqn-end-node has application endpoints")
        caps = _capabilities(kind)
        _check_purification(a, node, kind, caps)
        if not caps.detectors:
            raise RenderError(f"flow {a.request.name}: {kind.value} {node} has no detectors "
                              "for the application to measure with")
        self.endpoints.setdefault(node, []).append({
            "name": a.request.name, "service": a.request.name,
            "application": f"sdqn-types:{a.request.application.value}", "peer-node": peer,
            "role": role, "memory-slots": cand.memory.get(node, 0),
            "min-fidelity": dec(a.request.min_fidelity, 6),
            "purification-rounds": cand.purification_rounds,
            "purification-protocol": cand.protocol,
            "link-purification-rounds": cand.link_purification_rounds,
            "time-share": _time_share(a),
            "target-rate": dec(a.rate_hz, 6),
            "cutoff-time": _cutoff(a),
            "detectors": list(caps.detectors),
        })
        self.attached[(node, a.request.name)] = seg.links[0 if role == "source" else -1]
        rate = self.pair_rate.get(node, 0.0)
        self.pair_rate[node] = max(rate, seg.params.source_rate_hz)

    def emits(self, node: str, wavelength_nm: float | None, why: str) -> None:
        """``node``'s single source must emit on ``wavelength_nm`` for ``why``."""
        if wavelength_nm is not None and self.network.nodes[node].kind is DeviceKind.END_NODE:
            self.signal.setdefault(node, {})[wavelength_text(wavelength_nm)] = why

    # slices ------------------------------------------------------------------------------
    def place_in_partitions(self, parts: dict[str, list[Partition]], slicing: Slicing
                            ) -> None:
        """Put each admitted member of a dedicated slice into its slice's partition on every
        device that has one: its flows and endpoints name the slice (an endpoint also the
        fibre whose share bounds its time-share). A member whose slots do not fit its
        partition is a plan the device would refuse."""
        self.partitions = parts
        members = {r: sl.name for sl in slicing.slices for r in sl.requests}
        for node, entries in sorted(parts.items()):
            size = {p.slice: len(p.registers) for p in entries}
            placed: dict[str, int] = {}
            for flow in self.flows.get(node, []):
                sl = members.get(str(flow["flow-id"]))
                if sl in size:
                    flow["slice"] = sl
                    placed[sl] = placed.get(sl, 0) + int(flow["memory-slots"])
            for ep in self.endpoints.get(node, []):
                sl = members.get(str(ep["name"]))
                if sl in size:
                    ep["slice"] = sl
                    ep["attached-link"] = self.attached[(node, str(ep["name"]))]
                    placed[sl] = placed.get(sl, 0) + int(ep["memory-slots"])
            for sl, slots in sorted(placed.items()):
                if slots > size[sl]:
                    raise RenderError(f"slice {sl} on device {node}: its members need {slots} "
                                      f"memory slots, its partition owns {size[sl]} registers")

    # q-ROADM -------------------------------------------------------------------------------
    def side(self, roadm: str, neighbour: str, fibre: str, flow: str, hop: Hop) -> Json:
        """Port of a lightpath side: own add/drop port towards a memory node, else degree."""
        if self.network.nodes[neighbour].roadm is not None:
            return {"degree": _degrees(self.network, roadm)[fibre]}
        _circuit(self.network, roadm)
        port: Json = {"add-drop-port": 0}           # numbered by number_ports()
        self._sides.setdefault(roadm, []).append(((flow, neighbour, fibre), port, hop))
        return port

    def hop_side(self, neighbour: str, fibre: str) -> HopSide:
        return ("degree", fibre) if self.network.nodes[neighbour].roadm is not None \
            else (neighbour, fibre)

    def number_ports(self) -> None:
        """Give every add/drop side its port: the one it had in the last committed
        configuration when its lightpath crosses the q-ROADM as it did then, else a spare.
        A change that does not touch a flow leaves its ports (and so its cross-connects)
        as they were; numbering in rendering order would shift them whenever a flow
        sorted before it comes or goes.

        A lightpath that crosses differently (a moved service) takes ports the committed
        cross-connects leave free while there are any: its old cross-connect keeps running
        on its own ports while the new one is made (controller/service/mbb.py), since one
        channel entering a port leaves it by one port only (the sdqn-qroadm ``unique``s).
        Without a spare it takes its own old port, else another port its flow had here,
        else the lowest free one (rather than a port another moved flow's old path still
        runs on), and the move is a hard switch on this q-ROADM."""
        for roadm, sides in sorted(self._sides.items()):
            spec = _circuit(self.network, roadm)
            previous = self.previous_ports.get(roadm, {})
            committed = self.previous_circuits.get(roadm, CommittedCircuit())
            taken: dict[int, tuple[str, str]] = {}
            waiting: list[tuple[tuple[str, str, str], Json]] = []
            for key, port, hop in sides:
                number = previous.get(key)
                if number is not None and number not in taken and hop in committed.hops \
                        and 1 <= number <= spec.add_drop_ports:
                    port["add-drop-port"] = number
                    taken[number] = key[1:]
                else:
                    waiting.append((key, port))
            for (flow, neighbour, fibre), port in waiting:
                free = [n for n in range(1, spec.add_drop_ports + 1) if n not in taken]
                if not free:
                    raise RenderError(f"q-ROADM {roadm}: flow {flow} needs an add/drop port "
                                      f"towards {neighbour}, all {spec.add_drop_ports} are "
                                      f"in use")
                spare = [n for n in free if n not in committed.in_use]
                own = [n for key, n in previous.items() if key[0] == flow and n in free]
                mine = previous.get((flow, neighbour, fibre))
                number = spare[0] if spare else mine if mine in own else \
                    own[0] if own else free[0]
                port["add-drop-port"] = number
                taken[number] = (neighbour, fibre)
            self.ports[roadm] = taken

    def through_roadms(self, a: Assignment, seg: Segment) -> None:
        name = a.request.name
        hops: list[tuple[str, Json, Json]] = []
        for i in range(1, len(seg.nodes) - 1):
            node = seg.nodes[i]
            spec = self.network.nodes[node].roadm
            if spec is None:
                continue
            hop = (name, self.hop_side(seg.nodes[i - 1], seg.links[i - 1]),
                   self.hop_side(seg.nodes[i + 1], seg.links[i]))
            src = self.side(node, seg.nodes[i - 1], seg.links[i - 1], name, hop)
            dst = self.side(node, seg.nodes[i + 1], seg.links[i], name, hop)
            if spec.switching_mode is SwitchingMode.CIRCUIT:
                hops.append((node, src, dst))
            else:
                self.route(node, seg.nodes[-1], dst, name)
                self.route(node, seg.nodes[0], src, name)
        if hops:
            self.lightpaths.append(_Lightpath(name, seg, hops, _lightpath_timing(
                self.network, name, seg)))
        else:  # the fibre's own quantum wavelength reaches the end node unswitched
            for node, fibre in ((seg.nodes[0], seg.links[0]), (seg.nodes[-1], seg.links[-1])):
                self.emits(node, self.network.links[fibre].wavelength_nm,
                           f"{name} on fibre {fibre}")

    def route(self, roadm: str, destination: str, egress: Json, flow: str) -> None:
        routes = self.routes.setdefault(roadm, {})
        known = routes.get(destination)
        if known is not None and known[0] != egress:
            raise RenderError(f"q-ROADM {roadm}: bursts for {destination} must leave by "
                              f"{known[0]} (flow {known[1]}) and by {egress} (flow {flow})")
        routes.setdefault(destination, (egress, flow))

    # APC -----------------------------------------------------------------------------------
    def compensated(self, a: Assignment) -> None:
        """Tighten the tolerance of every APC on the route to what the request absorbs."""
        cand = a.candidate
        assert cand is not None
        apcs = [c for lk in cand.route.links
                if (c := self.network.links[lk].compensator) is not None]
        budget = misalignment_budget(cand.fidelity, a.request.min_fidelity, len(apcs))
        for apc in apcs:
            self.tolerance[apc] = min(self.tolerance.get(apc, APC_DEFAULT_TOLERANCE_RAD), budget)

    # wavelengths ---------------------------------------------------------------------------
    def assign_channels(self) -> None:
        """First-fit grid channel per group of lightpaths sharing an end node's source,
        free on every port the group uses (continuity), own fibre wavelength first."""
        taken: set[tuple[str, str, str, int]] = set()
        for group in sorted(self._groups(), key=lambda g: min(lp.label for lp in g)):
            ports = _ports(group)
            roadms = sorted({roadm for lp in group for roadm, _, _ in lp.hops})
            # one channel of each q-ROADM stays free for the timing channel
            limit = min(_circuit(self.network, r).wavelength_channels for r in roadms) - 1
            for channel in self._preferred(group, limit):
                if all((*key, channel) not in taken for key in ports):
                    taken.update((*key, channel) for key in ports)
                    for lp in group:
                        lp.channel = channel
                        for node, _ in lp.ends():
                            self.emits(node, grid_nm(channel), f"lightpath {lp.label}")
                    break
            else:
                names = ", ".join(sorted(lp.label for lp in group))
                raise RenderError(f"no wavelength channel is free on every port of {names} "
                                  f"({', '.join(roadms)}: {limit} quantum channels)")

    def _groups(self) -> list[list[_Lightpath]]:
        """Lightpaths that must share a wavelength: those reaching one end node's source."""
        parent = list(range(len(self.lightpaths)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first: dict[str, int] = {}
        for i, lp in enumerate(self.lightpaths):
            for node, _ in lp.ends():
                if self.network.nodes[node].kind is DeviceKind.END_NODE:
                    parent[find(i)] = find(first.setdefault(node, i))
        groups: dict[int, list[_Lightpath]] = {}
        for i, lp in enumerate(self.lightpaths):
            groups.setdefault(find(i), []).append(lp)
        return list(groups.values())

    def _preferred(self, group: list[_Lightpath], limit: int) -> Iterator[int]:
        own = sorted({ch for lp in group for node, fibre in lp.ends()
                      if self.network.nodes[node].kind is DeviceKind.END_NODE
                      and (ch := grid_channel(self.network.links[fibre].wavelength_nm))
                      is not None and ch <= limit})
        yield from own
        yield from (ch for ch in range(1, limit + 1) if ch not in own)

    def check_sources(self) -> None:
        for node, wanted in sorted(self.signal.items()):
            if len(wanted) > 1:
                listed = "; ".join(f"{nm} nm for {why}" for nm, why in sorted(wanted.items()))
                raise RenderError(f"end node {node} has one source (signal-wavelength) but its "
                                  f"services need several: {listed}")


def _port_key(port: Json) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(port.items()))


def _ports(group: list[_Lightpath]) -> dict[tuple[str, str, str], str]:
    """(q-roadm, "in"/"out", port) → the port on the other side, for one channel.

    One wavelength entering a port leaves by one port only (a static cross-connect; the
    YANG ``unique "channel source/..."`` / ``"channel destination/..."``).
    """
    used: dict[tuple[str, str, str], str] = {}
    for lp in group:
        for roadm, src, dst in lp.hops:
            for key, other in (((roadm, "in", _port_key(src)), _port_key(dst)),
                               ((roadm, "out", _port_key(dst)), _port_key(src))):
                if used.setdefault(key, other) != other:
                    raise RenderError(
                        f"lightpaths sharing one end node's source wavelength would leave "
                        f"q-ROADM {roadm} {key[2]} by two ports ({lp.label} among them)")
    return used


def _lightpath_timing(network: Network, flow: str, seg: Segment) -> float:
    """The timing wavelength that follows the lightpath over every fibre, unchanged."""
    timing = {lk: timing_channel(network.links[lk]) for lk in seg.links}
    apart = sorted(lk for lk, (_, same) in timing.items() if not same)
    if apart:
        raise RenderError(
            f"timing channel cannot follow the quantum path of {flow} through q-ROADMs: on "
            f"{', '.join(apart)} it runs in a parallel fibre, which no cross-connect on the "
            "quantum channel's ports switches")
    if len({nm for nm, _ in timing.values()}) > 1:
        listed = ", ".join(f"{lk} {dec(nm, 3)} nm" for lk, (nm, _) in sorted(timing.items()))
        raise RenderError(
            f"timing channel cannot follow the quantum path of {flow}: its fibres time at "
            f"different wavelengths ({listed}) and a q-ROADM does not convert wavelengths")
    return next(iter(timing.values()))[0]


def _cutoff(a: Assignment) -> str:
    assert a.candidate is not None
    cutoff = a.candidate.cutoff_s
    if not 1e-6 <= cutoff < float("inf"):
        raise RenderError(f"flow {a.request.name}: cut-off {cutoff!r} s is outside "
                          "sdqn-repeater's 0.000001..max")
    return dec(cutoff, 9, ROUND_FLOOR)


def _capabilities(kind: DeviceKind) -> Capabilities:
    spec = kind_spec(kind.value)
    return spec.capabilities if spec is not None else Capabilities()


def _check_purification(a: Assignment, node: str, kind: DeviceKind, caps: Capabilities
                        ) -> None:
    """The end node must run the plan's end-to-end purification itself (Q-NUM purifies
    end to end, :mod:`qnum.candidates`): refuse what its kind cannot run."""
    assert a.candidate is not None
    rounds, protocol = a.candidate.purification_rounds, a.candidate.protocol
    link_rounds = a.candidate.link_purification_rounds
    if link_rounds > caps.max_link_purification_rounds or (
            link_rounds and protocol not in caps.purification_protocols):
        raise RenderError(f"flow {a.request.name}: the plan purifies each link {link_rounds} "
                          f"rounds of {protocol}, but {kind.value} devices run at most "
                          f"{caps.max_link_purification_rounds} per-link rounds")
    if rounds == 0:
        return
    if rounds > caps.max_purification_rounds or protocol not in caps.purification_protocols:
        can = (f"at most {caps.max_purification_rounds} rounds of "
               f"{' or '.join(caps.purification_protocols)}"
               if caps.max_purification_rounds and caps.purification_protocols
               else "no purification")
        raise RenderError(f"flow {a.request.name}: the plan purifies end to end with "
                          f"{rounds} rounds of {protocol} at {node}, but {kind.value} "
                          f"devices run {can}")


def _time_share(a: Assignment) -> str:
    """The granted share as the endpoint's time-share, rounded up (the plan's rate is
    r_c·s; a share rounded down would deliver a hair less than planned)."""
    share = min(1.0, a.share)
    if share <= 0.0:
        raise RenderError(f"flow {a.request.name}: share {a.share!r} is not positive")
    return dec(share, 6, ROUND_CEILING)


def _circuit(network: Network, node: str) -> QRoadm:
    spec = network.nodes[node].roadm
    if spec is None:
        raise RenderError(f"{node} switches a lightpath but has no q-roadm facts")
    return spec


def _degrees(network: Network, node: str) -> dict[str, int]:
    """Line degree per attached fibre: sorted link-ids, numbered from 1 (as the device's
    factory configuration numbers them)."""
    fibres = sorted(lk.link_id for lk in network.links.values() if node in (lk.a, lk.b))
    return {link_id: i + 1 for i, link_id in enumerate(fibres)}


# -- documents ------------------------------------------------------------------------------

#: Builds one device's configuration body (under its module's top container) from the facts
#: collected for the whole plan.
Renderer = Callable[[_Devices, Node], Json]

#: The renderer of each device kind (rows of ``southbound.kinds``), registered by `renders`.
RENDERERS: dict[str, Renderer] = {}


def renders(kind: str) -> Callable[[Renderer], Renderer]:
    """Register the decorated function as the renderer of device kind `kind`."""
    if kind_spec(kind) is None:
        raise ValueError(f"{kind!r} is not a device kind of southbound.kinds")

    def register(renderer: Renderer) -> Renderer:
        if kind in RENDERERS:
            raise ValueError(f"device kind {kind!r} has a renderer already")
        RENDERERS[kind] = renderer
        return renderer

    return register



def _memory(node: Node) -> Json:
    memory: Json = {"register-count": node.memory_qubits,
                    "efficiency": dec(node.memory_efficiency, 6)}
    if node.memory_qubits:
        memory["coherence-time"] = dec(node.coherence_time_s, 9)
        memory["decoherence-model"] = node.decoherence_model
    return memory


def _swapping(d: _Devices, node: Node) -> Json:
    """What a node that swaps is configured with (sdqn-device-common swap-physics,
    link-generation and swap-flows): empty when no flow crosses it."""
    links = []
    for link_id, (neighbour, seg, fibre) in sorted(d.generation.get(node.node_id, {}).items()):
        entry: Json = {"link-id": link_id, "neighbour": neighbour, "enabled": True,
                       "attempt-rate": dec(seg.params.source_rate_hz, 3),
                       "multiplexing-modes": seg.params.modes}
        herald = heralding_latency_s(seg.params)
        if herald > DEFAULT_HERALDING_TIMEOUT_S:
            entry["heralding-timeout"] = dec(herald, 9, ROUND_CEILING)
        entry["max-registers"] = d.registers[(node.node_id, link_id)]
        if fibre != link_id:
            entry["fibre"] = fibre
        links.append(entry)
    body: Json = {}
    if links:
        body["link-generation"] = {"link": links}
    flows = sorted(d.flows.get(node.node_id, []), key=lambda f: str(f["flow-id"]))
    if flows:
        body["flow"] = flows
    return body


def _swap_physics(node: Node) -> Json:
    return {"bsm-fidelity": dec(node.bsm_fidelity, 6),
            "swap-success-probability": dec(node.swap_success_probability, 6)}


def _partitions(d: _Devices, node: Node) -> Json:
    parts = d.partitions.get(node.node_id, [])
    return {"slice-partition": [p.json() for p in parts]} if parts else {}


@renders("repeater")
def _repeater(d: _Devices, node: Node) -> Json:
    return {"node-id": node.node_id, "memory": _memory(node), **_swap_physics(node),
            **_swapping(d, node), **_partitions(d, node)}


@renders("end-node")
def _end_node(d: _Devices, node: Node) -> Json:
    endpoints = sorted(d.endpoints.get(node.node_id, []), key=lambda e: str(e["name"]))
    source: Json = {"pump-enabled": bool(endpoints)}
    if node.node_id in d.pair_rate:
        source["pair-rate"] = dec(d.pair_rate[node.node_id], 3)
    if node.node_id in d.signal:
        source["signal-wavelength"] = min(d.signal[node.node_id])  # one (check_sources)
    body: Json = {"node-id": node.node_id, "source": source, "memory": _memory(node)}
    detectors = _capabilities(node.kind).detectors
    if detectors:
        body["detector"] = [{"detector-id": d, "enabled": True} for d in detectors]
    relay = _swapping(d, node)
    if relay:   # only a node some route crosses: others need not have the relay feature
        body["relay"] = {**_swap_physics(node), **relay}
    if endpoints:
        body["application-endpoint"] = endpoints
    body.update(_partitions(d, node))
    return body


@renders("q-roadm")
def _qroadm(d: _Devices, node: Node) -> Json:
    spec = node.roadm
    if spec is None:
        raise RenderError(f"q-ROADM {node.node_id} has no q-roadm facts in the topology")
    body: Json = {"node-id": node.node_id, "switching-mode": spec.switching_mode.value,
                  "wavelength-channels": spec.wavelength_channels,
                  "nominal-insertion-loss": dec(spec.insertion_loss_db, 3)}
    degrees = _degrees(d.network, node.node_id)
    if degrees:
        body["degree"] = [{"degree-number": n, "link-id": link_id}
                          for link_id, n in sorted(degrees.items(), key=lambda kv: kv[1])]
    attached = d.ports.get(node.node_id, {})
    if spec.add_drop_ports:
        body["add-drop-port"] = [
            {"port-number": n,
             **({"attached-node": attached[n][0], "link-id": attached[n][1]}
                if n in attached else {})} for n in range(1, spec.add_drop_ports + 1)]
    if spec.switching_mode is SwitchingMode.CIRCUIT:
        _circuit_config(body, node.node_id, spec, d.lightpaths)
    else:
        packet: Json = {"header-processing-time": dec(spec.header_processing_time_s, 9),
                        "payload-duration": dec(spec.payload_duration_s, 9)}
        routes = d.routes.get(node.node_id, {})
        if routes:
            packet["route"] = [{"destination-node": dest, "egress": egress}
                               for dest, (egress, _) in sorted(routes.items())]
        body["packet"] = packet
    return body


def _circuit_config(body: Json, roadm: str, spec: QRoadm, lightpaths: list[_Lightpath]
                    ) -> None:
    """Quantum cross-connects, and per port pair one timing cross-connect on the fibres'
    timing wavelength that every quantum cross-connect on those ports names as companion
    (a cross-connect on the same channel and ports serves every flow that shares them)."""
    here = sorted(((lp, src, dst) for lp in lightpaths for r, src, dst in lp.hops if r == roadm),
                  key=lambda h: h[0].flow)
    if not here:
        return
    timing_nms = sorted({lp.timing_nm for lp, _, _ in here})
    timing_ids = {nm: spec.wavelength_channels + i + 1 for i, nm in enumerate(timing_nms)}
    quantum_ids = sorted({lp.channel for lp, _, _ in here})
    _check_channel_plan(roadm, spec, quantum_ids, timing_nms, timing_ids)
    connects: dict[tuple[int, str, str], Json] = {}
    for lp, src, dst in here:
        tid = timing_ids[lp.timing_nm]
        timing = _connect(connects, roadm, f"{lp.flow}:timing", tid, src, dst, None)
        _connect(connects, roadm, lp.flow, lp.channel, src, dst, timing["name"])
    channels = [{"channel-id": ch, "wavelength": wavelength_text(grid_nm(ch)),
                 "kind": "quantum"} for ch in quantum_ids]
    channels += [{"channel-id": timing_ids[nm], "wavelength": wavelength_text(nm),
                  "kind": "timing"}
                 for nm in timing_nms]
    body["channel"] = channels
    body["circuit"] = {"cross-connect": sorted(connects.values(), key=lambda c: str(c["name"]))}


def _connect(connects: dict[tuple[int, str, str], Json], roadm: str, name: str, channel: int,
             src: Json, dst: Json, companion: str | None) -> Json:
    """The cross-connect of ``channel`` from ``src`` to ``dst`` (shared if it exists).

    A channel entering a port can leave by one port only: a second destination (or source)
    for the same channel and port is a plan the q-ROADM cannot switch.
    """
    key = (channel, _port_key(src), _port_key(dst))
    if key in connects:
        return connects[key]
    for other in connects.values():
        if other["channel"] == channel and (other["source"] == src) != (
                other["destination"] == dst):
            what = "timing channel cannot follow the quantum path" if companion is None \
                else "wavelength channel conflict"
            raise RenderError(
                f"{what} through q-ROADM {roadm}: channel {channel} of {name} "
                f"({_port_key(src)} → {_port_key(dst)}) collides with {other['name']} "
                f"({_port_key(other['source'])} → {_port_key(other['destination'])})")
    connects[key] = {"name": name, "channel": channel, "source": src, "destination": dst,
                     "amplifier-bypass": True,
                     **({"timing-companion": companion} if companion else {})}
    return connects[key]


def _check_channel_plan(roadm: str, spec: QRoadm, quantum_ids: list[int],
                        timing_nms: list[float], timing_ids: dict[float, int]) -> None:
    if len(quantum_ids) + len(timing_nms) > spec.wavelength_channels:
        raise RenderError(f"q-ROADM {roadm} needs {len(quantum_ids)} quantum and "
                          f"{len(timing_nms)} timing channels, it supports "
                          f"{spec.wavelength_channels}")
    if max(timing_ids.values()) > MAX_CHANNEL_ID:
        raise RenderError(f"q-ROADM {roadm}: channel-id beyond {MAX_CHANNEL_ID}")
    clash = {wavelength_text(grid_nm(ch)) for ch in quantum_ids} & {
        wavelength_text(nm) for nm in timing_nms}
    if clash:
        raise RenderError(f"q-ROADM {roadm}: timing wavelength {', '.join(sorted(clash))} nm "
                          "is also a quantum channel")


@renders("apc")
def _apc(d: _Devices, node: Node) -> Json:
    fibres = sorted(lk.link_id for lk in d.network.links.values()
                    if lk.compensator == node.node_id)
    if len(fibres) > 1:
        raise RenderError(f"APC {node.node_id} compensates {', '.join(fibres)}; sdqn-apc "
                          "serves one fibre")
    body: Json = {"node-id": node.node_id}
    if fibres:
        body["link-id"] = fibres[0]
    body.update(APC_BASE)
    tolerance = d.tolerance.get(node.node_id, APC_DEFAULT_TOLERANCE_RAD)
    body["tracking-tolerance"] = dec(tolerance, 6, ROUND_FLOOR)
    return body


def _collect(network: Network, plan: Plan,
             previous_ports: Mapping[str, Mapping[tuple[str, str, str], int]],
             previous_circuits: Mapping[str, CommittedCircuit] | None = None) -> _Devices:
    try:  # coherence budget, TDMA slots and memory: a plan that cannot run is refused
        build_schedule(network, plan)
    except ScheduleError as exc:
        raise RenderError(f"the plan cannot be scheduled: {exc}") from exc
    d = _Devices(network, previous_ports=previous_ports,
                 previous_circuits=previous_circuits or {})
    admitted = sorted((a for a in plan.assignments.values() if a.admitted),
                      key=lambda a: a.request.name)
    for a in admitted:
        cand = a.candidate
        assert cand is not None
        segs = cand.route.segments
        mem = cand.route.memory_nodes
        missing = [n for n in cand.route.nodes if n not in network.nodes]
        if missing:
            raise RenderError(f"flow {a.request.name}: route crosses unknown {missing}")
        d.endpoint(a, mem[0], mem[-1], segs[0], "source")
        d.endpoint(a, mem[-1], mem[0], segs[-1], "destination")
        for pos in range(1, len(mem) - 1):
            d.relay_flow(a, mem[pos], pos)
        for seg in segs:
            d.through_roadms(a, seg)
        d.compensated(a)
    d.number_ports()
    d.assign_channels()
    d.check_sources()
    return d


def render_devices(network: Network, plan: Plan, *, kinds: Mapping[str, str],
                   previous: Mapping[str, str] | None = None,
                   slicing: Slicing | None = None) -> dict[str, dict[str, Any]]:
    """Every managed device's full configuration (RFC 7951) in its own module.

    `previous`: the committed configuration per device (canonical JSON); the q-ROADMs'
    add/drop ports it assigned are kept for the flows that still use them. `slicing`: the
    slices the plan was solved under; each dedicated slice gets its partition on the
    memory devices it reserves on (controller/service/partitions.py)."""
    used = {n for a in plan.admitted if a.candidate for n in a.candidate.route.nodes}
    for node_id, kind in sorted(kinds.items()):
        if node_id not in network.nodes:
            raise RenderError(f"device {node_id} is not a node of network "
                              f"{network.network_id}")
        if network.nodes[node_id].kind.value != kind:
            raise RenderError(f"device {node_id} is a {kind} but the topology says "
                              f"{network.nodes[node_id].kind.value}")
    d = _collect(network, plan, previous_add_drop_ports(previous or {}),
                 committed_circuits(previous or {}))
    if slicing is not None:
        try:
            parts = partitions(network, plan, slicing, kinds)
        except PartitionError as exc:
            raise RenderError(str(exc)) from exc
        d.place_in_partitions(parts, slicing)
    out: dict[str, dict[str, Any]] = {}
    for node_id, kind in sorted(kinds.items()):
        spec = kind_spec(kind)
        if spec is None:
            if node_id in used:
                raise RenderError(f"flow through {node_id}: no device module for kind {kind}")
            log.debug("no device module for kind", node=node_id, kind=kind)
            continue
        renderer = RENDERERS.get(kind)
        if renderer is None:
            raise RenderError(f"device kind {kind} has no renderer")
        out[node_id] = {spec.qname: renderer(d, network.nodes[node_id])}
    unmanaged = sorted(n for n in used if n not in kinds and not _inline(network.nodes[n]))
    if unmanaged:
        raise RenderError(f"admitted flows need devices that are not managed: {unmanaged}")
    return out


def _committed_roadms(docs: Mapping[str, str]
                      ) -> Iterator[tuple[str, Json, dict[int, tuple[str, str]]]]:
    """Each committed q-ROADM configuration: (node, body, add/drop port → (attached
    node, fibre))."""
    qname = kind_spec(DeviceKind.Q_ROADM.value)
    top = qname.qname if qname is not None else ""
    for node, text in docs.items():
        body = json.loads(text).get(top)
        if not body:
            continue
        yield node, body, {int(p["port-number"]): (str(p["attached-node"]), str(p["link-id"]))
                           for p in body.get("add-drop-port", [])
                           if "attached-node" in p and "link-id" in p}


def previous_add_drop_ports(docs: Mapping[str, str]
                            ) -> dict[str, dict[tuple[str, str, str], int]]:
    """From committed q-ROADM configurations: (flow, attached node, fibre) → add/drop
    port, read from each quantum cross-connect (named after its flow) and the port's
    attachment."""
    out: dict[str, dict[tuple[str, str, str], int]] = {}
    for node, body, attached in _committed_roadms(docs):
        ports: dict[tuple[str, str, str], int] = {}
        for cc in (body.get("circuit") or {}).get("cross-connect", []):
            flow = str(cc.get("name", ""))
            if flow.endswith(":timing"):
                continue
            for side in (cc.get("source") or {}, cc.get("destination") or {}):
                number = side.get("add-drop-port")
                if number is not None and int(number) in attached:
                    ports.setdefault((flow, *attached[int(number)]), int(number))
        if ports:
            out[node] = ports
    return out


def committed_circuits(docs: Mapping[str, str]) -> dict[str, CommittedCircuit]:
    """From committed q-ROADM configurations: per q-ROADM the hops its quantum
    cross-connects (named after their flow) switch and the add/drop ports any of its
    cross-connects uses."""
    out: dict[str, CommittedCircuit] = {}
    for node, body, attached in _committed_roadms(docs):
        degrees = {int(d["degree-number"]): str(d["link-id"])
                   for d in body.get("degree", []) if "link-id" in d}
        hops: set[Hop] = set()
        in_use: set[int] = set()
        for cc in (body.get("circuit") or {}).get("cross-connect", []):
            src, dst = cc.get("source") or {}, cc.get("destination") or {}
            in_use.update(int(e["add-drop-port"]) for e in (src, dst) if "add-drop-port" in e)
            flow = str(cc.get("name", ""))
            a, b = _hop_side(src, attached, degrees), _hop_side(dst, attached, degrees)
            if not flow.endswith(":timing") and a is not None and b is not None:
                hops.add((flow, a, b))
        out[node] = CommittedCircuit(frozenset(hops), frozenset(in_use))
    return out


def _hop_side(end: Mapping[str, Any], attached: Mapping[int, tuple[str, str]],
              degrees: Mapping[int, str]) -> HopSide | None:
    """A committed cross-connect's side as `_Devices.hop_side` names it."""
    if "degree" in end:
        fibre = degrees.get(int(end["degree"]))
        return None if fibre is None else ("degree", fibre)
    return attached.get(int(end.get("add-drop-port", 0)))


def _inline(node: Node) -> bool:
    """An inline device (an APC) only conditions a fibre: a route over it does not need it
    managed."""
    spec = kind_spec(node.kind.value)
    return spec is not None and spec.role is PlantRole.INLINE


# -- XML --------------------------------------------------------------------------------------

_schemas: dict[str, Schema] = {}
_schemas_lock = threading.Lock()


def _schema(module: str) -> Schema:
    with _schemas_lock:
        if module not in _schemas:
            _schemas[module] = Schema(["sdqn-types", module])  # identities are implemented there
        return _schemas[module]


def device_config_xml(doc: dict[str, Any]) -> str:
    """The document as YANG XML data elements, validated (strictly) by the device module."""
    if len(doc) != 1:
        raise RenderError(f"a device document has one top container, not {sorted(doc)}")
    top = next(iter(doc))
    module = top.split(":", 1)[0]
    if kind_of_module(module) is None:
        raise RenderError(f"{top} is not the top container of a device module")
    schema = _schema(module)
    with _schemas_lock:  # one libyang context is not safe for concurrent use
        try:
            forest = Forest.parse(schema, json.dumps(doc), "json")
        except NetconfError as exc:
            raise RenderError(f"{module}: {exc}") from exc
        try:
            return forest.print("xml")
        finally:
            forest.free()


def service_parts(doc: Mapping[str, Any], service: str) -> str:
    """The part of a device's configuration (RFC 7951 JSON document) that serves
    `service`, canonical: a repeater's flow and the generation entries it swaps between;
    an end node's endpoint, its source and the detectors it measures with; a q-ROADM's
    cross-connects of the service; anything else (an APC) as a whole. Two documents whose
    parts are equal configure the service identically, so a commit that changes only
    other parts of a device does not disturb it (the service state machine relies on it)."""
    parts: dict[str, Any] = {}
    for top, body in doc.items():
        if not isinstance(body, dict):
            parts[top] = body
        elif top.endswith(":repeater"):
            flows = [f for f in body.get("flow", []) if service in (f.get("flow-id"),
                                                                     f.get("service"))]
            used = {name for f in flows for name in f.get("neighbour-links", [])}
            parts[top] = {"flow": flows, "link": [
                lk for lk in body.get("link-generation", {}).get("link", [])
                if lk.get("link-id") in used]}
        elif top.endswith(":end-node"):
            endpoints = [e for e in body.get("application-endpoint", [])
                         if service in (e.get("name"), e.get("service"))]
            used = {d for e in endpoints for d in e.get("detectors", [])}
            parts[top] = {"endpoint": endpoints, "source": body.get("source"),
                          "detector": [d for d in body.get("detector", [])
                                       if d.get("detector-id") in used]}
        elif top.endswith(":q-roadm"):
            connects = body.get("circuit", {}).get("cross-connect", [])
            parts[top] = {"cross-connect": [
                c for c in connects if str(c.get("name", "")).split(":")[0] == service],
                "packet": body.get("packet")}
        else:
            parts[top] = body
    return json.dumps(parts, sort_keys=True, separators=(",", ":"))
