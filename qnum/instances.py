"""Benchmark instances: random Waxman networks, real topologies from ``topohub``, requests.

Sizing choices (documented because they decide what the benchmark measures):

* Waxman graphs (``networkx.waxman_graph``) live in a square of side 25·√n km, so the
  nearest-neighbour spacing stays ≈ 12 km (metro/regional repeater spacing) whatever n;
  α is set so the Waxman length scale is ≈ 25 km and β so the mean degree is ≈ 4.  Fibres
  longer than ``MAX_WAXMAN_FIBRE_KM`` are dropped (nobody deploys a 200 km repeater hop
  next to 12 km ones) and stray components are joined to the giant one by their shortest
  possible fibre.  ~10 % of the
  nodes of degree ≥ 3 are circuit-switched q-ROADMs, the rest repeaters.
* Real topologies use topohub's fibre lengths (``dist``, km).  Backbone fibres are far
  longer than one heralded link can span, so a fibre longer than ``max_span_km`` is split
  into equal spans joined by inline repeaters (what a quantum backbone would deploy).
* Hardware (:class:`Hardware`): Waxman instances use near-term metro devices (6–16 memory
  qubits, T = 0.5–2 s, p_swap = 0.5 as for linear optics, λ_BSM = 0.99, 1 MHz sources,
  link fidelity 0.97–0.99); the continental backbones use long-haul devices (T = 5–10 s,
  λ = 0.998, link fidelity 0.99–0.995, 100 multiplexed modes) — with near-term devices no
  pair of backbone PoPs could share a useful pair at all.
* Requests join memory nodes 2..``max_hops`` hops apart (beyond ~6 swaps these parameters
  cannot reach any application threshold, so far pairs would only add rejections); the
  application mix is 40 % QKD, 30 % teleportation, 20 % DQC, 10 % sensing.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx

from qnum.io import AppClass, DeviceKind, Link, Network, Node, QRoadm, Request
from qnum.utility import UtilityParams

#: topohub keys of the real topologies the benchmark uses.
REAL_TOPOLOGIES = ("topozoo/Surfnet", "topozoo/Geant2012", "topozoo/Nsfnet", "sndlib/abilene")

MAX_WAXMAN_FIBRE_KM = 60.0
_SPACING_KM = 25.0

_APPS: tuple[tuple[AppClass, float], ...] = (
    (AppClass.QKD, 0.4),
    (AppClass.TELEPORTATION, 0.3),
    (AppClass.DQC, 0.2),
    (AppClass.DQS, 0.1),
)


@dataclass(frozen=True)
class Hardware:
    """Device parameters drawn for generated instances."""

    memory_qubits: tuple[int, int] = (6, 16)
    coherence_time_s: tuple[float, float] = (0.5, 2.0)
    bsm_fidelity: float = 0.99
    swap_success_probability: float = 0.5
    link_fidelity: tuple[float, float] = (0.97, 0.99)
    modes: int = 1


#: Metro / regional near-term hardware (Waxman instances).
NEAR_TERM = Hardware()
#: Long-haul hardware for continental backbones: better memories and gates, 100 temporal
#: modes per attempt (multiplexed repeaters), as a backbone would need to span 1000 km.
LONG_HAUL = Hardware(
    memory_qubits=(10, 24),
    coherence_time_s=(5.0, 10.0),
    bsm_fidelity=0.998,
    link_fidelity=(0.99, 0.995),
    modes=100,
)


def _repeater(node_id: str, rng: random.Random, hw: Hardware = NEAR_TERM) -> Node:
    return Node(
        node_id=node_id,
        kind=DeviceKind.REPEATER,
        memory_qubits=rng.randint(*hw.memory_qubits),
        coherence_time_s=rng.uniform(*hw.coherence_time_s),
        memory_efficiency=rng.uniform(0.9, 1.0),
        bsm_fidelity=hw.bsm_fidelity,
        swap_success_probability=hw.swap_success_probability,
    )


def _roadm(node_id: str) -> Node:
    return Node(
        node_id=node_id,
        kind=DeviceKind.Q_ROADM,
        roadm=QRoadm(degrees=8, add_drop_ports=8, wavelength_channels=16),
    )


def _fibre(
    link_id: str, a: str, b: str, km: float, rng: random.Random, hw: Hardware = NEAR_TERM
) -> Link:
    return Link(
        link_id=link_id,
        a=a,
        b=b,
        length_km=max(km, 0.1),
        source_rate_hz=1e6,
        link_fidelity=rng.uniform(*hw.link_fidelity),
        modes=hw.modes,
    )


def waxman_network(n: int, seed: int, mean_degree: float = 4.0) -> Network:
    """A connected Waxman graph of n nodes with realistic fibre lengths (module docstring)."""
    side_km = _SPACING_KM * math.sqrt(n)
    alpha = _SPACING_KM / (side_km * math.sqrt(2.0))
    probe = nx.waxman_graph(n, beta=1.0, alpha=alpha, seed=seed)
    pos = nx.get_node_attributes(probe, "pos")
    diameter = math.sqrt(2.0)
    weight = sum(
        math.exp(-math.dist(pos[u], pos[v]) / (alpha * diameter))
        for u in range(n)
        for v in range(u + 1, n)
    )
    beta = min(1.0, mean_degree * n / 2.0 / weight)
    graph = nx.waxman_graph(n, beta=beta, alpha=alpha, seed=seed)
    graph.remove_edges_from(
        [
            (u, v)
            for u, v in graph.edges
            if math.dist(pos[u], pos[v]) * side_km > MAX_WAXMAN_FIBRE_KM
        ]
    )
    _connect(graph, pos)
    rng = random.Random(seed)
    roadm_ids = {v for v in graph if graph.degree(v) >= 3 and rng.random() < 0.1}
    nodes = {f"n{v}": _roadm(f"n{v}") if v in roadm_ids else _repeater(f"n{v}", rng) for v in graph}
    links = {}
    for u, v in sorted(graph.edges):
        lid = f"n{u}-n{v}"
        links[lid] = _fibre(lid, f"n{u}", f"n{v}", math.dist(pos[u], pos[v]) * side_km, rng)
    return Network(network_id=f"waxman-{n}-{seed}", nodes=nodes, links=links)


def _connect(graph: nx.Graph, pos: dict[int, tuple[float, float]]) -> None:
    """Join every component to the largest by its shortest possible fibre."""
    comps = sorted(nx.connected_components(graph), key=len, reverse=True)
    giant = set(comps[0])
    for comp in comps[1:]:
        u, v = min(
            ((a, b) for a in comp for b in giant), key=lambda e: math.dist(pos[e[0]], pos[e[1]])
        )
        graph.add_edge(u, v)
        giant |= comp


def topohub_network(
    key: str, seed: int = 0, max_span_km: float = 50.0, hw: Hardware = LONG_HAUL
) -> Network:
    """A real topology from topohub, long fibres split by inline repeaters."""
    import topohub  # dev dependency: only the benchmark needs it

    graph = nx.node_link_graph(topohub.get(key), edges="edges")
    rng = random.Random(seed)
    nodes = {f"v{v}": _repeater(f"v{v}", rng, hw) for v in graph}
    links: dict[str, Link] = {}
    for u, v, data in sorted(graph.edges(data=True), key=lambda e: (str(e[0]), str(e[1]))):
        km = float(data["dist"])
        spans = max(1, math.ceil(km / max_span_km))
        chain = [f"v{u}", *(f"v{u}~v{v}.{i}" for i in range(1, spans)), f"v{v}"]
        for inline in chain[1:-1]:
            nodes[inline] = _repeater(inline, rng, hw)
        for a, b in itertools.pairwise(chain):
            lid = f"{a}-{b}"
            links[lid] = _fibre(lid, a, b, km / spans, rng, hw)
    return Network(network_id=key.replace("/", "-"), nodes=nodes, links=links)


def random_requests(
    network: Network,
    count: int,
    seed: int,
    endpoints: Sequence[str] | None = None,
    max_hops: int = 5,
) -> list[Request]:
    """``count`` requests with a mixed application profile (module docstring)."""
    rng = random.Random(seed)
    graph = nx.Graph()
    graph.add_edges_from((lk.a, lk.b) for lk in network.links.values())
    pool = (
        list(endpoints)
        if endpoints is not None
        else [n for n, node in network.nodes.items() if node.is_memory_node]
    )
    reach = {}
    out: list[Request] = []
    attempts = 0
    while len(out) < count and attempts < 50 * count:
        attempts += 1
        src = rng.choice(pool)
        if src not in reach:
            reach[src] = nx.single_source_shortest_path_length(graph, src, cutoff=max_hops)
        near = [d for d, hops in reach[src].items() if hops >= 2 and d in pool and d != src]
        if not near:
            continue
        dst = rng.choice(sorted(near))
        app = rng.choices([a for a, _ in _APPS], weights=[w for _, w in _APPS])[0]
        out.append(_request(f"req{len(out)}", src, dst, app, rng))
    return out


def _request(name: str, src: str, dst: str, app: AppClass, rng: random.Random) -> Request:
    min_fidelity = {
        AppClass.QKD: 0.85,
        AppClass.TELEPORTATION: 0.75,
        AppClass.DQC: 0.9,
        AppClass.DQS: 0.95,
    }[app]
    params = UtilityParams()
    if app is AppClass.DQC:
        params = UtilityParams(threshold_fidelity=0.9)
    elif app is AppClass.DQS:
        params = UtilityParams(threshold_fidelity=0.95, steepness=50.0)
    return Request(
        name=name,
        source=src,
        destination=dst,
        application=app,
        min_fidelity=min_fidelity,
        demanded_rate_hz=round(10 ** rng.uniform(0.0, 2.3), 3),
        weight=rng.choice((1.0, 1.0, 2.0, 3.0)),
        priority=1 if rng.random() < 0.1 else 0,
        utility_params=params,
    )


def small_network(
    edges: Sequence[tuple[str, str, float]],
    kinds: Mapping[str, DeviceKind] | None = None,
    memory: Mapping[str, int] | None = None,
    roadm: QRoadm | None = None,
    **link_fields: Any,
) -> Network:
    """A hand-sized network: ``edges`` as (a, b, km); nodes default to 10-qubit repeaters.

    ``kinds`` overrides device kinds (q-ROADMs get ``roadm``, default 4 channels/8 ports),
    ``memory`` memory sizes, ``link_fields`` any :class:`Link` field on every fibre.
    """
    kinds, memory = kinds or {}, memory or {}
    names = list(dict.fromkeys(n for a, b, _ in edges for n in (a, b)))
    nodes = {}
    for name in names:
        kind = kinds.get(name, DeviceKind.REPEATER)
        if kind is DeviceKind.Q_ROADM:
            nodes[name] = replace(
                _roadm(name),
                roadm=roadm or QRoadm(degrees=4, add_drop_ports=8, wavelength_channels=4),
            )
        else:
            nodes[name] = Node(
                node_id=name, kind=kind, memory_qubits=memory.get(name, 10), coherence_time_s=1.0
            )
    fields = {"source_rate_hz": 1e6, **link_fields}
    links = {
        f"{a}-{b}": Link(link_id=f"{a}-{b}", a=a, b=b, length_km=km, **fields) for a, b, km in edges
    }
    return Network(network_id="small", nodes=nodes, links=links)


def request(
    name: str, src: str, dst: str, app: AppClass = AppClass.TELEPORTATION, **fields: Any
) -> Request:
    """A request with test-friendly defaults (min-fidelity 0.6, demand 1000 Hz)."""
    values = {"min_fidelity": 0.6, "demanded_rate_hz": 1000.0, **fields}
    return Request(name=name, source=src, destination=dst, application=app, **values)
