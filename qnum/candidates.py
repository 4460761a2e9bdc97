"""Per-request feasible configurations ("candidates") for the Q-NUM model.

A candidate fixes everything about how a request would be served except its capacity share:
the route (node and fibre sequence), end-to-end purification rounds and protocol, the
memory cut-off, and the *share floor* σ.  Its rate per unit share, fidelity, memory,
q-ROADM channel/port usage and latency are computed **exactly** with
:func:`qnum.physics.chain_performance`; the solver then only picks one candidate and a
share s ∈ [σ, 1] per admitted request.

Declared configuration space
----------------------------
"Optimal" is only meaningful over a stated space.  For each request the space
(:class:`CandidateOptions`) is every combination of

* a simple route of at most ``max_hops`` fibres (default 5) whose inner nodes may relay
  (repeaters with two qubits, transparent devices; of parallel fibres the least lossy);
* 0 to ``max_purification_rounds`` end-to-end rounds (default 2) of ``protocol``;
* 0 to ``max_link_purification_rounds`` per-link rounds r_L (default 0) of ``protocol``:
  every elementary link of the route is purified r_L rounds by its two nodes before any
  swap (``qnum.physics.link_purification``).  r_L is uniform along a route: the space
  grows by a factor (max + 1), not (max + 1)^links, and a uniform value is what one
  device setting per flow expresses; per-link vectors are a possible refinement;
* a cut-off kind from ``cutoff_kinds``: "budget" (the whole coherence budget) and "tight"
  (``tight_cutoff_factor`` × the mean wait, offered wherever that window is shorter than
  the budget);
* a share floor from ``share_levels``.

A request's candidates are *complete* when every configuration of its space is listed or
dominated by a listed one; the solver reports "optimal" only when every request's set is.

Why routes are enumerated, not found by a shortest-path search
---------------------------------------------------------------
Path quality is multiplicative (success Π p_i·Π p_swap, Werner parameter Π w_i·Π λ) and
not isotonic once memories decohere and purification is applied: the best path to a node
is not a prefix of the best path through it, so Dijkstra on any additive weight can miss
the optimum.  Routes are therefore listed by depth-first search (:func:`enumerate_routes`)
with two exact prunes: a hop bound (fewest remaining hops to the destination) and a
fidelity bound (the ideal Werner parameter of a prefix, with no memory decoherence and
the best purification, only falls as the route grows; decoherence only lowers F and
recurrence purification is monotone in F; a link that may be purified counts with the
largest |Pauli eigenvalue| its purified pair can reach, ``link_bound``).  Every route is
evaluated exactly.  When a request has more than ``route_limit`` routes, additive weights
serve as a *generator* instead: Yen's k shortest simple paths (networkx
``shortest_simple_paths``) under three log metrics — −ln(success) (rate), −ln(Werner
parameter) (fidelity) and fibre length — give a small, diverse set, and the request's set
is marked incomplete.

Exact pruning
-------------
A configuration is dropped only when another one of the same request is at least as good
in every respect the model uses (:func:`dominates`): the same fibres, no more memory, a
share floor no higher, quality and fidelity no lower and, at every share, a demand-capped rate
min(r·s, D) no lower.  No other trim applies to a complete set.

Physics mapping choices (documented because they shape every candidate)
------------------------------------------------------------------------
* Memory nodes (end nodes, repeaters) terminate elementary links and swap; only repeaters
  may be intermediate hops.  Every other device kind (q-ROADM, APC, source, detector) is
  transparent: consecutive fibres through it form one elementary link whose length is the
  sum, whose loss includes each q-ROADM's insertion loss, and whose source rate, detector
  efficiency, modes and link fidelity are the worst of its fibres.
* A circuit-switched q-ROADM gives each elementary link through it one wavelength channel
  (a static cross-connect) and one add/drop port per side that faces a non-ROADM node.
* Time-sharing domains ("frames"): an elementary link must attempt in the *same* time slots
  on every fibre it crosses.  Per-fibre share limits are then not enough (three lightpaths
  pairwise sharing a fibre around a ring of q-ROADMs each fit per fibre but cannot be
  aligned), so all elementary links through one *transparent island* — a connected set of
  transparent nodes — share one TDMA frame, and a fibre between two memory nodes is its own
  frame.  Likewise wavelength channels are counted per island against the smallest q-ROADM
  of the island, which guarantees wavelength continuity.  Both are exact for the common
  single-q-ROADM island and conservative for larger ones.
  A packet-switched q-ROADM uses no dedicated channel; its burst-switching loss
  K = P^n (T_Q − n·T_P)/T_Q (qnum/README.md, "Packet-switched q-ROADM path") is applied as
  an extra loss of −10·log10 K dB.
* Share floor σ: waiting for the slowest link grows as 1/s when a request gets only a share
  s of each fibre's attempt slots, so fidelity falls with s.  A candidate is evaluated at
  s = σ and is valid for every s ∈ [σ, 1]: its fidelity is the value at σ (a lower bound
  for s ≥ σ) and its rate per unit share is rate(σ)/σ (exact without cut-off, a lower
  bound with one).  Several σ levels per route let the solver trade fidelity for sharing.
* Cut-off: every candidate uses a round window c ≤ T_ent − latency, so *every* delivered
  pair respects the coherence budget (classical signalling + waiting < T_ent), not just the
  average; a "tight" window (a multiple of the mean wait) trades rate for fidelity.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx

from qnum.io import DeviceKind, InputError, Link, Network, Node, Request, SwitchingMode
from qnum.physics import (
    MAX_PURIFICATION_ROUNDS,
    PAIR_CLASSICAL_LIMIT,
    ChainPerformance,
    LinkParams,
    NodeParams,
    attempt_success_probability,
    chain_performance,
    fidelity_from_werner,
    iterate,
    link_bound,
    packet_switch_keep_fraction,
    purification_ceiling,
    werner_from_fidelity,
)
from qnum.utility import quality

_LN10_OVER_10 = math.log(10.0) / 10.0
_REL_TOL = 1e-9


#: The cut-off kinds of the declared space (module docstring, "Declared configuration space").
CUTOFF_KINDS: tuple[str, ...] = ("budget", "tight")


@dataclass(frozen=True)
class CandidateOptions:
    """The declared configuration space of a request, and the limits of its search.

    The space (module docstring): simple routes of at most ``max_hops`` fibres, 0 to
    ``max_purification_rounds`` rounds of ``protocol``, the cut-off kinds in
    ``cutoff_kinds`` and the share floors in ``share_levels``.  ``route_limit`` bounds the
    exhaustive route search per request; beyond it the routes come from k shortest paths
    (``paths_per_metric`` per metric, at most ``max_routes``) and the request's candidate
    set is marked incomplete.  ``max_candidates`` (off by default) keeps only the best few
    candidates per request, which also marks the set incomplete.
    """

    max_hops: int = 5
    max_purification_rounds: int = 2
    #: Off by default, like the controller's leaf: plans stay what they were until an
    #: operator declares link rounds (the exhaustive check and its bench declare 1).
    max_link_purification_rounds: int = 0
    protocol: str = "dejmps"
    cutoff_kinds: tuple[str, ...] = CUTOFF_KINDS
    share_levels: tuple[float, ...] = (1.0, 0.3, 0.1, 0.03)
    tight_cutoff_factor: float | None = 2.0
    route_limit: int = 256
    paths_per_metric: int = 3
    max_routes: int = 6
    max_candidates: int | None = None
    fallback_candidates: int = 24

    def __post_init__(self) -> None:
        if not 0 <= self.max_purification_rounds <= MAX_PURIFICATION_ROUNDS:
            raise ValueError(f"max_purification_rounds must lie in 0..{MAX_PURIFICATION_ROUNDS}")
        if not 0 <= self.max_link_purification_rounds <= MAX_PURIFICATION_ROUNDS:
            raise ValueError(
                f"max_link_purification_rounds must lie in 0..{MAX_PURIFICATION_ROUNDS}")
        if not self.share_levels or any(not 0.0 < s <= 1.0 for s in self.share_levels):
            raise ValueError("share levels must lie in (0, 1]")
        if not self.cutoff_kinds or not set(self.cutoff_kinds) <= set(CUTOFF_KINDS):
            raise ValueError(f"cutoff kinds must be a non-empty subset of {CUTOFF_KINDS}")
        if self.max_hops < 1 or self.route_limit < 1:
            raise ValueError("max_hops and route_limit must be >= 1")
        if self.paths_per_metric < 1 or self.max_routes < 1 or self.fallback_candidates < 1 or (
            self.max_candidates is not None and self.max_candidates < 1
        ):
            raise ValueError("path and candidate limits must be >= 1")

    @property
    def tight_cutoff(self) -> float | None:
        """The tight window's multiple of the mean wait, None when the kind is not declared."""
        return self.tight_cutoff_factor if "tight" in self.cutoff_kinds else None


