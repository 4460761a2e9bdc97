"""Pricing: the best configuration of one request over its whole declared space, at given
resource prices — the subproblem of column generation (:mod:`qnum.colgen`).

Why a pricing search
--------------------
When a request has too many routes to list (``CandidateOptions.route_limit``) its candidate
set is a subset of its space, and an optimum over the subset proves nothing.  The
Lagrangian relaxation of the Q-NUM model over the *whole* space still gives a valid bound:
with prices π_f ≥ 0 on TDMA frames and μ_k ≥ 0 on memory, channels and ports (the LP
duals of the restricted model),

    L(π, μ) = Σ_f π_f + Σ_k μ_k·cap_k + Σ_j max(0, max_{c ∈ space_j} v_c(π, μ)),
    v_c = max_{s ∈ [σ_c, 1]} w_j·q_c·min(r_c·s, D_j) − s·Σ_f π_f·n_cf − Σ_k μ_k·a_ck,

is at least the optimum of every plan over the space (weak duality).  The priority rows
"admitted(lo) ≤ admitted(hi)" between the listed candidates' requests (a subset of the
space's: more configurations only add competitors, so keeping fewer rows relaxes) add
their duals ρ as an admission credit per request (``Prices.admission``).  The
per-request subproblem is linear in x, so L at the optimal prices equals the LP
relaxation over the whole space.  ``max v_c`` needs a search
over routes; route quality is multiplicative and not isotonic (qnum.candidates), so no
shortest-path algorithm applies.  :func:`price_request` is a best-first branch and bound
over route prefixes with an *optimistic value* that only falls as a prefix grows:

* fidelity: the ideal Werner parameter of the prefix
  (:func:`qnum.candidates.extend_prefix_werner`, the same bound the route enumeration
  prunes with; a link that may be purified per link counts with the largest |Pauli
  eigenvalue| its purified pair can reach), after the best 0..max end-to-end rounds —
  decoherence and longer routes only lower it, purification is monotone;
* rate: per-link rounds only lower a link's success per slot (p·Π p_k/2^r ≤ p), and
  memory only grows with them, so both bounds below hold over the enlarged space;
* quality: the largest q over fidelities up to that value (q need not be monotone);
* rate per unit share: min over closed elementary links of p_i/τ_i, times the swap
  success of the closed inner nodes — a round needs one success of every link, and a
  link succeeds at most p_i/τ_i·s times per second at share s;
* prices: the frames and memory the prefix already uses (prices are non-negative;
  memory at least 1 qubit per end node and 2 per repeater).

A complete route is evaluated exactly (every share level, cut-off kind and purification
round, as in candidate generation).  The search stops when no open prefix can beat the
best exact value; if its node budget runs out first, the largest optimistic value left
is reported instead — still a valid bound, marked inexact.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import networkx as nx

from qnum.candidates import (
    Candidate,
    CandidateOptions,
    Segment,
    _Diagnosis,
    _purified_bound,
    _RouteEvaluator,
    _segment,
    build_route,
    extend_prefix_werner,
    node_params,
    pareto_prune,
    prefix_werner_bound,
    relay_view,
)
from qnum.io import Network, Request
from qnum.physics import attempt_success_probability
from qnum.physics.link import attempt_period_s
from qnum.utility import quality

#: Resource rows of the model other than TDMA frames: (kind, node) with kind one of
#: "memory", "channels", "ports".
ResourceKey = tuple[str, str]


@dataclass(frozen=True)
class Prices:
    """Non-negative prices per unit of each resource, in objective units (Σ w·U), and
    the priority rule's per-request admission credit (see ``admission``)."""

    frames: Mapping[str, float] = field(default_factory=dict)
    resources: Mapping[ResourceKey, float] = field(default_factory=dict)
    #: Σ ρ over the priority rows where the request is the higher-priority side minus Σ ρ
    #: where it is the lower (row "admitted(lo) ≤ admitted(hi)", dual ρ ≥ 0): admitting
    #: it earns (or costs) that much in the Lagrangian.
    admission: Mapping[str, float] = field(default_factory=dict)

    def frame(self, frame: str) -> float:
        return self.frames.get(frame, 0.0)

    def resource(self, kind: str, node: str) -> float:
        return self.resources.get((kind, node), 0.0)

    def credit(self, request: str) -> float:
        return self.admission.get(request, 0.0)


