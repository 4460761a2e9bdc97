"""Render a Q-NUM plan as each managed device's full configuration (RFC 7951 JSON).

The expansion (:mod:`controller.service.expansion`) writes these documents into
<intended> (RFC 8342 §5.1.4) and pushes them, as YANG XML, to the devices with a
*replace*: so every document is the device's whole configuration in its own module —
identity and hardware facts from the topology plus what the admitted requests need.
A device no admitted request uses gets only that base (pump off, no flows, no
cross-connects), which is how a withdrawn service's resources are released.

Mapping (why each choice, where the device models leave room):

* Repeater: one ``flow`` per admitted request whose route swaps at it, joining the two
  fibres of the route attached to it (``neighbour-links``), with the plan's memory slots
  and cut-off.  Q-NUM's purification is *end to end* (:mod:`qnum.candidates`), so the
  repeater flow purifies nothing (``purification-rounds`` 0); its slots are the plan's
  one-half-per-side reservation.  ``link-generation`` has one entry per attached fibre a
  flow uses, aimed at the memory node at the far end of the elementary link (through
  transparent q-ROADMs), at the fibre's full source rate: the TDMA share is a slot
  schedule the module has no leaf for.
* End node: source pump on while it terminates an admitted request; one
  ``application-endpoint`` per request end with the plan's memory slots.
* q-ROADM (circuit): per elementary link through it a quantum cross-connect with
  amplifier bypass and a timing cross-connect on the same ports (sdqn-qroadm ``must``s:
  timing follows the qubits' fibre path).  The wavelength channel is chosen first-fit and
  identical on every q-ROADM of the lightpath (wavelength continuity).  A side facing a
  memory node uses an add/drop port of its own, a side facing another q-ROADM the line
  degree of the fibre — exactly the ports :mod:`qnum.candidates` counts.
  Packet mode: one route per elementary-link end through it.
* APC: identity, the fibre it compensates and base tracking/calibration settings.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from controller.datastore.schema import Schema
from controller.datastore.tree import Forest
from controller.errors import NetconfError
from qnum.candidates import Segment
from qnum.io import DeviceKind, Network, Node, SwitchingMode
from qnum.physics import heralding_latency_s
from qnum.plan import Assignment, Plan

log = structlog.get_logger(__name__)

Json = dict[str, Any]

#: Device module and top container per device kind (sdqn-types device-kind identities).
MODULES: Mapping[str, tuple[str, str]] = {
    DeviceKind.END_NODE.value: ("sdqn-end-node", "end-node"),
    DeviceKind.REPEATER.value: ("sdqn-repeater", "repeater"),
    DeviceKind.APC.value: ("sdqn-apc", "apc"),
    DeviceKind.Q_ROADM.value: ("sdqn-qroadm", "q-roadm"),
}

#: sdqn-repeater heralding-timeout default; longer heralds get their own timeout.
DEFAULT_HERALDING_TIMEOUT_S = 0.001
#: ITU-T G.694.1 100 GHz DWDM grid anchored at 193.1 THz: quantum channel k (0-based)
#: sits at 193.1 − 0.1·k THz.
GRID_ANCHOR_THZ, GRID_SPACING_THZ = 193.1, 0.1
#: Timing channels ride in the O band (sdqn-topology timing-channel default 1310 nm),
#: one per lightpath so that timing cross-connects never share ports on one channel.
TIMING_BASE_NM, TIMING_SPACING_NM = 1310.0, 0.8
C_VACUUM_NM_THZ = 299_792.458
#: APC base settings (the sdqn-apc defaults, rendered explicitly for a full config).
APC_BASE: Mapping[str, Any] = {
    "calibration-interval": "3600.0", "prefer-idle-windows": True, "max-deferral": "600.0",
    "target-bases": ["diagonal", "rectilinear"], "tracking-enabled": True,
    "tracking-tolerance": "0.1",
}


class RenderError(ValueError):
    """The plan cannot be expressed in the devices' configuration models."""


def dec(value: float, digits: int) -> str:
    """decimal64 as an RFC 7951 string (§6.1), at most ``digits`` fraction digits."""
    text = f"{value:.{digits}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