@dataclass(frozen=True)
class Segment:
    """One elementary link: memory node → (transparent nodes) → memory node."""

    nodes: tuple[str, ...]
    links: tuple[str, ...]
    params: LinkParams
    roadm_channels: tuple[str, ...] = ()
    add_drop_ports: tuple[str, ...] = ()
    island: str | None = None

    @property
    def frame(self) -> str:
        """The TDMA frame this elementary link time-shares (module docstring)."""
        return self.island if self.island is not None else self.links[0]


@dataclass(frozen=True)
class Route:
    nodes: tuple[str, ...]
    links: tuple[str, ...]
    segments: tuple[Segment, ...]
    length_km: float

    @property
    def memory_nodes(self) -> tuple[str, ...]:
        """Source, repeaters (in order), destination."""
        return (self.segments[0].nodes[0], *(seg.nodes[-1] for seg in self.segments))


@dataclass(frozen=True)
class Candidate:
    """One configuration of one request; rate/fidelity from ``chain_performance``."""

    request: str
    route: Route
    purification_rounds: int
    protocol: str
    cutoff_kind: str
    cutoff_s: float
    min_share: float
    rate_per_share_hz: float
    fidelity: float
    quality: float
    latency_s: float
    waiting_time_s: float
    t_ent_s: float
    memory: Mapping[str, int]
    roadm_channels: Mapping[str, int] = field(default_factory=dict)
    add_drop_ports: Mapping[str, int] = field(default_factory=dict)
    island_channels: Mapping[str, int] = field(default_factory=dict)
    link_purification_rounds: int = 0

    @property
    def links(self) -> tuple[str, ...]:
        return self.route.links

    @property
    def resource_use(self) -> tuple[tuple[str, Mapping[str, int]], ...]:
        """Every resource row but the TDMA frames, as (kind, amount per key): memory
        qubits per node, lightpaths per transparent island, add/drop ports per q-ROADM
        (the kinds ``Problem.capacity`` knows)."""
        return (("memory", self.memory), ("channels", self.island_channels),
                ("ports", self.add_drop_ports))

    @property
    def frames(self) -> dict[str, int]:
        """TDMA frames used (with multiplicity): Σ count·share ≤ 1 per frame."""
        return _count(seg.frame for seg in self.route.segments)

    @property
    def utility_per_share(self) -> float:
        """U at share 1 without the demand cap: r_c·q(F_c)."""
        return self.rate_per_share_hz * self.quality

    @property
    def key(self) -> tuple[object, ...]:
        """Identity across re-solves (same fibres and configuration → same key)."""
        return (self.route.links, self.purification_rounds, self.cutoff_kind, self.min_share,
                self.link_purification_rounds)


