"""Reference methods the Q-NUM solver is measured against, all returning a :class:`Plan`.

* :func:`shortest_path` — what a conventional controller does: the shortest route by fibre
  length, no purification; if that configuration misses the fidelity target or does not
  fit, the request is rejected (no rerouting).
* :func:`fidelity_greedy` — each request, in order, takes its highest-fidelity candidate
  that still fits.
* :func:`sequential_greedy` — requests by weight; each takes the candidate that gives it
  the most weighted utility with the capacity left.
* :func:`exhaustive_optimum` — the exact optimum for tiny instances: every combination of
  candidate choices (incl. rejection) with its shares set by an LP (GLOP, independent
  of the MathOpt model), used to certify the solver.

The greedy methods share one allocator: requests are taken by (priority, weight) — higher
first — and each admitted request gets share min(1, what is left on its fibres, what meets
its demand), never below its candidate's share floor.  Memory, q-ROADM channels/ports and
the priority rule are respected exactly as in the solver, so every plan is valid for
:func:`qnum.plan.violations` and utilities are comparable.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import networkx as nx
from ortools.linear_solver import pywraplp

from qnum.candidates import Candidate, build_graph
from qnum.io import Request
from qnum.plan import Assignment, Plan, Problem, SolveStatus

#: Picks a candidate for a request among those that fit (with the share each would get),
#: or says why it rejects the request.
Chooser = Callable[[Request, Sequence[tuple[Candidate, float]]], Candidate | str]


@dataclass
class _Residual:
    """Capacity left while requests are admitted one by one."""

    problem: Problem
    link: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    channels: dict[str, float] = field(default_factory=dict)
    ports: dict[str, float] = field(default_factory=dict)

    def share_left(self, cand: Candidate) -> float:
        """Largest share the candidate can still get on all of its TDMA frames."""
        return min((1.0 - self.link.get(f, 0.0)) / k for f, k in cand.frames.items())

    def fits(self, cand: Candidate) -> bool:
        pb = self.problem
        return (
            self.share_left(cand) >= cand.min_share - 1e-12
            and all(
                self.memory.get(n, 0) + k <= pb.memory_capacity(n) for n, k in cand.memory.items()
            )
            and all(
                self.channels.get(n, 0) + k <= pb.channel_capacity(n)
                for n, k in cand.island_channels.items()
            )
            and all(
                self.ports.get(n, 0) + k <= pb.port_capacity(n)
                for n, k in cand.add_drop_ports.items()
            )
        )

    def grant(self, req: Request, cand: Candidate) -> float:
        """Share the request gets: what meets its demand, capped by what is left."""
        need = req.demanded_rate_hz / cand.rate_per_share_hz
        return max(cand.min_share, min(1.0, self.share_left(cand), need))

    def take(self, cand: Candidate, share: float) -> None:
        for frame, count in cand.frames.items():
            self.link[frame] = self.link.get(frame, 0.0) + count * share
        for usage, amounts in (
            (self.memory, cand.memory),
            (self.channels, cand.island_channels),
            (self.ports, cand.add_drop_ports),
        ):
            for node, k in amounts.items():
                usage[node] = usage.get(node, 0) + k


def admission_order(problem: Problem) -> list[Request]:
    """Higher priority first, then higher weight, then the order given."""
    index = {r.name: i for i, r in enumerate(problem.requests)}
    return sorted(problem.requests, key=lambda r: (-r.priority, -r.weight, index[r.name]))


def sequential(problem: Problem, method: str, choose: Chooser) -> Plan:
    """Admit requests one at a time with ``choose`` (see module docstring)."""
    residual = _Residual(problem)
    competitors: dict[str, list[str]] = {}
    for hi, lo in problem.priority_pairs:
        competitors.setdefault(lo, []).append(hi)
    done: dict[str, Assignment] = {}
    for req in admission_order(problem):
        rc = problem.candidates[req.name]
        blocked = [hi for hi in competitors.get(req.name, []) if not done[hi].admitted]
        if not rc.candidates or blocked:
            reason = rc.reason or f"pre-empted: higher-priority competitor {blocked[0]} rejected"
            done[req.name] = Assignment(req, reason=reason)
            continue
        fitting = [(c, residual.grant(req, c)) for c in rc.candidates if residual.fits(c)]
        chosen = choose(req, fitting)
        if isinstance(chosen, str):
            done[req.name] = Assignment(req, reason=chosen)
            continue
        share = residual.grant(req, chosen)
        residual.take(chosen, share)
        done[req.name] = Assignment(req, chosen, share)
    plan = Plan.from_assignments(method, (done[r.name] for r in problem.requests))
    plan.objective = plan.total_utility
    return plan


def _value(req: Request, cand: Candidate, share: float) -> float:
    return req.weight * cand.quality * min(cand.rate_per_share_hz * share, req.demanded_rate_hz)


NO_CAPACITY = "no capacity left for any of its configurations"


def _best(req: Request, fitting: Sequence[tuple[Candidate, float]]) -> Candidate | str:
    if not fitting:
        return NO_CAPACITY
    return max(fitting, key=lambda cs: _value(req, *cs))[0]


def sequential_greedy(problem: Problem) -> Plan:
    return sequential(problem, "sequential-greedy", _best)


def fidelity_greedy(problem: Problem) -> Plan:
    def choose(req: Request, fitting: Sequence[tuple[Candidate, float]]) -> Candidate | str:
        if not fitting:
            return NO_CAPACITY
        return max(fitting, key=lambda cs: (cs[0].fidelity, _value(req, *cs)))[0]

    return sequential(problem, "fidelity-greedy", choose)


def shortest_path(problem: Problem) -> Plan:
    graph = build_graph(problem.network)
    shortest: dict[str, tuple[str, ...] | None] = {}
    for req in problem.requests:
        try:
            path = nx.shortest_path(graph, req.source, req.destination, weight="length")
            shortest[req.name] = tuple(path)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            shortest[req.name] = None

    def plain(req: Request, cand: Candidate) -> bool:
        return cand.route.nodes == shortest[req.name] and cand.purification_rounds == 0

    def choose(req: Request, fitting: Sequence[tuple[Candidate, float]]) -> Candidate | str:
        if not any(plain(req, c) for c in problem.options(req.name)):
            return "shortest path without purification misses min-fidelity"
        return _best(req, [cs for cs in fitting if plain(req, cs[0])])

    return sequential(problem, "shortest-path", choose)


BASELINES: dict[str, Callable[[Problem], Plan]] = {
    "shortest-path": shortest_path,
    "fidelity-greedy": fidelity_greedy,
    "sequential-greedy": sequential_greedy,
}


def all_baselines(problem: Problem) -> dict[str, Plan]:
    return {name: method(problem) for name, method in BASELINES.items()}


# ----------------------------------------------------------------------------- exhaustive


def optimal_shares(
    requests: Sequence[Request], cands: Sequence[Candidate]
) -> tuple[float, list[float]] | None:
    """max Σ w·q·min(r·s, D) over shares s ∈ [σ, 1] with Σ s ≤ 1 per TDMA frame (an LP).

    Solved with GLOP through ``pywraplp`` — a different solver behind a different API than
    the MathOpt/SCIP model, so the exhaustive check does not share code paths with it.
    None if the share floors do not fit.
    """
    lp = pywraplp.Solver.CreateSolver("GLOP")
    shares = [lp.NumVar(c.min_share, 1.0, f"s{j}") for j, c in enumerate(cands)]
    served = [lp.NumVar(0.0, 1.0, f"z{j}") for j in range(len(cands))]
    for req, cand, s, z in zip(requests, cands, shares, served, strict=True):
        lp.Add(req.demanded_rate_hz * z <= cand.rate_per_share_hz * s)
    for frame in sorted({f for c in cands for f in c.frames}):
        lp.Add(sum(c.frames.get(frame, 0) * s for s, c in zip(shares, cands, strict=True)) <= 1.0)
    lp.Maximize(
        sum(
            r.weight * r.demanded_rate_hz * c.quality * z
            for r, c, z in zip(requests, cands, served, strict=True)
        )
    )
    if lp.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    return float(lp.Objective().Value()), [float(s.solution_value()) for s in shares]


def exhaustive_optimum(problem: Problem, max_combinations: int = 200_000) -> Plan:
    """Exact Σ w·U optimum by enumeration; raises ValueError if the instance is too big."""
    live = [r for r in problem.requests if problem.options(r.name)]
    sizes = [len(problem.options(r.name)) + 1 for r in live]
    if math.prod(sizes) > max_combinations:
        raise ValueError(f"{math.prod(sizes)} combinations exceed {max_combinations}")
    pairs = problem.priority_pairs
    best_value = -1.0
    best_choice: tuple[tuple[Request, Candidate], ...] = ()
    best_shares: list[float] = []
    for choice in itertools.product(*[(None, *problem.options(r.name)) for r in live]):
        chosen = [(r, c) for r, c in zip(live, choice, strict=True) if c is not None]
        admitted = {r.name for r, _ in chosen}
        if any(lo in admitted and hi not in admitted for hi, lo in pairs):
            continue
        if not _integral_fit(problem, [c for _, c in chosen]):
            continue
        lp = optimal_shares([r for r, _ in chosen], [c for _, c in chosen])
        if lp is not None and lp[0] > best_value:
            best_value, best_choice, best_shares = lp[0], tuple(chosen), lp[1]
    shares = {r.name: (c, s) for (r, c), s in zip(best_choice, best_shares, strict=True)}
    assignments = [
        Assignment(r, *shares[r.name]) if r.name in shares else Assignment(r, reason="not chosen")
        for r in problem.requests
    ]
    plan = Plan.from_assignments("exhaustive", assignments)
    plan.status, plan.objective, plan.bound = SolveStatus.OPTIMAL, best_value, best_value
    return plan


def _integral_fit(problem: Problem, cands: Sequence[Candidate]) -> bool:
    """Memory, channels, ports and the sum of share floors of a fixed choice fit."""
    residual = _Residual(problem)
    for cand in cands:
        if not residual.fits(cand):
            return False
        residual.take(cand, cand.min_share)
    return True
