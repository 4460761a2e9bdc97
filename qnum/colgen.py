"""Column generation: grow incomplete candidate sets by pricing and bound the optimum over
the whole declared space.

A request whose routes are too many to list gets a starting set from k shortest paths
(qnum.candidates).  Each round here solves the LP relaxation of the model over the
current columns (with the priority rows between listed requests, a relaxation), reads
its duals as resource prices, and asks :func:`qnum.pricing.price_request` for the best
configuration of every incomplete request over its whole space.  Configurations worth
more than the request's convexity dual join its candidate set; the Lagrangian value

    L = Σ_f π_f·1 + Σ_k μ_k·cap_k + Σ_j max(0, best v_j)

is an upper bound on every plan over the space at any prices (qnum.pricing), so the
smallest L seen is the bound the solver reports.  When no column prices out, L equals the
LP relaxation over the whole space.  The loop stops at convergence, after
``max_rounds`` or at the deadline; the MILP then runs over the enlarged sets, and its
plan is "optimal" only if it reaches the bound within the gap tolerance.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import networkx as nx
import structlog

from qnum.candidates import Candidate, CandidateOptions, RequestCandidates, build_graph
from qnum.io import Request
from qnum.plan import Problem
from qnum.pricing import Prices, column_value, price_request

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Relaxation:
    """The LP relaxation's value and duals, in objective units."""

    value: float
    prices: Prices
    convexity: Mapping[str, float]
    #: Per request, the indices of the candidates the LP solution uses (x > 0).
    support: Mapping[str, frozenset[int]] = field(default_factory=dict)


@dataclass
class ColumnGeneration:
    """What column generation did: the bound it proved and the work it took."""

    bound: float = math.inf
    rounds: int = 0
    columns: int = 0
    converged: bool = False
    #: L at the last prices, and the smallest margin Δ_j by which any configuration not
    #: among the columns falls short of its request's best (``exclusion_margin``).
    last_bound: float = math.inf
    margin: float = 0.0
    last_prices: Prices = field(default_factory=Prices)
    last_best: dict[str, float] = field(default_factory=dict)
    #: The last LP relaxation solved (its support guides a first restricted MILP).
    relaxation: Relaxation | None = None

    def space_bound(self, restricted_bound: float) -> float:
        """A bound over the whole space from one valid over the columns only.

        A plan that uses an unlisted configuration of request j is worth at most
        L − Δ_j (its v falls Δ_j short of the best, and L charges every request its
        best), so every plan over the space is worth at most
        max(restricted bound, L − min_j Δ_j); L itself bounds everything.
        """
        via_margin = max(restricted_bound, self.last_bound - self.margin)
        return min(self.bound, via_margin)


def lagrangian_bound(problem: Problem, prices: Prices, best: Mapping[str, float]) -> float:
    """L(π, μ) for the given per-request best values (module docstring)."""
    total = math.fsum(p * problem.frame_capacity(f) for f, p in prices.frames.items())
    total += math.fsum(p * problem.capacity(kind, key)
                       for (kind, key), p in prices.resources.items())
    return total + math.fsum(max(0.0, v) for v in best.values())


def generate_columns(
    problem: Problem,
    space: CandidateOptions,
    relax: Callable[[Problem], Relaxation],
    deadline: float,
    max_rounds: int = 8,
) -> ColumnGeneration:
    """Price out columns for ``problem``'s incomplete requests, in place (their candidate
    sets grow, so the caller's problem and the plan solved on it stay consistent)."""
    out = ColumnGeneration()
    graph = build_graph(problem.network)
    candidates = problem.candidates
    if not isinstance(candidates, dict):
        raise TypeError("column generation needs the problem's candidate sets in a dict")
    last_round = 0.0
    for round_no in range(1, max_rounds + 1):
        begun = time.perf_counter()
        if round_no > 1 and begun + last_round > deadline:
            break               # another round would overrun: its LP cannot be interrupted
        relaxation = relax(problem)
        out.rounds, out.relaxation = round_no, relaxation
        best: dict[str, float] = {}
        added = 0
        exact = True
        for req in problem.requests:
            rc = candidates[req.name]
            own = max((column_value(req, c, relaxation.prices) for c in rc.candidates),
                      default=-math.inf)
            if rc.complete or not req.enabled:
                best[req.name] = own
                continue
            if time.perf_counter() > deadline:
                best[req.name] = req.weight * req.demanded_rate_hz  # q ≤ 1, R ≤ D
                exact = False
                continue
            threshold = relaxation.convexity.get(req.name, 0.0) * (1 + 1e-9) + 1e-12
            priced = price_request(problem.network, graph, req, space, relaxation.prices,
                                   threshold)
            best[req.name] = max(own, priced.value)
            exact &= priced.exact
            added += _add_columns(candidates, req, priced.columns)
        bound = lagrangian_bound(problem, relaxation.prices, best)
        out.bound = min(out.bound, bound)
        out.last_bound, out.last_prices, out.last_best = bound, relaxation.prices, best
        out.columns += added
        log.info("qnum.colgen_round", round=round_no, lp=relaxation.value, bound=bound,
                 columns=added, exact=exact)
        if not added:
            out.converged = exact
            break
        last_round = time.perf_counter() - begun
        if time.perf_counter() > deadline:
            break
    if out.rounds:
        out.margin = exclusion_margin(problem, space, graph, out.last_prices, out.last_best,
                                      deadline)
    return out