@dataclass(frozen=True)
class RequestCandidates:
    """A request's candidates; ``complete`` when they cover its whole declared space.

    Complete means every configuration of the space is either listed or dominated by a
    listed one (:func:`dominates`), so an optimum over the list is an optimum over the
    space.  A hand-built set declares its own space and is complete by default.
    """

    request: Request
    candidates: tuple[Candidate, ...]
    reason: str | None = None
    complete: bool = True


# ----------------------------------------------------------------------------- graph


def link_params(link: Link, extra_loss_db: float = 0.0) -> LinkParams:
    return LinkParams(
        link.length_km,
        source_rate_hz=link.source_rate_hz,
        attenuation_db_per_km=link.attenuation_db_per_km,
        detector_efficiency=max(link.detector_efficiency, 1e-12),
        modes=link.modes,
        link_fidelity=link.link_fidelity,
        heralding=link.heralding.value,
        extra_loss_db=extra_loss_db,
        handshake_round_trips=link.handshake_round_trips,
        herald_rounds=link.herald_rounds,
    )


def node_params(node: Node) -> NodeParams:
    """The chain model's node: ``bsm-fidelity`` is a fidelity, its depolarising factor is
    (4F − 1)/3 (qnum/README.md, "Entanglement swapping")."""
    return NodeParams(
        node.coherence_time_s,
        bsm_lambda=werner_from_fidelity(node.bsm_fidelity),
        swap_success_probability=node.swap_success_probability,
        memory_efficiency=node.memory_efficiency,
        decoherence_model=node.decoherence_model,
        initial_fidelity=node.initial_fidelity,
        swap_pairing_round_trips=node.swap_pairing_round_trips,
        swap_outcome_route=node.swap_outcome_route.value,
    )


def node_werner_factor(node: Node, link_rounds: int = 0) -> float:
    """What a node multiplies a route's Werner parameter by, decoherence aside: its write
    into memory on both of its links (each link pair stores one half here) and, between
    two links, its swap.  End nodes of a route write once and do not swap.

    With per-link rounds (``link_rounds`` > 0) the writes happen *before* purification,
    which wins part of them back, so a bound may not charge them after the link's
    ``link_bound``: only the swap remains (the writes lower the raw pair, and
    ``link_bound`` is non-decreasing, so leaving them out keeps it an upper bound)."""
    swap = werner_from_fidelity(node.bsm_fidelity)
    if link_rounds > 0:
        return swap
    write = werner_from_fidelity(node.initial_fidelity)
    return swap * write**2


def usable_link(link: Link) -> bool:
    """Fibres that can carry entanglement at all: some capacity and an entangled herald."""
    return (
        link.source_rate_hz > 0.0
        and link.detector_efficiency > 0.0
        and link.link_fidelity > PAIR_CLASSICAL_LIMIT
    )


def _node_costs(node: Node) -> tuple[float, float]:
    """(−ln success, −ln Werner) a node adds when a route passes through it."""
    if node.is_memory_node:
        p = node.swap_success_probability * node.memory_efficiency**2
        return (-math.log(p) if p > 0 else math.inf), -math.log(node_werner_factor(node))
    if node.roadm is not None:
        return node.roadm.insertion_loss_db * _LN10_OVER_10, 0.0
    return 0.0, 0.0


def transparent_islands(network: Network) -> dict[str, str]:
    """Transparent node → id of its island (connected transparent nodes), "island:<min id>"."""
    inner = nx.Graph()
    inner.add_nodes_from(n for n, node in network.nodes.items() if not node.is_memory_node)
    inner.add_edges_from(
        (lk.a, lk.b) for lk in network.links.values() if lk.a in inner and lk.b in inner
    )
    out = {}
    for comp in nx.connected_components(inner):
        ident = f"island:{min(comp)}"
        out.update(dict.fromkeys(comp, ident))
    return out


def build_graph(network: Network) -> nx.Graph:
    """Undirected graph of usable fibres with the three log/length surrogate weights.

    Node costs are split half onto each incident edge, so a path's weight is the sum over
    its edges plus its inner nodes (the endpoints' halves are a per-request constant).
    Of parallel fibres the least lossy is kept.
    """
    graph = nx.Graph(islands=transparent_islands(network))
    graph.add_nodes_from(network.nodes)
    for link in network.links.values():
        if not usable_link(link):
            continue
        p = attempt_success_probability(link_params(link))
        if p <= 0.0:
            continue
        cost_a, cost_b = _node_costs(network.nodes[link.a]), _node_costs(network.nodes[link.b])
        weights = {
            "rate": -math.log(p) + (cost_a[0] + cost_b[0]) / 2.0,
            "fidelity": -math.log(werner_from_fidelity(link.link_fidelity))
            + (cost_a[1] + cost_b[1]) / 2.0,
            "length": link.length_km,
        }
        old = graph.get_edge_data(link.a, link.b)
        if old is None or weights["rate"] < old["rate"]:
            graph.add_edge(link.a, link.b, link=link.link_id, **weights)
    return graph