# -- per-device accumulation ----------------------------------------------------------------


@dataclass
class _Lightpath:
    """One elementary link through a q-ROADM, as that q-ROADM switches it."""

    name: str
    channel: int | None          # 0-based grid index (circuit mode)
    source: Json                 # endpoint choice (degree / add-drop-port)
    destination: Json


@dataclass
class _Devices:
    network: Network
    flows: dict[str, list[Json]] = field(default_factory=dict)
    generation: dict[str, dict[str, tuple[str, Segment, str]]] = field(default_factory=dict)
    endpoints: dict[str, list[Json]] = field(default_factory=dict)
    pair_rate: dict[str, float] = field(default_factory=dict)
    lightpaths: dict[str, list[_Lightpath]] = field(default_factory=dict)
    routes: dict[str, dict[str, tuple[Json, str]]] = field(default_factory=dict)
    ports: dict[str, list[str]] = field(default_factory=dict)       # port i+1 → attached node
    channels: dict[str, set[int]] = field(default_factory=dict)

    # Repeater ------------------------------------------------------------------------------
    def link(self, node: str, seg: Segment, near_end: int, flow: str) -> str:
        """The fibre attached to ``node`` on ``seg`` (a generation entry towards the far end).

        ``near_end`` 0: node is the segment's first node; -1: its last.
        """
        fibre = seg.links[near_end]
        neighbour = seg.nodes[-1 - near_end]
        entries = self.generation.setdefault(node, {})
        known = entries.get(fibre)
        if known is not None and known[0] != neighbour:
            raise RenderError(
                f"repeater {node}: fibre {fibre} must generate towards {known[0]} (flow "
                f"{known[2]}) and towards {neighbour} (flow {flow}); sdqn-repeater keys "
                "link-generation by link-id only")
        if known is None:
            entries[fibre] = (neighbour, seg, flow)
        return fibre

    def repeater_flow(self, a: Assignment, node: str, pos: int) -> None:
        cand = a.candidate
        assert cand is not None
        segs = cand.route.segments
        slots = cand.memory.get(node, 0)
        if slots < 2:
            raise RenderError(f"repeater {node}: flow {a.request.name} reserves {slots} memory "
                              "slots; a swap needs one per side (sdqn-repeater: at least 2)")
        up = self.link(node, segs[pos - 1], -1, a.request.name)
        down = self.link(node, segs[pos], 0, a.request.name)
        self.flows.setdefault(node, []).append({
            "flow-id": a.request.name, "service": a.request.name, "memory-slots": slots,
            "neighbour-links": [up, down], "swap-policy": "swap-asap",
            "purification-rounds": 0, "cutoff-time": _cutoff(a),
        })

    # End node ------------------------------------------------------------------------------
    def endpoint(self, a: Assignment, node: str, peer: str, seg: Segment) -> None:
        cand = a.candidate
        assert cand is not None
        self.endpoints.setdefault(node, []).append({
            "name": a.request.name, "service": a.request.name,
            "application": f"sdqn-types:{a.request.application.value}", "peer-node": peer,
            "memory-slots": cand.memory.get(node, 0),
            "min-fidelity": dec(a.request.min_fidelity, 6),
        })
        rate = self.pair_rate.get(node, 0.0)
        self.pair_rate[node] = max(rate, seg.params.source_rate_hz)

    # q-ROADM -------------------------------------------------------------------------------
    def side(self, roadm: str, neighbour: str, fibre: str, flow: str) -> Json:
        """Port of a lightpath side: own add/drop port towards a memory node, else degree."""
        if self.network.nodes[neighbour].roadm is not None:
            return {"degree": _degrees(self.network, roadm)[fibre]}
        spec = self.network.nodes[roadm].roadm
        assert spec is not None
        used = self.ports.setdefault(roadm, [])
        if len(used) >= spec.add_drop_ports:
            raise RenderError(f"q-ROADM {roadm}: flow {flow} needs an add/drop port towards "
                              f"{neighbour}, all {spec.add_drop_ports} are in use")
        used.append(neighbour)
        return {"add-drop-port": len(used)}

    def channel(self, seg: Segment, flow: str) -> int:
        """First grid index free on every circuit q-ROADM of the lightpath (continuity)."""
        limit = min(_circuit(self.network, n).wavelength_channels // 2
                    for n in seg.roadm_channels)
        for ch in range(limit):
            if all(ch not in self.channels.get(n, set()) for n in seg.roadm_channels):
                for n in seg.roadm_channels:
                    self.channels.setdefault(n, set()).add(ch)
                return ch
        raise RenderError(
            f"flow {flow}: no wavelength channel (quantum + timing) free on all of "
            f"{', '.join(seg.roadm_channels)}")

    def through_roadms(self, a: Assignment, seg: Segment) -> None:
        name = a.request.name
        channel = self.channel(seg, name) if seg.roadm_channels else None
        for i in range(1, len(seg.nodes) - 1):
            node = seg.nodes[i]
            spec = self.network.nodes[node].roadm
            if spec is None:
                continue
            src = self.side(node, seg.nodes[i - 1], seg.links[i - 1], name)
            dst = self.side(node, seg.nodes[i + 1], seg.links[i], name)
            if spec.switching_mode is SwitchingMode.CIRCUIT:
                self.lightpaths.setdefault(node, []).append(_Lightpath(name, channel, src, dst))
            else:
                self.route(node, seg.nodes[-1], dst, name)
                self.route(node, seg.nodes[0], src, name)

    def route(self, roadm: str, destination: str, egress: Json, flow: str) -> None:
        routes = self.routes.setdefault(roadm, {})
        known = routes.get(destination)
        if known is not None and known[0] != egress:
            raise RenderError(f"q-ROADM {roadm}: bursts for {destination} must leave by "
                              f"{known[0]} (flow {known[1]}) and by {egress} (flow {flow})")
        routes.setdefault(destination, (egress, flow))


