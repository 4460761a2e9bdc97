"""Self-healing's reduced Q-NUM model: re-place only the requests a failure hit.

Why a separate model: pinning the unaffected requests by variable bounds inside the full
model (``solver.solve(keep=...)``) still builds and presolves every live request's
candidates, which dominates a healing round on a network with dozens of live services.
Here a pinned request is a constant: its usage (share of each TDMA frame, memory qubits
per node, lightpaths per transparent island, q-ROADM add/drop ports — exactly what the
model's capacity constraints count) is subtracted from the capacities given to the
model (:class:`PinnedUsage`, :class:`ReducedProblem`), and the model holds only

* the *free* requests (those the caller does not keep, and kept ones whose previous
  candidate no longer exists), with every candidate that still fits the capacity left,
* the pinned requests the priority rule couples to a free one (a lower-priority request
  a free one may pre-empt; a pinned competitor whose state constrains a free one), each
  with its previous candidate only, pinned by the solver's ``keep`` as in the full model.

So every constraint the full pinned model states about a free request is stated here too,
and any plan of the reduced problem merged with the pins satisfies the full problem.

Truthfulness: the reduced solve is optimal (at best) for the reduced problem — the
network with the pins held fixed — not for the whole configuration space. The merged
plan therefore has status ``feasible`` and no bound (none is proven for the whole
network); its notes give the reduced solve's own status and gap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

import structlog

from qnum.candidates import Candidate, RequestCandidates
from qnum.plan import CAPACITY_TOL, Assignment, Plan, Problem, SolveStatus
from qnum.solver import SolverOptions, plan_objective, solve

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PinnedUsage:
    """What pinned requests hold: share per TDMA frame, qubits per memory node, lightpaths
    per transparent island, add/drop ports per q-ROADM."""

    frames: Mapping[str, float] = field(default_factory=dict)
    memory: Mapping[str, float] = field(default_factory=dict)
    channels: Mapping[str, float] = field(default_factory=dict)
    ports: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, assignments: Iterable[Assignment]) -> PinnedUsage:
        held = Plan.from_assignments("pinned", assignments)
        return cls(held.frame_load(), held.memory_use(), held.island_channels(),
                   held.add_drop_ports())

    def exceeded(self, problem: Problem) -> list[str]:
        """Capacities of ``problem`` the pins alone already exceed (empty normally: the
        pins were feasible together and a failure removes elements, not capacity on the
        elements that remain)."""
        out = [f"frame {f} carries share {v:.6g} > {problem.frame_capacity(f)}"
               for f, v in self.frames.items() if v > problem.frame_capacity(f) + CAPACITY_TOL]
        for kind, usage in (("memory", self.memory), ("channels", self.channels),
                            ("ports", self.ports)):
            out += [f"{kind} of {key}: {v:g} > {problem.capacity(kind, key)}"
                    for key, v in usage.items() if v > problem.capacity(kind, key) + CAPACITY_TOL]
        return out


@dataclass(frozen=True)
class ReducedProblem(Problem):
    """A :class:`Problem` over some requests, with the capacities ``pinned`` leaves and
    the priority pairs of the full problem among its requests (given, not recomputed:
    the reduced candidate sets would find fewer competitors)."""

    pinned: PinnedUsage = field(default_factory=PinnedUsage)

    def frame_capacity(self, frame: str) -> float:
        return max(0.0, super().frame_capacity(frame) - self.pinned.frames.get(frame, 0.0))

    def memory_capacity(self, node: str) -> int:
        return super().memory_capacity(node) - round(self.pinned.memory.get(node, 0.0))

    def channel_capacity(self, island: str) -> int:
        return super().channel_capacity(island) - round(self.pinned.channels.get(island, 0.0))

    def port_capacity(self, node: str) -> int:
        return super().port_capacity(node) - round(self.pinned.ports.get(node, 0.0))


@dataclass(frozen=True)
class Reduction:
    """A reduced problem and how it relates to the full one."""

    problem: ReducedProblem
    free: frozenset[str]          # requests the solve may place anywhere
    pinned: Mapping[str, Assignment]   # every other request: its fixed assignment


def previous_candidate(problem: Problem, plan: Plan, name: str) -> Candidate | None:
    """The request's admitted candidate in ``plan`` as it exists in ``problem`` (None if
    it was not admitted or that candidate is gone)."""
    old = plan.assignments.get(name)
    if old is None or not old.admitted or old.candidate is None:
        return None
    key = old.candidate.key
    return next((c for c in problem.options(name) if c.key == key), None)


def reduce(problem: Problem, previous: Plan, keep: Collection[str],
           protected: Collection[str] = ()) -> Reduction:
    """The reduced problem for re-placing what ``keep`` does not pin (see the module
    docstring). ``keep`` and ``protected`` mean what they mean to ``solver.solve``."""
    keep, protected = set(keep), set(protected)
    pinned: dict[str, Assignment] = {}
    free: set[str] = set()
    for req in problem.requests:
        name = req.name
        old = previous.assignments.get(name)
        cand = previous_candidate(problem, previous, name)
        if name not in keep or (cand is None and old is not None and old.admitted):
            free.add(name)          # not kept, or its previous route is gone: it moves
        elif cand is not None and old is not None:
            pinned[name] = Assignment(req, cand, old.share)
        else:
            pinned[name] = Assignment(req, reason=old.reason if old is not None else None)
    live = [r for r in problem.requests if problem.options(r.name)]
    resources = {r.name: problem.resources(r.name) for r in live}
    priority = {r.name: r.priority for r in live}

    def compete(a: str, b: str) -> bool:
        return priority[a] != priority[b] and not resources[a].isdisjoint(resources[b])

    variable = {n for n in free if n in resources}
    # A pinned request a free higher-priority one competes with may be pre-empted by it
    # (unless protected): it is a variable too, on its previous candidate.
    variable |= {lo for lo in list(pinned) if lo in resources and lo not in protected
                 and pinned[lo].admitted
                 and any(priority[hi] > priority[lo] and compete(hi, lo)
                         for hi in variable)}
    # Every (higher, lower) competing pair with a variable end; a pinned end joins the
    # model (pinned there by `keep`) so the pair's constraint is stated as in the full one.
    pairs: set[tuple[str, str]] = set()
    for v in variable:
        for other in resources:
            if other != v and compete(v, other):
                pairs.add((v, other) if priority[v] > priority[other] else (other, v))
    members = free | {n for pair in pairs for n in pair}
    held = [a for n, a in pinned.items() if n not in members and a.admitted]
    candidates: dict[str, RequestCandidates] = {}       # filled below, once capacities known
    reduced = ReducedProblem(
        problem.network, tuple(r for r in problem.requests if r.name in members),
        candidates, pinned=PinnedUsage.of(held), pairs=tuple(sorted(pairs)))
    for req in problem.requests:
        name = req.name
        rc = problem.candidates[name]
        if name in free:
            fits = tuple(c for c in rc.candidates if _fits(reduced, c))
            # none fits: keep the best one so the rejection names the exhausted resource
            candidates[name] = RequestCandidates(rc.request, fits or rc.candidates[:1],
                                                 rc.reason)
        elif name in members:
            a = pinned[name]
            own = (a.candidate,) if a.candidate is not None else rc.candidates[:1]
            candidates[name] = RequestCandidates(rc.request, own, rc.reason)
    return Reduction(reduced, frozenset(free), pinned)


def _fits(residual: ReducedProblem, cand: Candidate) -> bool:
    """The candidate alone fits the capacity the pins leave (at its share floor)."""
    return (all(k * cand.min_share <= residual.frame_capacity(f) + CAPACITY_TOL
                for f, k in cand.frames.items())
            and all(k <= residual.memory_capacity(n) for n, k in cand.memory.items())
            and all(k <= residual.channel_capacity(i)
                    for i, k in cand.island_channels.items())
            and all(k <= residual.port_capacity(n) for n, k in cand.add_drop_ports.items()))


def merge(problem: Problem, reduction: Reduction, reduced_plan: Plan,
          options: SolverOptions, started: float) -> Plan:
    """The whole network's plan: the pins plus the reduced solve's choices, reported as
    ``feasible`` with no bound (see the module docstring)."""
    assignments = []
    for req in problem.requests:
        a = reduced_plan.assignments.get(req.name) or reduction.pinned[req.name]
        assignments.append(a)
    gap = reduced_plan.gap
    why = (f"re-placed {len(reduction.free)} request(s) on a reduced model, "
           f"{len(problem.requests) - len(reduction.free)} pinned where they were: "
           f"{reduced_plan.status.value} for that reduced problem"
           + (f" (gap {gap:.3g})" if not math.isnan(gap) else "")
           + "; no bound is proven for the whole network")
    plan = Plan(method="qnum", assignments={a.request.name: a for a in assignments},
                status=SolveStatus.FEASIBLE, notes=[*reduced_plan.notes, why])
    plan.objective = plan_objective(problem, plan, options)
    plan.objective_kind = options.objective.value
    plan.solve_time_s = time.perf_counter() - started
    return plan


def solve_reduced(problem: Problem, options: SolverOptions | None = None, *,
                  previous: Plan, keep: Collection[str], protected: Collection[str] = (),
                  strict_keep: bool = False) -> Plan:
    """Re-place the requests ``keep`` does not pin, on the reduced model, warm-started
    from ``previous`` (its still-valid choices are the solver's hint and stability
    reference). Falls back to the full pinned solve (``solver.solve``) when the pins
    alone exceed a capacity or the reduced solve fails, and uses it for a sliced
    problem."""
    options = options or SolverOptions()
    started = time.perf_counter()
    if options.slicing is not None:
        # Slice rows couple pinned and free members (aggregate rates, a reservation held
        # as max(use, reserved)): they are not capacities a constant can be taken from.
        return solve(problem, options, previous=previous, keep=keep, protected=protected,
                     strict_keep=strict_keep)
    reduction = reduce(problem, previous, keep, protected)
    over = reduction.problem.pinned.exceeded(problem)
    if not over:
        kept = set(keep) & {r.name for r in reduction.problem.requests}
        # The reduced model is small: a restricted first solve (qnum.neighbourhood)
        # would only add an LP to the healing round.
        reduced_plan = solve(reduction.problem, replace(options, guide=False),
                             previous=previous, keep=kept,
                             protected=protected, strict_keep=strict_keep)
        if reduced_plan.status not in (SolveStatus.ERROR, SolveStatus.INFEASIBLE):
            plan = merge(problem, reduction, reduced_plan, options, started)
            log.info("qnum.reduced_solve", free=len(reduction.free),
                     modelled=len(reduction.problem.requests),
                     reduced_status=reduced_plan.status.value,
                     seconds=round(plan.solve_time_s, 3))
            return plan
        log.warning("qnum.reduced_solve_failed", status=reduced_plan.status.value,
                    notes=reduced_plan.notes)
    else:
        log.warning("qnum.pins_exceed_capacity", exceeded=over)
    return solve(problem, options, previous=previous, keep=keep, protected=protected,
                 strict_keep=strict_keep)