def _may_transit(node: Node) -> bool:
    """Repeaters and relaying end nodes with two qubits, and transparent devices, can be
    inner hops (an inner memory node swaps, one half from each side)."""
    if node.kind is DeviceKind.END_NODE and not node.relay:
        return False
    return not node.is_memory_node or node.memory_qubits >= 2


def relay_view(network: Network, graph: nx.Graph, source: str, destination: str) -> nx.Graph:
    """``graph`` restricted to the nodes a route between the endpoints may use: the
    endpoints and the nodes that may relay (``_may_transit``)."""
    allowed = {n for n, node in network.nodes.items() if _may_transit(node)}
    allowed |= {source, destination}
    return nx.subgraph_view(graph, filter_node=lambda n: n in allowed)


def candidate_routes(
    network: Network, graph: nx.Graph, source: str, destination: str, options: CandidateOptions
) -> list[tuple[str, ...]]:
    """Union of the k shortest simple paths under each surrogate metric, in first-seen order."""
    view = relay_view(network, graph, source, destination)
    seen: dict[tuple[str, ...], None] = {}
    for metric in ("rate", "fidelity", "length"):
        paths = nx.shortest_simple_paths(view, source, destination, weight=metric)
        for path in itertools.islice(paths, options.paths_per_metric):
            seen.setdefault(tuple(path), None)
    return list(seen)


def prefix_werner_bound(closed: float, open_w: float, options: CandidateOptions) -> float:
    """Optimistic Werner parameter of a prefix from :func:`extend_prefix_werner`'s pair:
    the open link may still be purified, so it counts with its ``link_bound`` (which is
    non-decreasing in the link's Werner parameter, so it bounds every completion)."""
    return closed * link_bound(open_w, options.max_link_purification_rounds, options.protocol)


def _purified_bound(w: float, options: CandidateOptions) -> float:
    """Best fidelity from an ideal Werner parameter w after 0..max purification rounds
    (``end_to_end_bound``)."""
    return end_to_end_bound(fidelity_from_werner(w), options.max_purification_rounds,
                            options.protocol, options.max_link_purification_rounds)


def end_to_end_bound(f0: float, rounds: int, protocol: str, link_rounds: int) -> float:
    """Best fidelity after 0..``rounds`` end-to-end rounds of a chain pair whose fidelity
    is at most ``f0``.

    Without per-link rounds the pair is Bell-diagonal with λ_X = λ_Y ≤ λ_Z, and the
    rounds on the Werner pair of fidelity f0 bound it (purification is monotone in F on
    that family).  Per-link DEJMPS makes asymmetric pairs that end-to-end DEJMPS purifies
    better than that Werner pair, so those spaces use ``purification_ceiling``, valid for
    every pair with non-negative eigenvalues.
    """
    if link_rounds > 0:
        return purification_ceiling(f0, rounds)
    if f0 <= PAIR_CLASSICAL_LIMIT:
        return f0
    return max(iterate(protocol, f0, r)[0] for r in range(rounds + 1))


def _werner_floor(request: Request, options: CandidateOptions) -> float:
    """A Werner parameter w known to miss the request's fidelity floor even with no
    decoherence and the best of 0..max rounds of purification.

    Purification output fidelity is monotone in its input, so every route whose ideal
    Werner parameter is at most this value is infeasible; bisection keeps the invariant
    that the lower end fails (−1 when every value reaches the floor).
    """
    def best(w: float) -> float:
        return _purified_bound(w, options)

    if best(0.0) >= request.min_fidelity:
        return -1.0  # no Werner parameter misses the floor: prune nothing
    if best(1.0) < request.min_fidelity:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2.0
        if best(mid) < request.min_fidelity:
            lo = mid
        else:
            hi = mid
    return lo


def extend_prefix_werner(network: Network, destination: str, nb: str, closed: float,
                         open_w: float, fibre: Link,
                         options: CandidateOptions | None = None) -> tuple[float, float]:
    """Ideal Werner parameter of a route prefix extended by ``fibre`` to ``nb``, as
    (closed part, open elementary link's worst fibre): reaching a memory node closes the
    open link and, short of the destination, multiplies in that node's swap and writes
    (``node_werner_factor``).  Every factor is at most 1 and a link takes its worst fibre,
    so the product only falls as a route grows and bounds every completion (no memory
    decoherence, the end nodes' writes left out).  A closed link enters with the largest
    |Pauli eigenvalue| it can reach under 0..max per-link rounds (``link_bound``: at least
    its Werner parameter); the open one is left raw (``prefix_werner_bound`` adds it)."""
    options = options or CandidateOptions()
    seg = min(open_w, werner_from_fidelity(fibre.link_fidelity))
    node = network.nodes[nb]
    if not node.is_memory_node:
        return closed, seg
    link_rounds = options.max_link_purification_rounds
    factor = 1.0 if nb == destination else node_werner_factor(node, link_rounds)
    seg = link_bound(seg, link_rounds, options.protocol)
    return closed * seg * factor, 1.0