def best_over_share(
    weight: float, q: float, rate: float, demand: float, floor: float, share_price: float,
    fixed_price: float,
) -> float:
    """max over s ∈ [floor, 1] of weight·q·min(rate·s, demand) − share_price·s − fixed_price.

    The function of s is concave and piecewise linear with one kink at s = demand/rate, so
    its maximum lies at the floor, the kink or 1.
    """
    points = {floor, 1.0}
    if rate > 0.0:
        points.add(min(1.0, max(floor, demand / rate)))
    return max(
        weight * q * min(rate * s, demand) - share_price * s for s in points
    ) - fixed_price


def column_value(request: Request, cand: Candidate, prices: Prices) -> float:
    """v_c: the candidate's best utility at these prices (module docstring)."""
    share_price = math.fsum(prices.frame(f) * n for f, n in cand.frames.items())
    fixed = math.fsum(prices.resource(kind, node) * amount
                      for kind, amounts in cand.resource_use for node, amount in amounts.items())
    return best_over_share(
        request.weight, cand.quality, cand.rate_per_share_hz, request.demanded_rate_hz,
        cand.min_share, share_price, fixed - prices.credit(request.name),
    )


def quality_upper(request: Request, fidelity: float) -> float:
    """The largest q(F') over F' ≤ fidelity (q is piecewise linear, so its breakpoints and
    the end point suffice; the built-in shapes are monotone and give q(fidelity))."""
    params = request.utility_params
    points = [f for f, _ in params.points if f <= fidelity] if params.points else []
    return max(quality(request.application, f, params) for f in (*points, fidelity))


@dataclass
class PricingResult:
    """The best value over the request's space (exact, or a valid upper bound) and the
    columns worth adding (those whose exact value beats ``threshold``)."""

    value: float
    exact: bool
    columns: list[Candidate]
    routes_evaluated: int = 0
    expansions: int = 0


@dataclass(order=True)
class _Prefix:
    key: float  # −optimistic value (heapq is a min-heap)
    order: int
    path: tuple[str, ...] = field(compare=False)
    seg_start: int = field(compare=False)
    closed_w: float = field(compare=False)
    open_w: float = field(compare=False)
    rate: float = field(compare=False)
    share_price: float = field(compare=False)
    fixed_price: float = field(compare=False)


class _Search:
    """Best-first branch and bound over route prefixes of one request."""

    def __init__(self, network: Network, graph: nx.Graph, request: Request,
                 options: CandidateOptions, prices: Prices) -> None:
        self.network, self.request, self.options, self.prices = network, request, options, prices
        self.view = relay_view(network, graph, request.source, request.destination)
        self.islands: Mapping[str, str] = graph.graph["islands"]
        self.floor = min(options.share_levels)
        self.order = itertools.count()
        self.hops_left: dict[str, int] = (
            nx.single_source_shortest_path_length(
                self.view, request.destination, cutoff=options.max_hops)
            if request.destination in self.view else {})
        self.end_price = (prices.resource("memory", request.destination)
                          - prices.credit(request.name))

    def optimistic(self, w: float, rate: float, share_price: float, fixed_price: float) -> float:
        best_f = _purified_bound(w, self.options)
        if best_f < self.request.min_fidelity:
            return -math.inf
        q = quality_upper(self.request, best_f)
        if q <= 0.0:
            return -math.inf
        return best_over_share(
            self.request.weight, q, rate, self.request.demanded_rate_hz, self.floor,
            share_price, fixed_price + self.end_price,
        )

    def start(self) -> _Prefix | None:
        src = self.request.source
        if src not in self.view or self.request.destination not in self.hops_left:
            return None
        fixed = self.prices.resource("memory", src)
        value = self.optimistic(1.0, math.inf, 0.0, fixed)
        return _Prefix(-value, next(self.order), (src,), 0, 1.0, 1.0, math.inf, 0.0, fixed)

    def extend(self, prefix: _Prefix, nb: str) -> _Prefix | None:
        path = (*prefix.path, nb)
        fibre = self.network.links[self.view.edges[prefix.path[-1], nb]["link"]]
        closed_w, open_w = extend_prefix_werner(self.network, self.request.destination, nb,
                                                prefix.closed_w, prefix.open_w, fibre,
                                                self.options)
        rate = prefix.rate
        share_price, fixed_price = prefix.share_price, prefix.fixed_price
        seg_start = prefix.seg_start
        node = self.network.nodes[nb]
        if node.is_memory_node:
            seg = self._segment(path[seg_start:])
            if seg is None:
                return None
            p = attempt_success_probability(seg.params)
            rate = min(rate, p / attempt_period_s(seg.params))
            share_price += self.prices.frame(seg.frame)
            fixed_price += math.fsum(self.prices.resource("channels", n) for n in
                                     ([seg.island] if seg.island and seg.roadm_channels else []))
            fixed_price += math.fsum(self.prices.resource("ports", n) for n in seg.add_drop_ports)
            seg_start = len(path) - 1
            if nb != self.request.destination:
                params = node_params(node)
                rate *= params.swap_success_probability * params.memory_efficiency**2
                fixed_price += 2.0 * self.prices.resource("memory", nb)
        value = self.optimistic(prefix_werner_bound(closed_w, open_w, self.options), rate,
                                share_price, fixed_price)
        return _Prefix(-value, next(self.order), path, seg_start, closed_w, open_w, rate,
                       share_price, fixed_price)

    def _segment(self, nodes: tuple[str, ...]) -> Segment | None:
        links = [self.view.edges[u, v]["link"] for u, v in itertools.pairwise(nodes)]
        return _segment(self.network, nodes, links, self.islands)

    def children(self, prefix: _Prefix) -> list[_Prefix]:
        out = []
        on_path = set(prefix.path)
        for nb in self.view.neighbors(prefix.path[-1]):
            if nb in on_path or len(prefix.path) + self.hops_left.get(
                    nb, self.options.max_hops + 1) > self.options.max_hops:
                continue
            child = self.extend(prefix, nb)
            if child is not None and child.key < math.inf:
                out.append(child)
        return out