def _cutoff(a: Assignment) -> str:
    assert a.candidate is not None
    cutoff = a.candidate.cutoff_s
    if not 1e-6 <= cutoff < float("inf"):
        raise RenderError(f"flow {a.request.name}: cut-off {cutoff!r} s is outside "
                          "sdqn-repeater's 0.000001..max")
    return dec(cutoff, 9)


def _circuit(network: Network, node: str) -> Any:
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


def _memory(node: Node) -> Json:
    memory: Json = {"register-count": node.memory_qubits,
                    "efficiency": dec(node.memory_efficiency, 6)}
    if node.memory_qubits:
        memory["coherence-time"] = dec(node.coherence_time_s, 9)
    return memory


def _repeater(d: _Devices, node: Node) -> Json:
    body: Json = {"node-id": node.node_id, "memory": _memory(node),
                  "bsm-fidelity": dec(node.bsm_fidelity, 6),
                  "swap-success-probability": dec(node.swap_success_probability, 6)}
    links = []
    for link_id, (neighbour, seg, _) in sorted(d.generation.get(node.node_id, {}).items()):
        entry: Json = {"link-id": link_id, "neighbour": neighbour, "enabled": True,
                       "attempt-rate": dec(seg.params.source_rate_hz, 3),
                       "multiplexing-modes": seg.params.modes}
        herald = heralding_latency_s(seg.params)
        if herald > DEFAULT_HERALDING_TIMEOUT_S:
            entry["heralding-timeout"] = dec(herald, 9)
        links.append(entry)
    if links:
        body["link-generation"] = {"link": links}
    flows = sorted(d.flows.get(node.node_id, []), key=lambda f: str(f["flow-id"]))
    if flows:
        body["flow"] = flows
    return body


def _end_node(d: _Devices, node: Node) -> Json:
    endpoints = sorted(d.endpoints.get(node.node_id, []), key=lambda e: str(e["name"]))
    source: Json = {"pump-enabled": bool(endpoints)}
    if node.node_id in d.pair_rate:
        source["pair-rate"] = dec(d.pair_rate[node.node_id], 3)
    body: Json = {"node-id": node.node_id, "source": source, "memory": _memory(node)}
    if endpoints:
        body["application-endpoint"] = endpoints
    return body


