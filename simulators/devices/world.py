"""The physical network the emulated devices live in.

A device's operational state depends on things outside the device: whether the fibre to
its neighbour is intact, whether the neighbour is powered, how far an inline polarisation
compensator (APC) has drifted.  `Topology` is the static plant read from a topology file
(RFC 8345 + sdqn-topology, RFC 7951 JSON); `World` adds the conditions that faults and the
devices themselves change at run time.  Devices read the world on every tick, so a fault
injected anywhere shows up in the operational state of every device it affects.

q-ROADMs are transparent (no memory): light entering one degree leaves another, paying the
insertion loss.  A *span* is therefore the fibre run between two memory nodes, possibly
through q-ROADMs; entanglement is generated per span (qnum/README.md, "Heralded elementary
links"; Jones et al., New J. Phys. 18, 083015 (2016) for the heralding schemes).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import networkx as nx
import numpy as np

from qnum.physics import DecoherenceModel, LinkParams, NodeParams, werner_from_fidelity
from qnum.physics.link import HeraldingScheme
from simulators.devices.pairs import JointDelivery
from southbound.kinds import DEVICE_KINDS, PlantRole, kind_spec

NETWORKS = "ietf-network:networks"
NODE_AUG = "sdqn-topology:quantum-node"
LINK_AUG = "sdqn-topology:quantum-link"
LINKS = "ietf-network-topology:link"

#: Kinds whose devices hold no memory and are not hops of an entanglement path.
TRANSPARENT_KINDS = frozenset(k.name for k in DEVICE_KINDS.values()
                              if k.role is PlantRole.TRANSPARENT)
#: Kinds that are link attributes, never link ends (sdqn-topology: an APC is inline).
INLINE_KINDS = frozenset(k.name for k in DEVICE_KINDS.values() if k.role is PlantRole.INLINE)


def default_adapter(kind: str) -> str:
    """The adapter a device of `kind` is reached with when its management names none."""
    spec = kind_spec(kind)
    return "netconf" if spec is None else spec.default_adapter


def _f(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key)
    return default if value is None else float(value)


@dataclass(frozen=True)
class PhysNode:
    """One node of the plant: its hardware facts and management endpoint."""

    node_id: str
    kind: str
    memory_qubits: int = 0
    coherence_time: float | None = None
    memory_efficiency: float = 1.0
    initial_fidelity: float = 1.0
    bsm_fidelity: float = 1.0
    swap_success_probability: float = 0.5
    multimode_capacity: int | None = None
    decoherence_model: str = "depolarising"
    qroadm: Mapping[str, Any] = field(default_factory=dict)
    address: str = "127.0.0.1"
    port: int = 0
    adapter: str = "netconf"

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PhysNode:
        q = raw.get(NODE_AUG, {})
        mgmt = q.get("management", {})
        coherence = q.get("coherence-time")
        kind = str(q.get("device-kind", "sdqn-types:end-node")).split(":")[-1]
        return cls(
            node_id=raw["node-id"],
            kind=kind,
            memory_qubits=int(q.get("memory-qubits", 0)),
            coherence_time=None if coherence is None else float(coherence),
            memory_efficiency=_f(q, "memory-efficiency", 1.0),
            initial_fidelity=_f(q, "initial-fidelity", 1.0),
            bsm_fidelity=_f(q, "bsm-fidelity", 1.0),
            swap_success_probability=_f(q, "swap-success-probability", 0.5),
            multimode_capacity=(None if q.get("multimode-capacity") is None
                                else int(q["multimode-capacity"])),
            decoherence_model=str(q.get("decoherence-model", "depolarising")),
            qroadm=dict(q.get("q-roadm", {})),
            address=str(mgmt.get("address", "127.0.0.1")),
            port=int(mgmt.get("port", 0)),
            adapter=str(mgmt.get("adapter", default_adapter(kind))),
        )

    def node_params(self) -> NodeParams:
        """The memory/swap model of qnum for this node (T2 absent = ideal memory); the BSM
        fidelity F acts as the depolarising factor (4F − 1)/3."""
        return NodeParams(
            self.coherence_time or math.inf,
            bsm_lambda=werner_from_fidelity(self.bsm_fidelity),
            swap_success_probability=self.swap_success_probability,
            memory_efficiency=self.memory_efficiency,
            decoherence_model=cast(DecoherenceModel, self.decoherence_model),
            initial_fidelity=self.initial_fidelity,
        )

    @property
    def insertion_loss_db(self) -> float:
        return _f(self.qroadm, "insertion-loss", 1.5)


@dataclass(frozen=True)
class PhysLink:
    """One bidirectional fibre."""

    link_id: str
    a: str
    b: str
    length_km: float
    attenuation: float = 0.2
    source_rate: float = 1e6
    heralding: str = "midpoint-source"
    detector_efficiency: float = 0.9
    modes: int = 1
    link_fidelity: float = 0.97
    wavelength: float = 1550.12
    compensator: str | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PhysLink:
        q = raw.get(LINK_AUG, {})
        return cls(
            link_id=raw["link-id"],
            a=raw["source"]["source-node"],
            b=raw["destination"]["dest-node"],
            length_km=_f(q, "fibre-length", 0.0),
            attenuation=_f(q, "attenuation", 0.2),
            source_rate=_f(q, "source-rate", 1e6),
            heralding=str(q.get("heralding-scheme", "midpoint-source")),
            detector_efficiency=_f(q, "detector-efficiency", 0.9),
            modes=int(q.get("multiplexing-modes", 1)),
            link_fidelity=_f(q, "link-fidelity", 0.97),
            wavelength=_f(q, "wavelength", 1550.12),
            compensator=q.get("compensator"),
        )

    def other(self, node: str) -> str:
        return self.b if node == self.a else self.a

    @property
    def loss_db(self) -> float:
        return self.attenuation * self.length_km


@dataclass(frozen=True)
class Span:
    """Fibres between two memory nodes, through zero or more transparent q-ROADMs."""

    ends: tuple[str, str]
    fibres: tuple[PhysLink, ...]
    roadms: tuple[PhysNode, ...] = ()

    @property
    def link_ids(self) -> tuple[str, ...]:
        return tuple(f.link_id for f in self.fibres)

    def reversed(self) -> Span:
        """The same run seen from its other end."""
        return Span((self.ends[1], self.ends[0]), self.fibres[::-1], self.roadms[::-1])

    def params(self, *, source_rate: float | None = None, modes: int | None = None
               ) -> LinkParams:
        """qnum's elementary-link model of the span.

        Loss adds up along the fibres plus one insertion loss per q-ROADM pass; the
        heralding scheme is that of the first fibre and the rate, detector and fidelity are
        the weakest along the run (one photon crosses all of it).
        """
        length = sum(f.length_km for f in self.fibres)
        fibre_loss = sum(f.loss_db for f in self.fibres)
        first = self.fibres[0]
        return LinkParams(
            length,
            source_rate_hz=source_rate or min(f.source_rate for f in self.fibres),
            attenuation_db_per_km=fibre_loss / length if length > 0 else 0.0,
            detector_efficiency=min(f.detector_efficiency for f in self.fibres),
            modes=modes or min(f.modes for f in self.fibres),
            link_fidelity=min(f.link_fidelity for f in self.fibres),
            heralding=cast(HeraldingScheme, first.heralding),
            extra_loss_db=sum(r.insertion_loss_db for r in self.roadms),
        )


class Topology:
    """The static plant: nodes and fibres of one quantum network."""

    def __init__(self, network_id: str, nodes: Iterable[PhysNode], links: Iterable[PhysLink]
                 ) -> None:
        self.network_id = network_id
        self.nodes = {n.node_id: n for n in nodes}
        self.links = {lk.link_id: lk for lk in links}
        self._by_node: dict[str, list[PhysLink]] = {n: [] for n in self.nodes}
        for lk in self.links.values():
            for end in (lk.a, lk.b):
                if end not in self.nodes:
                    raise ValueError(f"link {lk.link_id} names unknown node {end}")
                self._by_node[end].append(lk)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], network_id: str | None = None) -> Topology:
        networks = data[NETWORKS]["network"]
        if network_id is not None:
            networks = [n for n in networks if n["network-id"] == network_id]
        if not networks:
            raise ValueError(f"no network {network_id!r} in the topology")
        net = networks[0]
        return cls(net["network-id"], (PhysNode.from_json(n) for n in net.get("node", [])),
                   (PhysLink.from_json(lk) for lk in net.get(LINKS, [])))

    @classmethod
    def load(cls, path: Path, network_id: str | None = None) -> Topology:
        return cls.from_json(json.loads(path.read_text()), network_id)

    def span_modes(self, span: Span) -> int:
        """Modes per attempt on a span: its fibres' multiplexing, capped by both end
        memories' multimode capacity (one mode stored per memory and attempt)."""
        caps = [self.nodes[end].multimode_capacity for end in span.ends]
        return min([f.modes for f in span.fibres] + [c for c in caps if c is not None])

    def links_of(self, node_id: str) -> list[PhysLink]:
        return list(self._by_node.get(node_id, []))

    def compensated_by(self, apc_id: str) -> list[PhysLink]:
        return [lk for lk in self.links.values() if lk.compensator == apc_id]