def enumerate_routes(
    network: Network,
    graph: nx.Graph,
    request: Request,
    options: CandidateOptions,
    diag: _Diagnosis | None = None,
) -> list[tuple[str, ...]] | None:
    """Every simple route of at most ``max_hops`` fibres that may reach the fidelity floor,
    by depth-first search; None when there are more than ``route_limit``.

    Two exact prunes keep the search small.  Hops: a prefix is dropped when even the
    fewest remaining hops to the destination exceed the limit.  Fidelity: the ideal
    Werner parameter of a prefix (closed elementary links times the swap factors, times
    the worst fibre of the open link) only falls as the route grows — elementary links
    take their worst fibre and every factor is at most 1 — so a prefix at or below
    :func:`_werner_floor` cannot lead to a feasible route.
    """
    source, destination = request.source, request.destination
    view = relay_view(network, graph, source, destination)
    if source not in view or destination not in view:
        return []
    hops_left = nx.single_source_shortest_path_length(view, destination, cutoff=options.max_hops)
    floor = _werner_floor(request, options)
    found: list[tuple[str, ...]] = []
    path = [source]
    on_path = {source}
    budget = [options.route_limit * 200]  # node expansions before giving up

    def visit(node: str, closed: float, open_min: float) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        for nb in view.neighbors(node):
            too_far = len(path) + hops_left.get(nb, options.max_hops + 1) > options.max_hops
            if nb in on_path or too_far:
                continue
            fibre = network.links[view.edges[node, nb]["link"]]
            closed_nb, open_nb = extend_prefix_werner(network, destination, nb, closed,
                                                      open_min, fibre, options)
            prefix_w = prefix_werner_bound(closed_nb, open_nb, options)
            if prefix_w <= floor:
                if diag is not None:
                    diag.counts["bound"] += 1
                    diag.best_bound = max(diag.best_bound, _purified_bound(prefix_w, options))
                continue
            path.append(nb)
            on_path.add(nb)
            if nb == destination:
                if network.nodes[nb].is_memory_node:
                    found.append(tuple(path))
                ok = len(found) <= options.route_limit
            else:
                ok = visit(nb, closed_nb, open_nb)
            path.pop()
            on_path.discard(nb)
            if not ok:
                return False
        return True

    if not visit(source, 1.0, 1.0):
        return None

    def surrogate(route: tuple[str, ...]) -> tuple[float, float, float, tuple[str, ...]]:
        edges = [view.edges[u, v] for u, v in itertools.pairwise(route)]
        return (math.fsum(e["rate"] for e in edges), math.fsum(e["fidelity"] for e in edges),
                math.fsum(e["length"] for e in edges), route)

    return sorted(found, key=surrogate)  # best rate surrogate first, as k-shortest lists them


def build_route(network: Network, graph: nx.Graph, path: Sequence[str]) -> Route | None:
    """Split a node path into elementary links at memory nodes; None if a segment is dead."""
    links = tuple(graph.edges[u, v]["link"] for u, v in itertools.pairwise(path))
    segments: list[Segment] = []
    start = 0
    for idx in range(1, len(path)):
        if network.nodes[path[idx]].is_memory_node:
            seg = _segment(network, path[start : idx + 1], links[start:idx], graph.graph["islands"])
            if seg is None:
                return None
            segments.append(seg)
            start = idx
    length = math.fsum(network.links[lk].length_km for lk in links)
    return Route(nodes=tuple(path), links=links, segments=tuple(segments), length_km=length)


def _segment(
    network: Network, nodes: Sequence[str], links: Sequence[str], islands: Mapping[str, str]
) -> Segment | None:
    fibres = [network.links[lk] for lk in links]
    inner = [network.nodes[n] for n in nodes[1:-1]]
    roadms = [n for n in inner if n.roadm is not None]
    extra_db = math.fsum(n.roadm.insertion_loss_db for n in roadms if n.roadm is not None)
    packet = [n.roadm for n in roadms if n.roadm and n.roadm.switching_mode is SwitchingMode.PACKET]
    if packet:
        keep = packet_switch_keep_fraction(
            math.prod(r.availability for r in packet) ** (1.0 / len(packet)),
            len(packet),
            min(r.payload_duration_s for r in packet),
            math.fsum(r.header_processing_time_s for r in packet) / len(packet),
        )
        if keep <= 0.0:
            return None
        extra_db += -10.0 * math.log10(keep)
    circuit = [
        n.node_id for n in roadms if n.roadm and n.roadm.switching_mode is SwitchingMode.CIRCUIT
    ]
    ports = [
        nodes[i]
        for i in range(1, len(nodes) - 1)
        if nodes[i] in circuit
        for nb in (nodes[i - 1], nodes[i + 1])
        if network.nodes[nb].roadm is None
    ]
    length = math.fsum(f.length_km for f in fibres)
    loss = math.fsum(f.length_km * f.attenuation_db_per_km for f in fibres)
    params = LinkParams(
        length,
        source_rate_hz=min(f.source_rate_hz for f in fibres),
        attenuation_db_per_km=loss / length if length > 0 else fibres[0].attenuation_db_per_km,
        detector_efficiency=min(f.detector_efficiency for f in fibres),
        # each attempt stores one mode per memory: the ends' multimode capacity caps it
        modes=min(
            [f.modes for f in fibres]
            + [
                cap
                for cap in (network.nodes[nodes[0]].multimode_capacity,
                            network.nodes[nodes[-1]].multimode_capacity)
                if cap is not None
            ]
        ),
        link_fidelity=min(f.link_fidelity for f in fibres),
        heralding=fibres[0].heralding.value,
        extra_loss_db=extra_db,
        handshake_round_trips=fibres[0].handshake_round_trips,
        herald_rounds=fibres[0].herald_rounds,
    )
    island = islands[nodes[1]] if len(nodes) > 2 else None
    return Segment(tuple(nodes), tuple(links), params, tuple(circuit), tuple(ports), island)


