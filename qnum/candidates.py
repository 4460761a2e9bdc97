"""Per-request feasible configurations ("candidates") for the Q-NUM model.

A candidate fixes everything about how a request would be served except its capacity share:
the route (node and fibre sequence), end-to-end purification rounds and protocol, the
memory cut-off, and the *share floor* σ.  Its rate per unit share, fidelity, memory,
q-ROADM channel/port usage and latency are computed **exactly** with
:func:`qnum.physics.chain_performance`; the solver then only picks one candidate and a
share s ∈ [σ, 1] per admitted request.

Why routes come from k-shortest simple paths over log-transformed metrics
-----------------------------------------------------------------------------
Path quality is multiplicative (success Π p_i·Π p_swap, Werner parameter Π w_i·Π λ) and
not isotonic once memories decohere and purification is applied: the best path to a node
is not a prefix of the best path through it, so Dijkstra on any additive weight can miss
the optimum.  We therefore use additive weights only as a *generator*: Yen's k shortest
simple paths (networkx ``shortest_simple_paths``) under three log metrics — −ln(success)
(rate), −ln(Werner parameter) (fidelity) and fibre length — give a small, diverse set of
routes per request.  Each route is then pruned by a valid fidelity upper bound (no memory
decoherence, maximal purification: decoherence only lowers F and recurrence purification
is monotone in F) and evaluated exactly.  The surrogate never enters the model.

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

from qnum.io import DeviceKind, Link, Network, Node, Request, SwitchingMode
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
    packet_switch_keep_fraction,
    werner_from_fidelity,
)
from qnum.utility import quality

_LN10_OVER_10 = math.log(10.0) / 10.0
_REL_TOL = 1e-9
#: A tight cut-off window is only tried when memory decoherence costs at least this much
#: fidelity: below it the window changes F by less than it costs in discarded rounds.
TIGHT_CUTOFF_MIN_GAIN = 0.01


@dataclass(frozen=True)
class CandidateOptions:
    """Knobs of candidate generation (defaults sized for ≤ ~500 requests)."""

    paths_per_metric: int = 3
    max_routes: int = 6
    max_purification_rounds: int = 2
    protocol: str = "dejmps"
    share_levels: tuple[float, ...] = (1.0, 0.3, 0.1, 0.03)
    tight_cutoff_factor: float | None = 2.0
    max_candidates: int = 24

    def __post_init__(self) -> None:
        if not 0 <= self.max_purification_rounds <= MAX_PURIFICATION_ROUNDS:
            raise ValueError(f"max_purification_rounds must lie in 0..{MAX_PURIFICATION_ROUNDS}")
        if not self.share_levels or any(not 0.0 < s <= 1.0 for s in self.share_levels):
            raise ValueError("share levels must lie in (0, 1]")
        if self.paths_per_metric < 1 or self.max_routes < 1 or self.max_candidates < 1:
            raise ValueError("path and candidate limits must be >= 1")


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

    @property
    def links(self) -> tuple[str, ...]:
        return self.route.links

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
        return (self.route.links, self.purification_rounds, self.cutoff_kind, self.min_share)


@dataclass(frozen=True)
class RequestCandidates:
    request: Request
    candidates: tuple[Candidate, ...]
    reason: str | None = None


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
    return NodeParams(
        node.coherence_time_s,
        bsm_lambda=node.bsm_fidelity,
        swap_success_probability=node.swap_success_probability,
        memory_efficiency=node.memory_efficiency,
        swap_pairing_round_trips=node.swap_pairing_round_trips,
        swap_outcome_route=node.swap_outcome_route.value,
    )


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
        return (-math.log(p) if p > 0 else math.inf), -math.log(node.bsm_fidelity)
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
    """Repeaters with two free qubits and transparent devices can be inner hops."""
    if node.kind is DeviceKind.END_NODE:
        return False
    return not node.is_memory_node or node.memory_qubits >= 2


def candidate_routes(
    network: Network, graph: nx.Graph, source: str, destination: str, options: CandidateOptions
) -> list[tuple[str, ...]]:
    """Union of the k shortest simple paths under each surrogate metric, in first-seen order."""
    allowed = {n for n, node in network.nodes.items() if _may_transit(node)} | {
        source,
        destination,
    }
    view = nx.subgraph_view(graph, filter_node=lambda n: n in allowed)
    seen: dict[tuple[str, ...], None] = {}
    for metric in ("rate", "fidelity", "length"):
        paths = nx.shortest_simple_paths(view, source, destination, weight=metric)
        for path in itertools.islice(paths, options.paths_per_metric):
            seen.setdefault(tuple(path), None)
    return list(seen)


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
        modes=min(f.modes for f in fibres),
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


def fidelity_upper_bound(network: Network, route: Route, rounds: int, protocol: str) -> float:
    """F with no memory decoherence after the best of 0..rounds purification rounds."""
    w = math.prod(werner_from_fidelity(seg.params.link_fidelity) for seg in route.segments)
    w *= math.prod(network.nodes[n].bsm_fidelity for n in route.memory_nodes[1:-1])
    f0 = fidelity_from_werner(w)
    if f0 <= PAIR_CLASSICAL_LIMIT:
        return f0
    return max(iterate(protocol, f0, r)[0] for r in range(rounds + 1))


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

    def perf(self, share: float, rounds: int, cutoff: float | None) -> ChainPerformance:
        return chain_performance(
            self.links,
            self.repeaters,
            rounds,
            self.options.protocol,
            shares=[share] * len(self.links),
            cutoff_s=cutoff,
            end_nodes=self.ends,
        )

    def candidates(self) -> Iterator[Candidate]:
        for share in sorted(set(self.options.share_levels), reverse=True):
            found = list(self._at_share(share))
            yield from found
            if not found:
                return  # fidelity and waiting only get worse at lower shares

    def _at_share(self, share: float) -> Iterator[Candidate]:
        base = self.perf(share, 0, None)
        budget = base.t_ent_s - base.latency_s
        if budget <= 0.0:
            self.diag.counts["coherence"] += 1
            return
        cutoffs = {"budget": budget}
        factor = self.options.tight_cutoff_factor
        decoherence_loss = self.ideal_fidelity - base.raw_fidelity
        if (
            factor is not None
            and decoherence_loss >= TIGHT_CUTOFF_MIN_GAIN
            and factor * base.waiting_time_s < budget
        ):
            cutoffs["tight"] = factor * base.waiting_time_s
        for (kind, cutoff), rounds in itertools.product(
            cutoffs.items(), range(self.options.max_purification_rounds + 1)
        ):
            cand = self._candidate(share, rounds, kind, cutoff)
            if cand is not None:
                yield cand

    def _candidate(self, share: float, rounds: int, kind: str, cutoff: float) -> Candidate | None:
        perf = self.perf(share, rounds, cutoff)
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
        )


def _count(items: Iterable[str]) -> dict[str, int]:
    return dict(Counter(items))


def _dominates(a: Candidate, b: Candidate) -> bool:
    """a is at least as good as b in every respect on the same fibres (ties: keep a)."""
    if a.route.links != b.route.links:
        return False
    return (
        a.min_share <= b.min_share
        and a.rate_per_share_hz >= b.rate_per_share_hz * (1 - _REL_TOL)
        and a.quality >= b.quality * (1 - _REL_TOL)
        and all(a.memory[n] <= b.memory[n] for n in b.memory)
    )


def pareto_prune(cands: Sequence[Candidate]) -> list[Candidate]:
    """Drop candidates another candidate on the same fibres dominates (first one wins ties)."""
    kept: list[Candidate] = []
    for i, cand in enumerate(cands):
        dominated = any(
            _dominates(other, cand) and (not _dominates(cand, other) or j < i)
            for j, other in enumerate(cands)
            if j != i
        )
        if not dominated:
            kept.append(cand)
    return kept


def _diverse_top(cands: Sequence[Candidate], limit: int) -> list[Candidate]:
    """The best ``limit`` candidates, taken round-robin over routes (best utility first).

    A plain top-k by utility would keep only variants of the single best route and leave
    the solver nothing to reroute onto when that route's fibres are contended.
    """
    by_route: dict[tuple[str, ...], list[Candidate]] = {}
    for cand in sorted(cands, key=lambda c: -c.utility_per_share):
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
    try:
        paths = candidate_routes(network, graph, request.source, request.destination, options)
    except nx.NetworkXNoPath:
        return RequestCandidates(
            request, (), "endpoints disconnected (fibres with zero capacity are ignored)"
        )
    diag = _Diagnosis()
    found: list[Candidate] = []
    routes = 0
    for path in paths:
        route = build_route(network, graph, path)
        if route is None:
            diag.counts["dead"] += 1
            continue
        bound = fidelity_upper_bound(
            network, route, options.max_purification_rounds, options.protocol
        )
        diag.best_bound = max(diag.best_bound, bound)
        if bound < request.min_fidelity:
            diag.counts["bound"] += 1
            continue
        routes += 1
        if routes > options.max_routes:
            break
        found.extend(_RouteEvaluator(network, request, route, options, diag).candidates())
    kept = _diverse_top(pareto_prune(found), options.max_candidates)
    if not kept:
        return RequestCandidates(
            request, (), _reason(request, diag, options.max_purification_rounds)
        )
    return RequestCandidates(request, tuple(kept))


def generate_candidates(
    network: Network, requests: Sequence[Request], options: CandidateOptions | None = None
) -> dict[str, RequestCandidates]:
    """Candidates for every request, keyed by request name (request order preserved)."""
    graph = build_graph(network)
    return {r.name: request_candidates(network, graph, r, options) for r in requests}


def restore_candidate(network: Network, graph: nx.Graph, request: Request,
                      nodes: Sequence[str], links: Sequence[str], rounds: int,
                      cutoff_kind: str, min_share: float,
                      options: CandidateOptions | None = None) -> Candidate | None:
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
    for cand in evaluator._at_share(min_share):
        if cand.purification_rounds == rounds and cand.cutoff_kind == cutoff_kind:
            return cand
    return None