def xor_error(errors: Iterable[float]) -> float:
    """Probability of an odd number of independent bit flips: e ⊕ s = e(1−s) + s(1−e)."""
    total = 0.0
    for s in errors:
        total = total * (1.0 - s) + s * (1.0 - total)
    return total


class World:
    """Run-time conditions of the plant shared by every device model.

    Writers are the fault injector (cuts, crashes, memory degradation) and the APC models
    (misalignment); readers are all device models on the ticker thread.  `version`
    increases with every change of connectivity or memory so that models can cache path
    computations.  `seed` seeds the
    random streams the world owns (the pairs each flow delivers to both its ends).
    """

    def __init__(self, topology: Topology, *, seed: int = 0) -> None:
        self.topology = topology
        self.seed = seed
        self._lock = threading.Lock()
        self._deliveries: dict[tuple[str, ...], JointDelivery] = {}
        self.cut_links: set[str] = set()
        self.down_nodes: set[str] = set()
        self.misalignment: dict[str, float] = {}  # link-id -> residual angle (rad)
        self.in_use: dict[str, set[str]] = {}    # link-id -> nodes generating on it
        self.sources_stable: set[str] = set()    # end nodes whose source is stable
        self.swaps: dict[str, set[frozenset[str]]] = {}  # repeater -> link pairs it swaps
        #: node -> factor its memories' coherence time is divided by (the fault
        #: memory-degradation); absent: the memories keep their rated coherence time
        self.memory_degradation: dict[str, float] = {}
        self.swap_version = 0
        self.version = 0
        self._plant = self._graph(usable_only=False)

    # -- conditions ----------------------------------------------------------------------

    def set_cut(self, link_id: str, cut: bool) -> None:
        if link_id not in self.topology.links:
            raise KeyError(f"unknown link {link_id!r}")
        with self._lock:
            (self.cut_links.add if cut else self.cut_links.discard)(link_id)
            self.version += 1

    def set_down(self, node_id: str, down: bool) -> None:
        if node_id not in self.topology.nodes:
            raise KeyError(f"unknown node {node_id!r}")
        with self._lock:
            (self.down_nodes.add if down else self.down_nodes.discard)(node_id)
            self.version += 1

    def set_memory_degradation(self, node_id: str, factor: float) -> None:
        """The node's memories keep coherence for 1/``factor`` of their rated time
        (1: repaired)."""
        if node_id not in self.topology.nodes:
            raise KeyError(f"unknown node {node_id!r}")
        if factor <= 0:
            raise ValueError("a degradation factor must be positive")
        with self._lock:
            if factor == 1.0:
                self.memory_degradation.pop(node_id, None)
            else:
                self.memory_degradation[node_id] = factor
            self.version += 1       # every chain through the node changes

    def degradation(self, node_id: str) -> float:
        """Factor the node's memory coherence time is divided by now (1: as rated)."""
        return self.memory_degradation.get(node_id, 1.0)

    def coherence_time(self, node_id: str) -> float | None:
        """The node's memory coherence time T2 now: rated (topology) over degradation;
        None for a node without a rated memory."""
        rated = self.topology.nodes[node_id].coherence_time
        return None if rated is None else rated / self.degradation(node_id)

    def node_params(self, node_id: str) -> NodeParams:
        """qnum's memory/swap model of the node as its hardware is now (degraded memories
        decohere faster than the topology says)."""
        params = self.topology.nodes[node_id].node_params()
        factor = self.degradation(node_id)
        if factor == 1.0 or math.isinf(params.coherence_time_s):
            return params
        return replace(params, coherence_time_s=params.coherence_time_s / factor)

    def set_in_use(self, node_id: str, link_ids: Iterable[str]) -> None:
        wanted = set(link_ids)
        with self._lock:
            for link_id, users in self.in_use.items():
                if link_id not in wanted:
                    users.discard(node_id)
            for link_id in wanted:
                self.in_use.setdefault(link_id, set()).add(node_id)

    def link_busy(self, link_id: str) -> bool:
        with self._lock:
            return bool(self.in_use.get(link_id))

    def node_up(self, node_id: str) -> bool:
        return node_id not in self.down_nodes

    def fibre_ok(self, link: PhysLink) -> bool:
        return link.link_id not in self.cut_links

    def misalignment_error(self, link_ids: Iterable[str]) -> float:
        """Bit-flip probability the residual polarisation misalignments add: sin²(θ/2)."""
        return xor_error(math.sin(self.misalignment.get(i, 0.0) / 2.0) ** 2 for i in link_ids)

    # -- spans and paths -----------------------------------------------------------------

    def span(self, node_id: str, link_id: str, neighbour: str) -> Span | None:
        """The run from ``node_id`` over fibre ``link_id`` to memory node ``neighbour``.

        Passes through q-ROADMs (transparent) only.  None if the fibre is not attached to
        the node or no such run exists in the plant.
        """
        topo = self.topology
        first = topo.links.get(link_id)
        if first is None or node_id not in (first.a, first.b):
            return None
        fibres, roadms, here, prev = [first], [], first.other(node_id), first
        while here != neighbour:
            node = topo.nodes[here]
            if node.kind not in TRANSPARENT_KINDS:
                return None
            nxt = self._through_roadm(here, prev, neighbour)
            if nxt is None:
                return None
            roadms.append(node)
            fibres.append(nxt)
            prev, here = nxt, nxt.other(here)
        return Span((node_id, neighbour), tuple(fibres), tuple(roadms))

    def _through_roadm(self, roadm: str, came: PhysLink, target: str) -> PhysLink | None:
        """The fibre out of a q-ROADM on the shortest run towards ``target``."""
        graph = self._plant
        best: tuple[float, PhysLink] | None = None
        for lk in self.topology.links_of(roadm):
            if lk.link_id == came.link_id:
                continue
            far = lk.other(roadm)
            try:
                rest = nx.shortest_path_length(graph, far, target, weight="length")
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                continue
            cost = lk.length_km + float(rest)
            if best is None or cost < best[0]:
                best = (cost, lk)
        return None if best is None else best[1]

    def span_usable(self, span: Span) -> bool:
        """Light passes: every fibre intact, every q-ROADM and both ends powered."""
        return (all(self.fibre_ok(f) for f in span.fibres)
                and all(self.node_up(r.node_id) for r in span.roadms)
                and all(self.node_up(e) for e in span.ends))

    def _graph(self, *, usable_only: bool) -> nx.Graph:
        graph = nx.Graph()
        for lk in self.topology.links.values():
            if usable_only and not (self.fibre_ok(lk) and self.node_up(lk.a)
                                    and self.node_up(lk.b)):
                continue
            graph.add_edge(lk.a, lk.b, length=lk.length_km, link=lk)
        return graph

    def paths(self, source: str, destination: str, limit: int = 8) -> list[list[Span]]:
        """Up to ``limit`` usable simple paths, shortest (by fibre length) first, as spans
        between memory nodes."""
        graph = self._graph(usable_only=True)
        try:
            found = nx.shortest_simple_paths(graph, source, destination, weight="length")
            routes: list[Sequence[str]] = list(itertools.islice(found, limit))
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return []
        return [self._spans(graph, nodes) for nodes in routes]

    def path(self, source: str, destination: str) -> list[Span] | None:
        """Shortest usable path (by fibre length) as spans between memory nodes."""
        found = self.paths(source, destination, limit=1)
        return found[0] if found else None

    def _spans(self, graph: nx.Graph, nodes: Sequence[str]) -> list[Span]:
        spans: list[Span] = []
        start, fibres, roadms = nodes[0], [], []
        for here, there in itertools.pairwise(nodes):
            fibres.append(graph.edges[here, there]["link"])
            node = self.topology.nodes[there]
            if node.kind in TRANSPARENT_KINDS and there != nodes[-1]:
                roadms.append(node)
                continue
            spans.append(Span((start, there), tuple(fibres), tuple(roadms)))
            start, fibres, roadms = there, [], []
        return spans

    def joint_delivery(self, flow: str, ends: Iterable[str]) -> JointDelivery:
        """The pair process of flow ``flow`` between two end nodes, shared by both ends
        (`simulators.devices.pairs`); its random stream depends on the seed and the flow
        only, not on the order in which devices tick."""
        key = (flow, *sorted(ends))
        with self._lock:
            found = self._deliveries.get(key)
            if found is None:
                rng = np.random.default_rng([self.seed, zlib.crc32("\0".join(key).encode())])
                found = self._deliveries[key] = JointDelivery(rng)
            return found

    # -- what the repeaters are set up to do ---------------------------------------------

    def set_swaps(self, node_id: str, pairs: Iterable[frozenset[str]]) -> None:
        """The link pairs a repeater currently swaps (its running flows)."""
        new = set(pairs)
        with self._lock:
            if self.swaps.get(node_id) != new:
                self.swaps[node_id] = new
                self.swap_version += 1

    def swaps_between(self, node_id: str, first: Span, second: Span) -> bool:
        """Whether a repeater joins the pairs of two consecutive spans of a path."""
        pair = frozenset({first.fibres[-1].link_id, second.fibres[0].link_id})
        return pair in self.swaps.get(node_id, set())

    def configured_path(self, source: str, destination: str) -> list[Span] | None:
        """The shortest usable path whose every repeater swaps between its two spans.

        Entanglement only reaches the far end where the controller has set up the swaps;
        a fibre path alone delivers nothing beyond one elementary link.
        """
        for spans in self.paths(source, destination):
            if all(self.swaps_between(a.ends[1], a, b) for a, b in itertools.pairwise(spans)):
                return spans
        return None