# ----------------------------------------------------------------------------- evaluation


@dataclass
class _Diagnosis:
    """Why configurations were discarded, to explain an empty candidate set."""

    best_bound: float = 0.0
    best_fidelity: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    memory: str = ""


def fidelity_upper_bound(network: Network, route: Route, rounds: int, protocol: str,
                         link_rounds: int = 0) -> float:
    """F with no memory decoherence after the best of 0..rounds end-to-end purification
    rounds and 0..link_rounds per-link rounds (each link at its ``link_bound``)."""
    w = math.prod(link_bound(werner_from_fidelity(seg.params.link_fidelity), link_rounds,
                             protocol) for seg in route.segments)
    w *= math.prod(node_werner_factor(network.nodes[n], link_rounds)
                   for n in route.memory_nodes[1:-1])
    if link_rounds == 0:   # purified links win back their writes (``node_werner_factor``)
        w *= math.prod(
            werner_from_fidelity(network.nodes[n].initial_fidelity)
            for n in (route.memory_nodes[0], route.memory_nodes[-1])
        )
    return end_to_end_bound(fidelity_from_werner(w), rounds, protocol, link_rounds)


class _RouteEvaluator:
    """Exact evaluation of one route for one request over σ levels, cut-offs and rounds."""

    def __init__(
        self,
        network: Network,
        request: Request,
        route: Route,
        options: CandidateOptions,
        diag: _Diagnosis,
    ) -> None:
        self.network, self.request, self.route = network, request, route
        self.options, self.diag = options, diag
        mem = route.memory_nodes
        self.links = [seg.params for seg in route.segments]
        self.repeaters = [node_params(network.nodes[n]) for n in mem[1:-1]]
        self.ends = [node_params(network.nodes[mem[0]]), node_params(network.nodes[mem[-1]])]
        self.params = request.utility_params.model_copy(
            update={"min_fidelity": request.min_fidelity}
        )
        self.ideal_fidelity = fidelity_upper_bound(network, route, 0, options.protocol)

    def perf(self, share: float, rounds: int, cutoff: float | None,
             link_rounds: int = 0) -> ChainPerformance:
        return chain_performance(
            self.links,
            self.repeaters,
            rounds,
            self.options.protocol,
            shares=[share] * len(self.links),
            cutoff_s=cutoff,
            end_nodes=self.ends,
            link_purification_rounds=link_rounds,
        )

    def candidates(self) -> Iterator[Candidate]:
        for share in sorted(set(self.options.share_levels), reverse=True):
            found = list(self._at_share(share))
            yield from found
            if not found:
                return  # fidelity and waiting only get worse at lower shares

    def _at_share(self, share: float) -> Iterator[Candidate]:
        for link_rounds in range(self.options.max_link_purification_rounds + 1):
            yield from self._at_link_rounds(share, link_rounds)

    def _at_link_rounds(self, share: float, link_rounds: int) -> Iterator[Candidate]:
        """The cut-off windows follow from the chain as purified per link: its own
        coherence budget and mean wait."""
        base = self.perf(share, 0, None, link_rounds)
        budget = base.t_ent_s - base.latency_s
        if budget <= 0.0:
            self.diag.counts["coherence"] += 1
            return
        cutoffs = {"budget": budget} if "budget" in self.options.cutoff_kinds else {}
        factor = self.options.tight_cutoff
        if factor is not None and factor * base.waiting_time_s < budget:
            cutoffs["tight"] = factor * base.waiting_time_s
        for (kind, cutoff), rounds in itertools.product(
            cutoffs.items(), range(self.options.max_purification_rounds + 1)
        ):
            cand = self._candidate(share, rounds, kind, cutoff, link_rounds)
            if cand is not None:
                yield cand

    def _candidate(self, share: float, rounds: int, kind: str, cutoff: float,
                   link_rounds: int = 0) -> Candidate | None:
        perf = self.perf(share, rounds, cutoff, link_rounds)
        if not perf.coherence_ok or perf.rate_hz <= 0.0:
            self.diag.counts["coherence"] += 1
            return None
        self.diag.best_fidelity = max(self.diag.best_fidelity, perf.fidelity)
        if perf.fidelity < self.request.min_fidelity:
            self.diag.counts["fidelity"] += 1
            return None
        q = quality(self.request.application, perf.fidelity, self.params)
        if q <= 0.0:
            self.diag.counts["utility"] += 1
            return None
        memory = dict(zip(self.route.memory_nodes, perf.memory_slots_per_node, strict=True))
        for name, slots in memory.items():
            if slots > self.network.nodes[name].memory_qubits:
                self.diag.counts["memory"] += 1
                self.diag.memory = (
                    f"node {name} has {self.network.nodes[name].memory_qubits} memory qubits, "
                    f"a configuration needs {slots}"
                )
                return None
        return Candidate(
            request=self.request.name,
            route=self.route,
            purification_rounds=rounds,
            protocol=self.options.protocol,
            cutoff_kind=kind,
            cutoff_s=cutoff,
            min_share=share,
            rate_per_share_hz=perf.rate_hz / share,
            fidelity=perf.fidelity,
            quality=q,
            latency_s=perf.latency_s,
            waiting_time_s=perf.waiting_time_s,
            t_ent_s=perf.t_ent_s,
            memory=memory,
            roadm_channels=_count(n for seg in self.route.segments for n in seg.roadm_channels),
            add_drop_ports=_count(n for seg in self.route.segments for n in seg.add_drop_ports),
            island_channels=_count(
                seg.island for seg in self.route.segments if seg.island and seg.roadm_channels
            ),
            link_purification_rounds=link_rounds,
        )