def price_request(
    network: Network,
    graph: nx.Graph,
    request: Request,
    options: CandidateOptions,
    prices: Prices,
    threshold: float,
    *,
    max_expansions: int = 20_000,
    max_columns: int = 8,
    exclude: Collection[object] = (),
    stop_below: float | None = None,
) -> PricingResult:
    """Best v_c over the request's declared space at ``prices`` (module docstring).

    ``threshold`` is the value a new column must beat to be worth adding (the request's
    convexity dual); columns are the best few exactly evaluated configurations above it.
    Configurations whose key is in ``exclude`` are left out of the search (the best
    configuration *not yet* among the columns bounds what the unlisted rest can add).
    With ``stop_below`` the search goes on past the best until no open prefix can reach
    that value, so every configuration above it is found (up to ``max_columns``).
    """
    search = _Search(network, graph, request, options, prices)
    root = search.start()
    if root is None:
        return PricingResult(-math.inf, True, [])
    heap = [root]
    best = -math.inf
    found: list[tuple[float, Candidate]] = []
    expansions = routes = 0
    while heap and -heap[0].key > (best if stop_below is None else min(best, stop_below)):
        if expansions >= max_expansions:
            return PricingResult(max(best, -heap[0].key), False, _top(found, threshold,
                                 max_columns), routes, expansions)
        prefix = heapq.heappop(heap)
        expansions += 1
        if prefix.path[-1] == request.destination:
            routes += 1
            for cand in _evaluate(network, graph, request, options, prefix.path):
                if cand.key in exclude:
                    continue
                value = column_value(request, cand, prices)
                found.append((value, cand))
                best = max(best, value)
            continue
        for child in search.children(prefix):
            heapq.heappush(heap, child)
    return PricingResult(best, True, _top(found, threshold, max_columns), routes, expansions)


def _evaluate(network: Network, graph: nx.Graph, request: Request, options: CandidateOptions,
              path: tuple[str, ...]) -> list[Candidate]:
    route = build_route(network, graph, path)
    if route is None:
        return []
    evaluator = _RouteEvaluator(network, request, route, options, _Diagnosis())
    return pareto_prune(list(evaluator.candidates()), request.demanded_rate_hz)


def _top(found: list[tuple[float, Candidate]], threshold: float, limit: int) -> list[Candidate]:
    ranked = sorted((item for item in found if item[0] > threshold), key=lambda item: -item[0])
    return [cand for _, cand in ranked[:limit]]