def exclusion_margin(problem: Problem, space: CandidateOptions, graph: nx.Graph,
                     prices: Prices, best: Mapping[str, float], deadline: float) -> float:
    """min over incomplete requests j of Δ_j = max(0, best_j) − (best v over j's
    configurations that are not columns), at ``prices``; 0 when out of time (no claim).

    The unlisted value is not clipped at 0: a plan that admits j on an unlisted
    configuration with v < 0 is worth L − max(0, best_j) + v, below L by more than
    max(0, best_j)."""
    margin = math.inf
    for req in problem.requests:
        rc = problem.candidates[req.name]
        if rc.complete or not req.enabled:
            continue
        if time.perf_counter() > deadline:
            return 0.0
        unlisted = price_request(problem.network, graph, req, space, prices, math.inf,
                                 exclude={c.key for c in rc.candidates})
        margin = min(margin, max(0.0, best[req.name]) - unlisted.value)
    return max(margin, 0.0)


def _add_columns(candidates: dict[str, RequestCandidates], req: Request,
                 priced: list[Candidate]) -> int:
    """Append the priced configurations not yet among ``req``'s candidates (by key); the
    set stays incomplete.  Returns how many were added."""
    rc = candidates[req.name]
    keys = {c.key for c in rc.candidates}
    fresh: list[Candidate] = []
    for cand in priced:
        if cand.key not in keys:
            keys.add(cand.key)
            fresh.append(cand)
    if fresh:
        candidates[req.name] = RequestCandidates(req, (*rc.candidates, *fresh), complete=False)
    return len(fresh)


def close_gap(problem: Problem, space: CandidateOptions, columns: ColumnGeneration,
              value: float, deadline: float, per_request: int = 256) -> int:
    """After a MILP over the columns found a plan worth ``value``: list every unlisted
    configuration that could still be part of a better plan, and return how many.

    At the last prices a plan using configuration c of request j is worth at most
    L − (max(0, best_j) − v_c), so only configurations with
    v_c > max(0, best_j) − (L − value) can beat the plan.  Once they are all listed, the
    margin Δ of what stays unlisted is at least L − value, and the next MILP's own bound
    holds for the whole space (``ColumnGeneration.space_bound``).  Up to ``per_request``
    per request are added; the margin is recomputed either way.
    """
    gap = columns.last_bound - value
    if not columns.rounds or gap <= columns.margin or time.perf_counter() > deadline:
        return 0
    graph = build_graph(problem.network)
    candidates = problem.candidates
    assert isinstance(candidates, dict)
    added = 0
    for req in problem.requests:
        rc = candidates[req.name]
        if rc.complete or not req.enabled:
            continue
        if time.perf_counter() > deadline:
            break
        floor = max(0.0, columns.last_best.get(req.name, 0.0)) - gap
        near = price_request(problem.network, graph, req, space, columns.last_prices, floor,
                             stop_below=floor, max_columns=per_request,
                             exclude={c.key for c in rc.candidates})
        added += _add_columns(candidates, req, near.columns)
    columns.columns += added
    columns.margin = exclusion_margin(problem, space, graph, columns.last_prices,
                                      columns.last_best, deadline)
    log.info("qnum.colgen_close", gap=gap, columns=added, margin=columns.margin)
    return added