def _count(items: Iterable[str]) -> dict[str, int]:
    return dict(Counter(items))


def dominates(a: Candidate, b: Candidate, demand_hz: float = math.inf) -> bool:
    """a serves its request at least as well as b in every solution of the model.

    Same fibres (so the same TDMA frames, memory nodes, q-ROADM channels and ports), no
    more memory, a share floor no higher (a can run at any share b can) and, at every
    share s ≥ σ_b, no less utility: q_a ≥ q_b and min(r_a·s, D) ≥ min(r_b·s, D).  The
    last holds for all such s exactly when min(r_a·σ_b, D) ≥ min(r_b·σ_b, D): either a is
    no slower, or a already meets the demand D at b's floor.  Swapping b for a in any
    plan therefore keeps it feasible and loses no utility, so dropping b is exact (up to
    the 1e-9 relative tolerance).  Fidelity must not drop either: a step utility (q = 1
    above a threshold) cannot tell two fidelities apart, but the plan reports the chosen
    configuration's fidelity as its prediction, and a lower-floor twin would understate
    what the granted share delivers.  Without the demand (D = ∞) a lower-rate, higher-quality
    candidate is never dominated: with a cap it can be the better choice.
    """
    if a.route.links != b.route.links:
        return False
    floor = b.min_share
    return (
        a.min_share <= floor
        and a.quality >= b.quality * (1 - _REL_TOL)
        and a.fidelity >= b.fidelity - _REL_TOL
        and min(a.rate_per_share_hz * floor, demand_hz)
        >= min(b.rate_per_share_hz * floor, demand_hz) * (1 - _REL_TOL)
        and all(a.memory[n] <= b.memory[n] for n in b.memory)
    )


def pareto_prune(cands: Sequence[Candidate], demand_hz: float = math.inf) -> list[Candidate]:
    """Drop candidates another candidate dominates (:func:`dominates`; first one wins ties)."""
    kept: list[Candidate] = []
    for i, cand in enumerate(cands):
        dominated = any(
            dominates(other, cand, demand_hz)
            and (not dominates(cand, other, demand_hz) or j < i)
            for j, other in enumerate(cands)
            if j != i
        )
        if not dominated:
            kept.append(cand)
    return kept


def _diverse_top(cands: Sequence[Candidate], limit: int, demand_hz: float) -> list[Candidate]:
    """The best ``limit`` candidates, taken round-robin over routes, best demand-capped
    utility q·min(r, D) first (ranking by r·q alone would drop a slower, purer candidate
    that meets a small demand with better quality).

    A plain top-k by utility would keep only variants of the single best route and leave
    the solver nothing to reroute onto when that route's fibres are contended.
    """
    by_route: dict[tuple[str, ...], list[Candidate]] = {}
    for cand in sorted(cands, key=lambda c: -c.quality * min(c.rate_per_share_hz, demand_hz)):
        by_route.setdefault(cand.route.links, []).append(cand)
    ranked = [
        c for tier in itertools.zip_longest(*by_route.values()) for c in tier if c is not None
    ]
    return ranked[:limit]


def _endpoint_problem(network: Network, request: Request) -> str | None:
    for end in (request.source, request.destination):
        node = network.nodes.get(end)
        if node is None:
            return f"endpoint {end} is not in the topology"
        if not node.is_memory_node:
            return f"endpoint {end} is a {node.kind.value}, not a memory node"
        if node.memory_qubits < 1:
            return f"endpoint {end} has no memory qubits"
    return None


def _reason(request: Request, diag: _Diagnosis, rounds: int) -> str:
    need = f"min-fidelity {request.min_fidelity:g}"
    if diag.counts["bound"] and not (diag.counts["fidelity"] or diag.counts["utility"]):
        return (
            f"{need} unreachable: best fidelity on any candidate path is "
            f"{diag.best_bound:.4f} even without decoherence and with {rounds} purification rounds"
        )
    if diag.counts["memory"] and not (diag.counts["fidelity"] or diag.counts["utility"]):
        return f"not enough memory: {diag.memory}"
    if diag.counts["fidelity"]:
        best = diag.best_fidelity
        return f"{need} unreachable: best fidelity after memory decoherence is {best:.4f}"
    if diag.counts["utility"]:
        return (
            f"{request.application.value} utility is zero at every reachable fidelity "
            f"(best {diag.best_fidelity:.4f})"
        )
    if diag.counts["coherence"]:
        return "coherence budget exceeded on every path: heralding + signalling + waiting ≥ T_ent"
    if diag.counts["dead"]:
        return "every path crosses a packet-switched q-ROADM chain that keeps no payload"
    return "no feasible configuration"


