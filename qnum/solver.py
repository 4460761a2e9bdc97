"""Q-NUM: one mixed-integer model that routes, configures, shares and admits jointly.

Solver choice
-------------
The model mixes binary choices (which candidate, admission) with continuous shares of each
fibre's attempt slots.  We solve it as a MIP through OR-Tools MathOpt: shares stay
continuous, so no share grid and no rounding error enter the utility, the dual bound and gap
are reported natively, and MathOpt passes solution hints (the previous plan, the best
baseline).  HiGHS is the default backend, SCIP selectable: on the 800-node / 500-request
benchmark instance HiGHS reaches a 0.2 % gap in 60 s where SCIP (single-threaded, weak
primal heuristics here) stays near 10 %.  CP-SAT would need shares and objective
coefficients scaled to integers; utilities span many orders of magnitude (kHz metro links
next to mHz long chains), so any common integer scale is either lossy or huge.
"optimal" means optimal within ``relative_gap``; the gap itself is always reported.

Variables and rate model (per request j, candidate c ∈ C_j — see :mod:`qnum.candidates`)
------------------------------------------------------------------------------------------
* x_c ∈ {0,1}: candidate c chosen; Σ_c x_c ≤ 1 (0 = rejected).
* s_c ∈ [0,1]: share of the attempt slots granted on **every** fibre of c's route
  (time-division: the same fraction of each fibre's TDMA frame); σ_c·x_c ≤ s_c ≤ x_c, σ_c
  being the candidate's share floor (its fidelity is only guaranteed for s ≥ σ_c).
* z_c ∈ [0,1]: fraction of the demand D_j delivered; z_c ≤ x_c and D_j·z_c ≤ r_c·s_c.
  So the delivered rate R_j = min(r_c·s_c, D_j) — linear in the decision variables,
  r_c being the candidate's rate per unit share — and U_j = q(F_c)·R_j = D_j·q_c·z_c.

Constraints: Σ s_c over candidates using a TDMA frame ≤ 1 (link generation capacity; a frame
is one fibre, or a transparent island whose elementary links must share time slots on every
fibre they cross — see :mod:`qnum.candidates`); Σ x_c·m_c(v) ≤ memory-qubits(v) (node
memory); lightpaths per island ≤ the island's smallest wavelength-channels, and
Σ x_c·p_c(v) ≤ add-drop-ports(v) (circuit-switched q-ROADMs); coherence budget: already
inside every candidate (cut-off window ≤ T_ent − latency at the share floor) plus s_c ≥ σ_c
here; priority: a lower-priority request is admitted only if each higher-priority
competitor is (``Problem.priority_pairs``).

Objectives
----------
* ``sum``: maximise Σ_j w_j·U_j.
* ``proportional-fair``: maximise Σ_j w_j·log(U_j), piecewise-linear: with u_j = U_j/U_j^max
  ∈ [0,1] and φ_j ≤ a_k·u_j + b_k for tangents of log at geometric points in
  [floor, 1] (``qnum.utility.log_tangent_cuts``).  Tangents over-estimate the concave log,
  so the model's dual bound is a valid bound on the true Σ w·log; the reported objective
  is the true value of the returned plan, and a rejected request counts as log(floor/e).
  Requests without any feasible candidate are left out of both objectives (constants).

Warm start and stability
------------------------
Re-solving after a change passes the previous plan: its (still existing) candidates and
shares become a solution hint, and a small stability term rewards keeping each request's
previous candidate (ε_j·x) and penalises moving its share (ε_j·|s − s_prev|), with ε_j a
``stability_weight`` fraction of that request's previous objective contribution.  So a
fibre cut does not reshuffle unaffected requests unless that gains more than ε.  Baseline
plans are passed as hints too; the returned plan is never worse than the best hint (the
hint itself is returned if the solver did not improve on it within the time limit).

Self-healing goes further: ``keep`` names requests whose previous state is fixed (admitted:
x = 1 on the same candidate, s = s_prev; rejected: x = 0), so re-routing the services a
failure hit cannot move a service it did not hit, whatever the gap tolerance (self-healing
solves the smaller model of :mod:`qnum.reduced`, where kept requests are constants).  Should the
fixed choices be infeasible together (they were feasible before, so only if capacities
shrank), the solve is repeated without them rather than rejecting everything.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

import structlog
from ortools.math_opt.python import mathopt

from qnum.candidates import Candidate, CandidateOptions
from qnum.colgen import ColumnGeneration, Relaxation, close_gap, generate_columns
from qnum.io import Objective, Request
from qnum.neighbourhood import neighbourhood, restricted, worth_guiding
from qnum.plan import Assignment, Plan, Problem, SolveStatus, violations
from qnum.pricing import Prices
from qnum.slice_greedy import guarantee_first
from qnum.slices import SliceObjective, Slicing
from qnum.slicing import (
    add_constraints,
    check_slos,
    guarantees,
    objective_terms,
    plan_value,
    sliced_violations,
)
from qnum.utility import log_tangent_cuts

log = structlog.get_logger(__name__)

SOLVERS: Mapping[str, mathopt.SolverType] = {
    "scip": mathopt.SolverType.GSCIP,
    "highs": mathopt.SolverType.HIGHS,
}


@dataclass(frozen=True)
class SolverOptions:
    time_limit_s: float = 10.0
    objective: Objective = Objective.SUM
    relative_gap: float = 1e-6
    solver: str = "highs"
    stability_weight: float = 1e-3
    fairness_cuts: int = 16
    fairness_floor: float = 1e-4
    threads: int = 1
    #: Price columns over the declared space when candidate sets do not cover it
    #: (qnum.colgen), spending at most this fraction of the time limit on it.
    column_generation: bool = True
    pricing_share: float = 0.5
    #: A large instance's first, restricted MILP (qnum.neighbourhood) may use this share
    #: of the time limit; it ends sooner when it proves its small model optimal.
    guide: bool = True
    guide_share: float = 0.25
    #: Listing what could beat the guide's plan (qnum.colgen.close_gap) ends by this
    #: fraction of the time limit, leaving the rest to the full MILP.
    guide_close_by: float = 0.6
    #: Slice guarantees, isolation and the slice-level objective (qnum.slicing); the
    #: slicing's objective replaces ``objective``.  Column generation and the guide are
    #: off with it (their prices and restricted models know no slice rows).
    slicing: Slicing | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "objective", Objective(self.objective))
        if not self.time_limit_s > 0 or not math.isfinite(self.time_limit_s):
            raise ValueError("time_limit_s must be a positive number")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {sorted(SOLVERS)}")
        if not 0.0 < self.fairness_floor < 1.0:
            raise ValueError("fairness_floor must lie in (0, 1)")


@dataclass
class _Vars:
    x: mathopt.Variable
    s: mathopt.Variable
    z: mathopt.Variable


@dataclass
class _Model:
    """The MathOpt model plus the handles needed to read a plan back."""

    model: mathopt.Model
    vars: dict[str, list[_Vars]] = field(default_factory=dict)
    phi: dict[str, mathopt.Variable] = field(default_factory=dict)
    scale: float = 1.0
    offset: float = 0.0
    #: Rows whose duals price resources in column generation (qnum.pricing).
    convexity: dict[str, mathopt.LinearConstraint] = field(default_factory=dict)
    frame_rows: dict[str, mathopt.LinearConstraint] = field(default_factory=dict)
    resource_rows: dict[tuple[str, str], mathopt.LinearConstraint] = field(default_factory=dict)
    priority_rows: dict[tuple[str, str], mathopt.LinearConstraint] = field(default_factory=dict)


def utility_cap(req: Request, cand: Candidate) -> float:
    """Largest U the candidate can give its request: q·min(r, D)."""
    return cand.quality * min(cand.rate_per_share_hz, req.demanded_rate_hz)


def plan_objective(problem: Problem, plan: Plan, options: SolverOptions) -> float:
    """True objective of a plan (Σ w·U or Σ w·log U with the rejected-request floor)."""
    if options.slicing is not None:
        return plan_value(problem, options.slicing, plan, options.fairness_floor)
    if options.objective is Objective.SUM:
        return plan.total_utility
    total = 0.0
    for req in problem.requests:
        cands = problem.options(req.name)
        if not cands:
            continue
        u_max = max(utility_cap(req, c) for c in cands)
        a = plan.assignments[req.name]
        floor = options.fairness_floor / math.e
        total += req.weight * math.log(u_max * max(a.utility / u_max, floor))
    return total


class _Builder:
    def __init__(self, problem: Problem, options: SolverOptions,
                 protected: Collection[str] = (), relaxed: bool = False) -> None:
        self.problem, self.options, self.relaxed = problem, options, relaxed
        self.protected = frozenset(protected)
        self.m = _Model(mathopt.Model(name="qnum"))
        self.live = [r for r in problem.requests if problem.options(r.name)]
        caps = [utility_cap(r, c) * r.weight for r in self.live for c in problem.options(r.name)]
        self.m.scale = max(caps, default=1.0) or 1.0

    def build(self) -> _Model:
        model = self.m.model
        for req in self.live:
            self._request(req)
        self._capacities()
        slicing = self.options.slicing
        guaranteed: Collection[str] = ()
        if slicing is not None:
            add_constraints(model, self.problem, slicing, self.m.vars)
            guaranteed = guarantees(self.problem, slicing).keys()
        for hi, lo in self.problem.priority_pairs:
            # A protected service is never pre-empted, nor a slice's guaranteed member.
            if lo not in self.protected and lo not in guaranteed:
                self.m.priority_rows[hi, lo] = model.add_linear_constraint(
                    self.admitted(lo) <= self.admitted(hi))
        return self.m

    def admitted(self, name: str) -> mathopt.LinearExpression:
        return mathopt.fast_sum(v.x for v in self.m.vars[name])

    def _request(self, req: Request) -> None:
        model = self.m.model
        handles: list[_Vars] = []
        for i, cand in enumerate(self.problem.options(req.name)):
            tag = f"{req.name}#{i}"
            v = _Vars(
                model.add_variable(lb=0.0, ub=1.0, name=f"x[{tag}]") if self.relaxed
                else model.add_binary_variable(name=f"x[{tag}]"),
                model.add_variable(lb=0.0, ub=1.0, name=f"s[{tag}]"),
                model.add_variable(lb=0.0, ub=1.0, name=f"z[{tag}]"),
            )
            model.add_linear_constraint(v.s >= cand.min_share * v.x)
            model.add_linear_constraint(v.s <= v.x)
            model.add_linear_constraint(v.z <= v.x)
            ratio = cand.rate_per_share_hz / req.demanded_rate_hz
            if ratio < 1.0 / cand.min_share:  # else s ≥ σ already delivers the whole demand
                model.add_linear_constraint(v.z <= ratio * v.s)
            handles.append(v)
        self.m.vars[req.name] = handles
        self.m.convexity[req.name] = model.add_linear_constraint(
            mathopt.fast_sum(v.x for v in handles) <= 1.0)

    def _capacities(self) -> None:
        model = self.m.model
        links: dict[str, list[mathopt.LinearExpression]] = {}
        usage: dict[tuple[str, str], list[tuple[int, mathopt.Variable]]] = {}
        for req in self.live:
            for cand, v in zip(self.problem.options(req.name), self.m.vars[req.name], strict=True):
                for frame, count in cand.frames.items():
                    links.setdefault(frame, []).append(count * v.s)
                for kind, amounts in cand.resource_use:
                    for node, amount in amounts.items():
                        usage.setdefault((kind, node), []).append((amount, v.x))
        for frame, shares in links.items():
            self.m.frame_rows[frame] = model.add_linear_constraint(
                mathopt.fast_sum(shares) <= self.problem.frame_capacity(frame))
        for (kind, node), terms in usage.items():
            cap = self.problem.capacity(kind, node)
            if self.relaxed or sum(a for a, _ in terms) > cap:
                self.m.resource_rows[kind, node] = model.add_linear_constraint(
                    mathopt.fast_sum(a * x for a, x in terms) <= cap, name=f"{kind}[{node}]"
                )

    def objective(self, previous: Plan | None) -> None:
        fair = self.options.objective is Objective.PROPORTIONAL_FAIR
        if self.options.slicing is not None:
            sliced = objective_terms(self.m.model, self.problem, self.options.slicing,
                                     self.m.vars, self.options.fairness_floor,
                                     self.options.fairness_cuts)
            terms, self.m.scale, self.m.offset = sliced.terms, sliced.scale, sliced.offset
        else:
            terms = self._fair_terms() if fair else self._sum_terms()
        terms.extend(self._stability_terms(previous))
        self.m.model.maximize(mathopt.fast_sum(terms))

    def _sum_terms(self) -> list[mathopt.LinearExpression]:
        out: list[mathopt.LinearExpression] = []
        for req in self.live:
            for cand, v in zip(self.problem.options(req.name), self.m.vars[req.name], strict=True):
                coef = req.weight * req.demanded_rate_hz * cand.quality / self.m.scale
                out.append(coef * v.z)
        return out

    def _fair_terms(self) -> list[mathopt.LinearExpression]:
        model = self.m.model
        floor = self.options.fairness_floor
        cuts = log_tangent_cuts(floor, 1.0, self.options.fairness_cuts)
        out: list[mathopt.LinearExpression] = []
        self.m.scale = 1.0
        for req in self.live:
            cands = self.problem.options(req.name)
            u_max = max(utility_cap(req, c) for c in cands)
            norm = mathopt.fast_sum(
                (req.demanded_rate_hz * c.quality / u_max) * v.z
                for c, v in zip(cands, self.m.vars[req.name], strict=True)
            )
            phi = model.add_variable(lb=math.log(floor) - 1.0, ub=0.0, name=f"phi[{req.name}]")
            for slope, intercept in cuts:
                model.add_linear_constraint(phi <= slope * norm + intercept)
            self.m.phi[req.name] = phi
            self.m.offset += req.weight * math.log(u_max)
            out.append(req.weight * phi)
        return out

    def _stability_terms(self, previous: Plan | None) -> list[mathopt.LinearExpression]:
        if previous is None or self.options.stability_weight <= 0.0:
            return []
        out: list[mathopt.LinearExpression] = []
        for req in self.live:
            hit = _previous_choice(self.problem, previous, req.name)
            if hit is None:
                continue
            index, share = hit
            cand = self.problem.options(req.name)[index]
            v = self.m.vars[req.name][index]
            slicing = self.options.slicing
            group = slicing.slice_of(req.name) if slicing is not None else None
            linear = (self.options.objective is Objective.SUM if slicing is None
                      else slicing.objective is SliceObjective.WEIGHTED_SUM)
            if linear:
                scale = group.weight if group is not None else 1.0
                value = scale * req.weight * utility_cap(req, cand) / self.m.scale
            else:   # its group's log term: the slice weight, or its own weight unsliced
                value = group.weight if group is not None else req.weight
            eps = self.options.stability_weight * max(value, 1e-9)
            dev = self.m.model.add_variable(lb=0.0, ub=1.0, name=f"dev[{req.name}]")
            self.m.model.add_linear_constraint(dev >= v.s - share)
            self.m.model.add_linear_constraint(dev >= share - v.s)
            out.extend([eps * v.x, -eps * dev])
        return out


def _fix(problem: Problem, built: _Model, previous: Plan, keep: Collection[str],
         protected: Collection[str] = ()) -> int:
    """Pin each kept request to its previous state: its (still existing) candidate and
    share if it was admitted, rejected if it was not.

    A kept request that competes with a higher-priority request that is *not* kept may
    have to be pre-empted for it (the priority rule): it keeps its candidate and share
    or is rejected, but never moves.
    """
    free = {r.name for r in problem.requests} - set(keep)
    released = {lo for hi, lo in problem.priority_pairs if hi in free} - set(protected)
    model = built.model
    fixed = 0
    for name in keep:
        handles = built.vars.get(name)
        if not handles:
            continue
        hit = _previous_choice(problem, previous, name)
        if hit is None and name in previous.assignments and previous.assignments[name].admitted:
            continue             # its previous route is gone: it must move, so it is free
        index, share = hit if hit is not None else (-1, 0.0)
        for i, v in enumerate(handles):
            if i != index:
                v.x.upper_bound = 0.0
        if hit is None:
            fixed += 1
            continue
        v = handles[index]
        # The previous share was clamped to min_share after the solve; allow the solver's
        # own rounding below it so pins that filled a fibre stay feasible.
        low = max(0.0, share - 1e-7)
        if name in released:
            model.add_linear_constraint(v.s >= low * v.x)
            model.add_linear_constraint(v.s <= share * v.x)
        else:
            v.x.lower_bound = 1.0
            v.s.lower_bound, v.s.upper_bound = low, share
        fixed += 1
    return fixed


def _restore_pinned_shares(problem: Problem, plan: Plan, previous: Plan | None,
                           keep: Collection[str]) -> None:
    """A pinned share may come back up to 1e-7 lower (the pin's tolerance): a kept
    service on its old candidate keeps exactly its old share."""
    if previous is None:
        return
    for name in keep:
        new, old = plan.assignments.get(name), previous.assignments.get(name)
        if (new is not None and old is not None and new.admitted and old.admitted
                and new.candidate is not None and old.candidate is not None
                and new.candidate.key == old.candidate.key
                and abs(new.share - old.share) <= 1e-6):
            plan.assignments[name] = Assignment(new.request, new.candidate, old.share)


def _previous_choice(problem: Problem, plan: Plan, name: str) -> tuple[int, float] | None:
    """(candidate index, share) of the request's admitted assignment in ``plan``, if still valid."""
    old = plan.assignments.get(name)
    if old is None or not old.admitted or old.candidate is None:
        return None
    options = problem.options(name)
    # The same candidate first: two candidates can share a key (same fibres, rounds,
    # cut-off kind and floor) yet differ (another network's evaluation), and a hint
    # restated on the wrong one would lose the utility it promised.
    for i, cand in enumerate(options):
        if cand == old.candidate:
            return i, old.share
    for i, cand in enumerate(options):
        if cand.key == old.candidate.key:
            return i, old.share
    return None


def _hint(problem: Problem, built: _Model, plan: Plan) -> mathopt.SolutionHint:
    """The plan's still-existing choices as a full assignment of x, s and z."""
    values: dict[mathopt.Variable, float] = {}
    for req in problem.requests:
        handles = built.vars.get(req.name, [])
        choice = _previous_choice(problem, plan, req.name) if handles else None
        for i, (cand, v) in enumerate(zip(problem.options(req.name), handles, strict=True)):
            share = choice[1] if choice is not None and choice[0] == i else 0.0
            values[v.x] = 1.0 if share > 0.0 else 0.0
            values[v.s] = share
            values[v.z] = min(1.0, cand.rate_per_share_hz * share / req.demanded_rate_hz)
    # A value outside its variable's bounds (a kept service's fixed choice, qnum's _fix)
    # makes HiGHS abort with an internal error rather than repair the hint: clamp it.
    clamped = {v: min(max(value, v.lower_bound), v.upper_bound) for v, value in values.items()}
    return mathopt.SolutionHint(variable_values=clamped)


def hintable_starts(problem: Problem, starts: Sequence[Plan], options: SolverOptions) -> list[Plan]:
    """The starting plans worth handing to the solver as hints.

    Unsliced, every start goes (HiGHS repairs or drops an infeasible hint itself).  With
    slicing, a start that breaks a slice rule (a guaranteed member missing, a dedicated
    reservation used by an outsider) is not passed: it cannot seed a feasible plan, and
    the guarantee rows make HiGHS's repair of it slow on large problems."""
    if options.slicing is None:
        return list(starts)
    return [plan for plan in starts if not _broken(problem, project(problem, plan), options)]


def _broken(problem: Problem, plan: Plan, options: SolverOptions) -> list[str]:
    """Every rule of this solve the plan breaks (the slices' too, when sliced)."""
    if options.slicing is None:
        return violations(problem, plan)
    return sliced_violations(problem, options.slicing, plan)


def _extract(problem: Problem, built: _Model, result: mathopt.SolveResult) -> Plan:
    values = result.variable_values()
    assignments: list[Assignment] = []
    for req in problem.requests:
        rc = problem.candidates[req.name]
        chosen = None
        for cand, v in zip(rc.candidates, built.vars.get(req.name, []), strict=False):
            if values[v.x] > 0.5:
                chosen = (cand, values[v.s])
        if chosen is None:
            assignments.append(Assignment(req, reason=rc.reason))
            continue
        cand, share = chosen
        need = req.demanded_rate_hz / cand.rate_per_share_hz
        share = min(max(share, cand.min_share), 1.0)
        share = max(cand.min_share, min(share, need))  # capacity beyond the demand is idle
        assignments.append(Assignment(req, cand, share))
    return Plan.from_assignments("qnum", assignments)


def _status(result: mathopt.SolveResult) -> SolveStatus:
    reason = result.termination.reason
    if reason is mathopt.TerminationReason.OPTIMAL:
        return SolveStatus.OPTIMAL
    if result.termination.limit is mathopt.Limit.TIME:
        return SolveStatus.TIME_LIMIT
    if reason is mathopt.TerminationReason.FEASIBLE:
        return SolveStatus.FEASIBLE
    if reason is mathopt.TerminationReason.INFEASIBLE:
        return SolveStatus.INFEASIBLE
    return SolveStatus.ERROR


def _rejected_plan(problem: Problem) -> Plan:
    return Plan.from_assignments(
        "qnum",
        (Assignment(r, reason=problem.candidates[r.name].reason) for r in problem.requests),
    )


def solve(
    problem: Problem,
    options: SolverOptions | None = None,
    previous: Plan | None = None,
    hints: Sequence[Plan] = (),
    keep: Collection[str] = (),
    protected: Collection[str] = (),
    strict_keep: bool = False,
) -> Plan:
    """Optimal (or best-within-time-limit) plan; see the module docstring for the model.

    `protected` kept requests are never pre-empted by a higher-priority request that is
    not kept (the priority rule is waived for them); with `strict_keep`, kept choices
    that are infeasible together give an INFEASIBLE plan instead of a solve without them
    (the caller refuses the change rather than move what it promised to keep)."""
    options = options or SolverOptions()
    start = time.perf_counter()
    if options.slicing is not None:
        # Refuse an infeasible SLO set with the slice, resource and shortfall named; its
        # witness (every guarantee kept) is a start the MILP improves on.
        witness = check_slos(problem, options.slicing, time_limit_s=0.5 * options.time_limit_s)
        hints = [*hints, *([witness] if witness is not None else []),
                 guarantee_first(problem, options.slicing)]
    columns = _price_columns(problem, options, start) if not keep else None
    space = problem.space or CandidateOptions()
    lp_bound = math.inf
    if not keep and options.slicing is None:
        guide, lp_bound = _guide(problem, options, columns,
                                 [p for p in (previous, *hints) if p])
        if guide is not None:
            hints = [guide, *hints]
            if columns is not None:
                # List what could still beat the guide's plan before the full MILP, so
                # that MILP's own bound already holds for the whole space.
                close_gap(problem, space, columns, plan_objective(problem, guide, options),
                          start + options.guide_close_by * options.time_limit_s)
    plan = _solve_listed(problem, options, start, previous, hints, keep, protected, strict_keep)
    deadline = start + options.time_limit_s
    # The enlarged MILP is only worth starting with a tenth of the limit left; it gets
    # what remains, so the solve stays within its limit.
    if (columns is not None and plan.status is not SolveStatus.ERROR
            and deadline - time.perf_counter() > 0.1 * options.time_limit_s):
        value = plan_objective(problem, plan, options)
        if close_gap(problem, space, columns, value,
                     deadline - 0.1 * options.time_limit_s):
            plan = _solve_listed(problem, options, start, previous, [plan, *hints], keep,
                                 protected, strict_keep, floor=0.02)
    if problem.covers_space and math.isfinite(lp_bound):
        # The LP relaxation bounds every plan over the listed (here: all) configurations;
        # it stands in when the MILP ran out of time before its own root bound.
        plan.bound = lp_bound if math.isnan(plan.bound) else min(plan.bound, lp_bound)
    if not problem.covers_space:
        _uncovered(problem, plan, options, columns)
    return _finish(problem, plan, start, options)


def _solve_listed(
    problem: Problem,
    options: SolverOptions,
    start: float,
    previous: Plan | None,
    hints: Sequence[Plan],
    keep: Collection[str],
    protected: Collection[str],
    strict_keep: bool,
    floor: float = 0.1,
) -> Plan:
    """The MILP over the listed candidates, within what is left of the time limit (at
    least ``floor`` of it, so a solve that priced columns still gets a MILP).

    The solver's clock starts after the model is built and leaves a twentieth of the
    limit for handing the model over and reading the plan back, which its clock does not
    count either."""
    builder = _Builder(problem, options, protected=set(protected) & set(keep))
    built = builder.build()
    builder.objective(previous)
    fixed = _fix(problem, built, previous, keep, protected) if previous is not None else 0
    starts = [p for p in (previous, *hints) if p is not None]
    model_params = mathopt.ModelSolveParameters(
        solution_hints=[_hint(problem, built, p) for p in hintable_starts(problem, starts, options)]
    )
    remaining = max(0.95 * options.time_limit_s - (time.perf_counter() - start),
                    floor * options.time_limit_s)
    params = mathopt.SolveParameters(
        time_limit=timedelta(seconds=remaining),
        relative_gap_tolerance=options.relative_gap,
        # HiGHS takes its thread count only from process-wide globals (MathOpt rejects it).
        threads=options.threads if options.solver != "highs" else None,
    )
    try:
        result = mathopt.solve(
            built.model,
            SOLVERS[options.solver],
            params=params,
            model_params=model_params,
            remove_names=True,
        )
    except Exception as exc:  # a solver failure must not take the controller down
        # ortools 9.15 masks MathOpt's StatusNotOk behind an AttributeError: show the cause.
        cause = exc.__context__ if isinstance(exc, AttributeError) and exc.__context__ else exc
        log.error("qnum.solve_failed", error=str(cause))
        plan = _rejected_plan(problem)
        plan.status, plan.notes = SolveStatus.ERROR, [f"solver error: {cause}"]
        return plan
    status = _status(result)
    if fixed and status is SolveStatus.INFEASIBLE:
        log.warning("qnum.keep_infeasible", kept=fixed, strict=strict_keep)
        if strict_keep:
            plan = _rejected_plan(problem)
            plan.status, plan.notes = SolveStatus.INFEASIBLE, [
                "the kept services do not fit together any more"]
            return plan
        return _solve_listed(problem, options, start, previous, hints, (), (), False)
    if result.has_primal_feasible_solution():
        plan = _extract(problem, built, result)
        if fixed:
            _restore_pinned_shares(problem, plan, previous, keep)
    else:
        plan = _rejected_plan(problem)
    plan.status = status if status is not SolveStatus.INFEASIBLE else SolveStatus.ERROR
    bound = result.termination.objective_bounds.dual_bound
    plan.bound = bound * built.scale + built.offset if math.isfinite(bound) else math.nan
    return _best_of(problem, plan, [previous] if fixed else starts, options)  # type: ignore[list-item]


def _price_columns(problem: Problem, options: SolverOptions,
                   start: float) -> ColumnGeneration | None:
    """Column generation (qnum.colgen) when some candidate set does not cover its space
    and the objective is the sum (the Lagrangian bound is linear in the utilities)."""
    if (problem.covers_space or problem.space is None or not options.column_generation
            or options.objective is not Objective.SUM or options.slicing is not None):
        return None
    deadline = start + options.pricing_share * options.time_limit_s
    return generate_columns(problem, problem.space, lambda p: _relaxation(p, options),
                            deadline)


def _guide(problem: Problem, options: SolverOptions, columns: ColumnGeneration | None,
           starts: Sequence[Plan]) -> tuple[Plan | None, float]:
    """A first plan from the MILP restricted to the LP relaxation's neighbourhood
    (qnum.neighbourhood), within ``guide_share`` of the time limit, and the LP
    relaxation's value over the listed candidates (inf when none was solved).  No plan on
    a small instance, for the fairness objective (whose LP prices are not utility prices)
    or when the restricted solve finds nothing."""
    if (not options.guide or options.objective is not Objective.SUM
            or not worth_guiding(problem)):
        return None, math.inf
    begin = time.perf_counter()
    relaxation = columns.relaxation if columns is not None else None
    lp_bound = math.inf
    if relaxation is None:
        relaxation = _relaxation(problem, options)
        lp_bound = relaxation.value
    sub = restricted(problem, neighbourhood(problem, relaxation, starts))
    budget = replace(options, time_limit_s=options.guide_share * options.time_limit_s)
    plan = _solve_listed(sub, budget, time.perf_counter(), None, starts, (), (), False)
    log.info("qnum.guide", objective=plan.total_utility, status=plan.status.value,
             candidates=sum(len(sub.options(r.name)) for r in sub.requests),
             seconds=round(time.perf_counter() - begin, 3))
    return (plan if plan.admitted else None), lp_bound


def _relaxation(problem: Problem, options: SolverOptions) -> Relaxation:
    """LP relaxation over the current columns and its duals as prices (the priority rows'
    duals become each request's admission credit, qnum.pricing)."""
    builder = _Builder(problem, options, relaxed=True)
    built = builder.build()
    builder.objective(None)
    result = mathopt.solve(built.model, mathopt.SolverType.GLOP, remove_names=True)
    if result.termination.reason is not mathopt.TerminationReason.OPTIMAL:
        raise RuntimeError(f"LP relaxation not solved: {result.termination}")
    duals = result.dual_values()

    def price(row: mathopt.LinearConstraint) -> float:
        # A ≤ row of a maximisation has a non-negative dual; clip solver round-off.
        return float(max(0.0, duals[row])) * built.scale

    values = result.variable_values()
    support = {name: frozenset(i for i, v in enumerate(handles) if values[v.x] > 1e-6)
               for name, handles in built.vars.items()}
    credit: dict[str, float] = {}
    for (hi, lo), row in built.priority_rows.items():
        rho = price(row)
        credit[hi] = credit.get(hi, 0.0) + rho
        credit[lo] = credit.get(lo, 0.0) - rho
    return Relaxation(
        value=float(result.objective_value()) * built.scale,
        prices=Prices({f: price(r) for f, r in built.frame_rows.items()},
                      {k: price(r) for k, r in built.resource_rows.items()}, credit),
        convexity={name: price(r) for name, r in built.convexity.items()},
        support=support,
    )


def _uncovered(problem: Problem, plan: Plan, options: SolverOptions,
               columns: ColumnGeneration | None) -> None:
    """The candidates are a subset of the declared space: the MILP's dual bound is valid
    for the subset only and gives way to one valid for the whole space — the column
    generation bound when it ran, else the per-request utility cap.  The plan is optimal
    only if it reaches that bound within the gap tolerance."""
    short = [r.name for r in problem.requests if not problem.candidates[r.name].complete]
    cap = space_bound(problem, options)
    if columns is not None and math.isfinite(columns.bound):
        restricted = plan.bound if not math.isnan(plan.bound) else math.inf
        plan.bound = columns.space_bound(restricted)
        if not math.isnan(cap):
            plan.bound = min(plan.bound, cap)
        how = (f"column generation bound ({columns.rounds} round(s), {columns.columns} "
               f"column(s) added, {'converged' if columns.converged else 'not converged'})")
    else:
        plan.bound, how = cap, "the per-request utility cap"
    value = plan_objective(problem, plan, options)
    proven = (not math.isnan(plan.bound)
              and plan.bound - value <= options.relative_gap * max(abs(value), 1e-12))
    if plan.status is SolveStatus.OPTIMAL and not proven:
        plan.status = SolveStatus.FEASIBLE
    plan.notes.append(
        f"candidates list only part of the declared space for {len(short)} request(s) "
        f"(first: {short[0]}); bound over the whole space: {how}")


def space_bound(problem: Problem, options: SolverOptions) -> float:
    """An upper bound on the sum objective over the whole declared space, NaN otherwise.

    Capacities only lower utilities, so Σ_j w_j·(best U_j alone) bounds the optimum: for
    a request whose candidates cover its space that is its best candidate's cap q·min(r, D);
    for one whose do not, D_j (q ≤ 1 and R ≤ D).
    """
    if options.objective is not Objective.SUM:
        return math.nan
    total = 0.0
    for req in problem.requests:
        rc = problem.candidates[req.name]
        if rc.complete:
            best = max((utility_cap(req, c) for c in rc.candidates), default=0.0)
        else:
            best = req.demanded_rate_hz
        total += req.weight * best
    return total


def project(problem: Problem, plan: Plan) -> Plan:
    """A plan (possibly made for an older network) restated on this problem's candidates.

    Assignments whose candidate no longer exists (e.g. it used a cut fibre) become
    rejections; the result may still violate capacities and must be checked before use.
    """
    assignments = []
    for req in problem.requests:
        hit = _previous_choice(problem, plan, req.name)
        if hit is None:
            assignments.append(Assignment(req, reason=problem.candidates[req.name].reason))
        else:
            assignments.append(Assignment(req, problem.options(req.name)[hit[0]], hit[1]))
    return Plan.from_assignments(plan.method, assignments)


def _best_of(problem: Problem, plan: Plan, starts: Sequence[Plan], options: SolverOptions) -> Plan:
    """Never return less than a (still valid) hint: if one beats the solver's plan, adopt it."""
    best, best_value = plan, plan_objective(problem, plan, options)
    for hint in (project(problem, p) for p in starts):
        if _broken(problem, hint, options):
            continue
        value = plan_objective(problem, hint, options)
        if value > best_value + 1e-9 * max(1.0, abs(best_value)):
            best, best_value = hint, value
    if best is plan:
        return plan
    adopted = Plan(
        method="qnum",
        assignments=dict(best.assignments),
        status=plan.status,
        bound=plan.bound,
        notes=[*plan.notes, f"kept warm-start plan from {best.method}"],
    )
    return adopted


def _finish(problem: Problem, plan: Plan, start: float, options: SolverOptions) -> Plan:
    plan.objective = plan_objective(problem, plan, options)
    plan.objective_kind = (options.objective.value if options.slicing is None
                           else f"slices-{options.slicing.objective.value}")
    if not math.isnan(plan.bound) and plan.bound < plan.objective:
        plan.bound = plan.objective  # solver tolerance: a bound cannot be below a feasible value
    explain = RejectionExplainer(problem, plan)
    plan.assignments = {
        name: a if a.admitted else Assignment(a.request, reason=explain(name))
        for name, a in plan.assignments.items()
    }
    plan.solve_time_s = time.perf_counter() - start
    log.info(
        "qnum.solved",
        status=plan.status.value,
        objective=plan.objective,
        bound=plan.bound,
        admitted=len(plan.admitted),
        seconds=round(plan.solve_time_s, 3),
    )
    return plan


class RejectionExplainer:
    """Why a request is not served: its own infeasibility, or which resource is exhausted."""

    def __init__(self, problem: Problem, plan: Plan) -> None:
        self.problem, self.plan = problem, plan
        self.admitted = {a.request.name for a in plan.admitted}
        self.load, self.memory = plan.frame_load(), plan.memory_use()
        self.channels, self.ports = plan.island_channels(), plan.add_drop_ports()
        self.competitors: dict[str, list[str]] = {}
        for hi, lo in problem.priority_pairs:
            self.competitors.setdefault(lo, []).append(hi)

    def __call__(self, name: str) -> str:
        rc = self.problem.candidates[name]
        if not rc.candidates:
            return rc.reason or "no feasible configuration"
        blockers = [hi for hi in self.competitors.get(name, []) if hi not in self.admitted]
        if blockers:
            return f"pre-empted: higher-priority competitor {blockers[0]} is not admitted"
        full = self._exhausted(rc.candidates[0])
        if full:
            return "not admitted: resources used by higher-utility requests: " + "; ".join(full)
        if self.plan.status is SolveStatus.OPTIMAL:
            return "not admitted: serving it would lower the objective"
        return f"not admitted within the solve ({self.plan.status.value})"

    def _exhausted(self, best: Candidate) -> list[str]:
        pb = self.problem
        full = [
            f"{_frame_name(f)} has {max(0.0, pb.frame_capacity(f) - self.load.get(f, 0.0)):.3g}"
            f" share left (needs {k * best.min_share:g})"
            for f, k in best.frames.items()
            if pb.frame_capacity(f) - self.load.get(f, 0.0) < k * best.min_share - 1e-9
        ]
        full += [
            f"node {n} has {pb.memory_capacity(n) - self.memory.get(n, 0):g} free qubits "
            f"(needs {k})"
            for n, k in best.memory.items()
            if pb.memory_capacity(n) - self.memory.get(n, 0) < k
        ]
        full += [
            f"{i} has no free wavelength channel"
            for i, k in best.island_channels.items()
            if pb.channel_capacity(i) - self.channels.get(i, 0) < k
        ]
        full += [
            f"q-ROADM {n} has no free add/drop port"
            for n, k in best.add_drop_ports.items()
            if pb.port_capacity(n) - self.ports.get(n, 0) < k
        ]
        return full


def _frame_name(frame: str) -> str:
    return frame if frame.startswith("island:") else f"fibre {frame}"