def _grid_nm(index: int) -> str:
    return dec(C_VACUUM_NM_THZ / (GRID_ANCHOR_THZ - GRID_SPACING_THZ * index), 3)


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
    attached = d.ports.get(node.node_id, [])
    if spec.add_drop_ports:
        body["add-drop-port"] = [
            {"port-number": i + 1, **({"attached-node": attached[i]} if i < len(attached)
                                      else {})} for i in range(spec.add_drop_ports)]
    if spec.switching_mode is SwitchingMode.CIRCUIT:
        _circuit_config(body, d.lightpaths.get(node.node_id, []))
    else:
        packet: Json = {"header-processing-time": dec(spec.header_processing_time_s, 9),
                        "payload-duration": dec(spec.payload_duration_s, 9)}
        routes = d.routes.get(node.node_id, {})
        if routes:
            packet["route"] = [{"destination-node": dest, "egress": egress}
                               for dest, (egress, _) in sorted(routes.items())]
        body["packet"] = packet
    return body


def _circuit_config(body: Json, lightpaths: list[_Lightpath]) -> None:
    channels: list[Json] = []
    connects: list[Json] = []
    for lp in sorted(lightpaths, key=lambda x: x.name):
        assert lp.channel is not None
        quantum, timing = 2 * lp.channel + 1, 2 * lp.channel + 2
        channels += [
            {"channel-id": quantum, "wavelength": _grid_nm(lp.channel), "kind": "quantum"},
            {"channel-id": timing, "kind": "timing",
             "wavelength": dec(TIMING_BASE_NM + TIMING_SPACING_NM * lp.channel, 3)},
        ]
        ports = {"source": lp.source, "destination": lp.destination}
        connects += [
            {"name": lp.name, "channel": quantum, **ports, "amplifier-bypass": True,
             "timing-companion": f"{lp.name}:timing"},
            {"name": f"{lp.name}:timing", "channel": timing, **ports,
             "amplifier-bypass": True},
        ]
    if channels:
        body["channel"] = sorted(channels, key=lambda c: int(c["channel-id"]))
        body["circuit"] = {"cross-connect": sorted(connects, key=lambda c: str(c["name"]))}


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
    return body


_BUILDERS = {
    DeviceKind.END_NODE.value: _end_node,
    DeviceKind.REPEATER.value: _repeater,
    DeviceKind.APC.value: _apc,
    DeviceKind.Q_ROADM.value: _qroadm,
}


def _collect(network: Network, plan: Plan) -> _Devices:
    d = _Devices(network)
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
        d.endpoint(a, mem[0], mem[-1], segs[0])
        d.endpoint(a, mem[-1], mem[0], segs[-1])
        for pos in range(1, len(mem) - 1):
            d.repeater_flow(a, mem[pos], pos)
        for seg in segs:
            d.through_roadms(a, seg)
    return d


def render_devices(network: Network, plan: Plan, *, kinds: Mapping[str, str]
                   ) -> dict[str, dict[str, Any]]:
    """Every managed device's full configuration (RFC 7951) in its own module."""
    d = _collect(network, plan)
    used = {n for a in plan.admitted if a.candidate for n in a.candidate.route.nodes}
    out: dict[str, dict[str, Any]] = {}
    for node_id, kind in sorted(kinds.items()):
        if node_id not in network.nodes:
            raise RenderError(f"device {node_id} is not a node of network "
                              f"{network.network_id}")
        node = network.nodes[node_id]
        if node.kind.value != kind:
            raise RenderError(f"device {node_id} is a {kind} but the topology says "
                              f"{node.kind.value}")
        if kind not in MODULES:
            if node_id in used:
                raise RenderError(f"flow through {node_id}: no device module for kind {kind}")
            log.debug("no device module for kind", node=node_id, kind=kind)
            continue
        module, top = MODULES[kind]
        out[node_id] = {f"{module}:{top}": _BUILDERS[kind](d, node)}
    unmanaged = sorted(n for n in used if n not in kinds
                       and network.nodes[n].kind.value != DeviceKind.APC.value)
    if unmanaged:
        raise RenderError(f"admitted flows need devices that are not managed: {unmanaged}")
    return out


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
    if module not in {m for m, _ in MODULES.values()}:
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