def request_candidates(
    network: Network,
    graph: nx.Graph,
    request: Request,
    options: CandidateOptions | None = None,
) -> RequestCandidates:
    """Feasible, Pareto-pruned candidates of one request, or the reason there are none."""
    options = options or CandidateOptions()
    if not request.enabled:
        return RequestCandidates(request, (), "administratively disabled")
    problem = _endpoint_problem(network, request)
    if problem is not None:
        return RequestCandidates(request, (), problem)
    diag = _Diagnosis()
    paths = enumerate_routes(network, graph, request, options, diag)
    complete = paths is not None
    if paths is None:  # too many routes to list: fall back to k shortest, marked incomplete
        diag = _Diagnosis()
        paths = [p for p in candidate_routes(
            network, graph, request.source, request.destination, options)
            if len(p) - 1 <= options.max_hops]
    elif not paths and not _connected(network, graph, request):
        return RequestCandidates(
            request, (), "endpoints disconnected (fibres with zero capacity are ignored)"
        )
    found: list[Candidate] = []
    routes = 0
    for path in paths:
        route = build_route(network, graph, path)
        if route is None:
            diag.counts["dead"] += 1
            continue
        bound = fidelity_upper_bound(
            network, route, options.max_purification_rounds, options.protocol,
            options.max_link_purification_rounds,
        )
        diag.best_bound = max(diag.best_bound, bound)
        if bound < request.min_fidelity:
            diag.counts["bound"] += 1
            continue
        routes += 1
        if not complete and routes > options.max_routes:
            break
        found.extend(_RouteEvaluator(network, request, route, options, diag).candidates())
    kept = pareto_prune(found, request.demanded_rate_hz)
    limit = options.max_candidates if complete else options.fallback_candidates
    if limit is not None and len(kept) > limit:
        kept, complete = _diverse_top(kept, limit, request.demanded_rate_hz), False
    if not kept:
        reason = _reason(request, diag, options.max_purification_rounds)
        if not paths and complete and not diag.counts["bound"]:
            reason = f"no route of at most {options.max_hops} fibres between the endpoints"
        return RequestCandidates(request, (), reason, complete)
    return RequestCandidates(request, tuple(kept), complete=complete)


def _connected(network: Network, graph: nx.Graph, request: Request) -> bool:
    """Whether usable fibres join the endpoints through nodes that may relay."""
    view = relay_view(network, graph, request.source, request.destination)
    return bool(nx.has_path(view, request.source, request.destination))


def check_route_length(network: Network, requests: Sequence[Request], max_hops: int) -> None:
    """Refuse a request whose endpoints are joined only by routes longer than the declared
    space allows (``max_hops`` fibres): the model cannot represent its service, so it is
    an input error naming the request, not a silent rejection.  Every configured fibre
    counts (a fibre that is down now may come back); disconnected endpoints are left to
    the solve, which reports them per request."""
    graph = nx.Graph()
    graph.add_nodes_from(network.nodes)
    graph.add_edges_from((lk.a, lk.b) for lk in network.links.values())
    for req in requests:
        if not req.enabled or req.source not in graph or req.destination not in graph:
            continue
        view = relay_view(network, graph, req.source, req.destination)
        try:
            hops = nx.shortest_path_length(view, req.source, req.destination)
        except nx.NetworkXNoPath:
            continue
        if hops > max_hops:
            raise InputError(
                f"/sdqn-services:entanglement-services/request[name='{req.name}']"
                "/destination-node",
                f"the shortest route from {req.source} to {req.destination} has {hops} "
                f"fibres, more than optimiser/max-route-hops ({max_hops})")


def generate_candidates(
    network: Network, requests: Sequence[Request], options: CandidateOptions | None = None
) -> dict[str, RequestCandidates]:
    """Candidates for every request, keyed by request name (request order preserved)."""
    graph = build_graph(network)
    return {r.name: request_candidates(network, graph, r, options) for r in requests}


def restore_candidate(network: Network, graph: nx.Graph, request: Request,
                      nodes: Sequence[str], links: Sequence[str], rounds: int,
                      cutoff_kind: str, min_share: float,
                      options: CandidateOptions | None = None,
                      link_rounds: int = 0) -> Candidate | None:
    """The candidate a committed plan chose, evaluated again on `network` (whose
    `build_graph` is `graph`: a controller restarting, its plan not in memory, and a fresh
    candidate list may no longer hold it); None when that route or configuration is not
    feasible any more."""
    options = options or CandidateOptions()
    if any(n not in network.nodes for n in nodes) or any(
            not graph.has_edge(u, v) for u, v in itertools.pairwise(nodes)):
        return None
    route = build_route(network, graph, nodes)
    if route is None or route.links != tuple(links):
        return None
    evaluator = _RouteEvaluator(network, request, route, options, _Diagnosis())
    for cand in evaluator._at_link_rounds(min_share, link_rounds):
        if cand.purification_rounds == rounds and cand.cutoff_kind == cutoff_kind:
            return cand
    return None
