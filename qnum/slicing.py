"""Slice guarantees, isolation and the slice-level objective inside the Q-NUM MILP.

A slice (qnum.slices, RFC 9543 §4) groups requests of one tenant.  The solver
(qnum.solver) adds the rows below to its model when ``SolverOptions.slicing`` is set; this
module also checks a slicing for feasibility before a solve (``check_slos``) and checks a
finished plan against it (``slice_violations``).

Semantics (RFC 9543 §5.1: an SLO is a promise of the service, not a best effort)
--------------------------------------------------------------------------------
* ``guaranteed_rate_hz`` (per connection): **every** member request of the slice is
  admitted, each with a delivered rate R_j ≥ min(g, D_j) (a request never receives more than
  it demands, so a guarantee above the demand is the demand).  A guarantee that could be
  kept by rejecting the request would promise nothing, hence "all members admitted".
  The request-priority rule does not pre-empt a guaranteed member.
* ``aggregate_rate_hz``: Σ_j∈slice R_j ≥ the aggregate (members may still be rejected).
* ``min_fidelity`` / ``max_latency_s``: a member's configurations below the fidelity or
  above the latency are excluded (never chosen), on top of the request's own minimum.
* ``availability`` is measured over time, not solved; it does not enter the model.
* Priority: a slice's ``priority`` ranks before its requests' own (``ranked_requests``):
  a request of a higher-priority slice outranks every competing request of a lower one,
  and within one priority level the requests' own priorities decide.  The solver's
  priority rule then rejects the lower rank first, as for request priorities.
* Quotas: at most ``max_requests`` members admitted, Σ of their demanded rates ≤
  ``max_rate_hz`` (configuration validation refuses bigger slices; the solver re-checks).

Isolation
---------
A ``dedicated`` slice reserves memory qubits per node and time shares per link (a link's
share reserves that share of the TDMA frame the link belongs to, qnum.candidates).  For a
resource r of capacity C, with M_k(r) the use by slice k's members and R_k(r) its
reservation, the row

    Σ_{requests outside non-borrowing reservations of r} use + Σ_k max(M_k(r), R_k(r)) ≤ C

(max linearised by e_k ≥ M_k, e_k ≥ R_k) lets members use their reservation plus the
common pool while nobody else touches the reservation.  With ``borrowing`` the slice's
reservation is *not* blocked: other requests may use what its members leave idle in this
plan.  Its guarantees are still hard rows of the same MILP, so every (re-)optimisation
returns borrowed capacity whenever a guarantee needs it: borrowing never violates a
guarantee.  A borrowing reservation still counts when reservations are checked against
capacity (``check_slos``), and reports report it as idle/borrowed capacity.

Slice-level objective (``Slicing.objective``)
---------------------------------------------
Groups are the slices plus each request outside any slice on its own (weight = the
request's weight, so an unsliced problem keeps its per-request objective).
* ``weighted-sum``: maximise Σ_k W_k·Σ_{j∈k} w_j·U_j.
* ``proportional-fairness``: maximise Σ_k W_k·log(Σ_{j∈k} w_j·U_j), piecewise-linear as the
  per-request objective of qnum.solver: u_k = Σ w_j U_j / U_k^max ∈ [0, 1] with tangents of
  log on [floor, 1]; a slice with nothing served counts log(U_k^max·floor/e), i.e. ε =
  U_k^max·floor/e in log(Σ U + ε) terms.  The dual bound is valid (tangents over-estimate).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Protocol

import structlog
from ortools.math_opt.python import mathopt

from qnum.candidates import Candidate
from qnum.io import Request
from qnum.plan import Assignment, Plan, Problem, violations
from qnum.slices import Isolation, Slice, SliceObjective, Slicing
from qnum.utility import log_tangent_cuts

log = structlog.get_logger(__name__)

#: Relative slack when a finished plan is checked (solver tolerances).
TOL = 1e-6
#: A resource row: ("frame", fibre-or-island), ("memory", node), ("channels", island),
#: ("ports", node) — the kinds of ``Problem.capacity`` plus the TDMA frames.
Resource = tuple[str, str]


class CandidateVars(Protocol):
    """The per-candidate variables of the solver's model (x chosen, s share, z demand)."""

    x: mathopt.Variable
    s: mathopt.Variable
    z: mathopt.Variable


# ----------------------------------------------------------------------------- shared facts


def eligible(sl: Slice | None, cand: Candidate) -> bool:
    """The candidate meets its slice's fidelity and latency objectives."""
    if sl is None:
        return True
    slo = sl.slo
    return ((slo.min_fidelity is None or cand.fidelity >= slo.min_fidelity)
            and (slo.max_latency_s is None or cand.latency_s <= slo.max_latency_s))


def guarantees(problem: Problem, slicing: Slicing) -> dict[str, float]:
    """Per-connection guaranteed rate of every member of a guaranteed slice (capped at the
    request's demand)."""
    out: dict[str, float] = {}
    for req in problem.requests:
        sl = slicing.slice_of(req.name)
        if sl is not None and sl.slo.guaranteed_rate_hz is not None:
            out[req.name] = min(sl.slo.guaranteed_rate_hz, req.demanded_rate_hz)
    return out


def _members(problem: Problem, sl: Slice) -> list[Request]:
    names = set(sl.requests)
    return [r for r in problem.requests if r.name in names]


def _frame_of_link(problem: Problem) -> dict[str, str]:
    """Link → the TDMA frame its time slots belong to (itself unless in an island)."""
    out = {lid: lid for lid in problem.network.links}
    for rc in problem.candidates.values():
        for cand in rc.candidates:
            for seg in cand.route.segments:
                for lid in seg.links:
                    out[lid] = seg.frame
    return out


@dataclass(frozen=True)
class Reservation:
    slice: str
    resource: Resource
    amount: float
    borrowing: bool


def reservations(problem: Problem, slicing: Slicing) -> list[Reservation]:
    """Dedicated slices' reservations as resource rows (shares summed per frame)."""
    frame_of = _frame_of_link(problem)
    out: dict[tuple[str, Resource], Reservation] = {}
    for sl in slicing.slices:
        if sl.isolation is not Isolation.DEDICATED:
            continue
        items: list[tuple[Resource, float]] = [
            (("memory", n), float(q)) for n, q in sl.reserved_memory.items()]
        items += [(("frame", frame_of.get(lk, lk)), sh) for lk, sh in sl.reserved_share.items()]
        for res, amount in items:
            old = out.get((sl.name, res))
            total = amount + (old.amount if old else 0.0)
            out[sl.name, res] = Reservation(sl.name, res, total, sl.borrowing)
    return list(out.values())


def capacity(problem: Problem, res: Resource) -> float:
    kind, key = res
    return problem.frame_capacity(key) if kind == "frame" else problem.capacity(kind, key)


def uses(cand: Candidate) -> Iterable[tuple[Resource, float, bool]]:
    """(resource, amount, per-share?) of one candidate: frames scale with its share."""
    for frame, count in cand.frames.items():
        yield ("frame", frame), float(count), True
    for kind, amounts in cand.resource_use:
        for key, amount in amounts.items():
            yield (kind, key), float(amount), False


def describe(res: Resource) -> tuple[str, str]:
    """(what, unit) of a resource for error messages."""
    kind, key = res
    if kind == "frame":
        where = key if key.startswith("island:") else f"fibre {key}"
        return f"time share of {where}", "share"
    return {"memory": (f"memory qubits on node {key}", "qubits"),
            "channels": (f"wavelength channels of {key}", "channels"),
            "ports": (f"add/drop ports of q-ROADM {key}", "ports")}[kind]


# ----------------------------------------------------------------------------- MILP rows


@dataclass
class SliceRows:
    """Slack variables of an elastic model (empty in the solver's hard model)."""

    resource_slack: dict[Resource, mathopt.Variable] = field(default_factory=dict)
    rate_slack: dict[str, mathopt.Variable] = field(default_factory=dict)
    aggregate_slack: dict[str, mathopt.Variable] = field(default_factory=dict)
    #: Linear use of each resource per slice (members only), to explain a shortfall.
    slice_use: dict[tuple[str, Resource], mathopt.LinearExpression] = field(default_factory=dict)


def add_constraints(model: mathopt.Model, problem: Problem, slicing: Slicing,
                    variables: Mapping[str, Sequence[CandidateVars]],
                    *, elastic: bool = False) -> SliceRows:
    """The slice rows (module docstring) over the solver's per-candidate variables.

    ``elastic`` adds a non-negative slack to every capacity, rate and aggregate row (and
    writes a row for every resource, not only reserved ones): the feasibility check
    minimises those slacks.
    """
    rows = SliceRows()
    guaranteed = guarantees(problem, slicing)
    for req in problem.requests:
        sl = slicing.slice_of(req.name)
        handles = variables.get(req.name, ())
        if sl is None or not handles:
            continue
        for cand, v in zip(problem.options(req.name), handles, strict=True):
            if not eligible(sl, cand):
                v.x.upper_bound = 0.0
        if req.name in guaranteed:
            model.add_linear_constraint(mathopt.fast_sum(v.x for v in handles) >= 1.0)
            rate = req.demanded_rate_hz * mathopt.fast_sum(v.z for v in handles)
            if elastic:
                rows.rate_slack[req.name] = slack = model.add_variable(lb=0.0)
                rate = rate + slack
            model.add_linear_constraint(rate >= guaranteed[req.name])
    for sl in slicing.slices:
        members = [r for r in _members(problem, sl) if variables.get(r.name)]
        admitted = [(r, v) for r in members for v in variables[r.name]]
        if sl.slo.aggregate_rate_hz is not None:
            total = mathopt.fast_sum(r.demanded_rate_hz * v.z for r, v in admitted)
            if elastic:
                rows.aggregate_slack[sl.name] = slack = model.add_variable(lb=0.0)
                total = total + slack
            model.add_linear_constraint(total >= sl.slo.aggregate_rate_hz)
        if sl.max_requests is not None:
            model.add_linear_constraint(mathopt.fast_sum(v.x for _, v in admitted)
                                        <= sl.max_requests)
        if sl.max_rate_hz is not None:
            model.add_linear_constraint(
                mathopt.fast_sum(r.demanded_rate_hz * v.x for r, v in admitted)
                <= sl.max_rate_hz)
    _isolation(model, problem, slicing, variables, rows, elastic)
    return rows


def _isolation(model: mathopt.Model, problem: Problem, slicing: Slicing,
               variables: Mapping[str, Sequence[CandidateVars]], rows: SliceRows,
               elastic: bool) -> None:
    blocking: dict[Resource, dict[str, float]] = {}
    for r in reservations(problem, slicing):
        if not r.borrowing:
            blocking.setdefault(r.resource, {})[r.slice] = r.amount
    free: dict[Resource, list[mathopt.LinearExpression]] = {}
    per_slice: dict[tuple[str, Resource], list[mathopt.LinearExpression]] = {}
    for req in problem.requests:
        sl = slicing.slice_of(req.name)
        for cand, v in zip(problem.options(req.name), variables.get(req.name, ()), strict=False):
            for res, amount, by_share in uses(cand):
                term = amount * (v.s if by_share else v.x)
                if sl is not None:
                    per_slice.setdefault((sl.name, res), []).append(term)
                if sl is None or sl.name not in blocking.get(res, {}):
                    free.setdefault(res, []).append(term)
    rows.slice_use = {key: mathopt.fast_sum(terms) for key, terms in per_slice.items()}
    resources = set(free) | set(blocking) if elastic else set(blocking)
    for res in sorted(resources):
        used: list[mathopt.LinearExpression] = list(free.get(res, []))
        for name, amount in blocking.get(res, {}).items():
            held = model.add_variable(lb=amount, name=f"held[{name},{res[0]}:{res[1]}]")
            model.add_linear_constraint(held >= rows.slice_use.get((name, res), 0.0))
            used.append(held + 0.0)
        cap = capacity(problem, res)
        if elastic:
            rows.resource_slack[res] = slack = model.add_variable(lb=0.0)
            used.append(-slack + 0.0)
        model.add_linear_constraint(mathopt.fast_sum(used) <= cap)


# ----------------------------------------------------------------------------- objective


@dataclass(frozen=True)
class _Group:
    weight: float
    members: tuple[tuple[Request, float], ...]       # (request, weight inside the group)


def _groups(problem: Problem, slicing: Slicing) -> list[_Group]:
    out: list[_Group] = []
    live = [r for r in problem.requests if problem.options(r.name)]
    sliced: dict[str, list[tuple[Request, float]]] = {}
    for req in live:
        sl = slicing.slice_of(req.name)
        if sl is None:
            out.append(_Group(req.weight, ((req, 1.0),)))
        else:
            sliced.setdefault(sl.name, []).append((req, req.weight))
    for sl in slicing.slices:
        if sliced.get(sl.name):
            out.append(_Group(sl.weight, tuple(sliced[sl.name])))
    return out


def _cap(slicing: Slicing, req: Request, cand: Candidate) -> float:
    if not eligible(slicing.slice_of(req.name), cand):
        return 0.0
    return cand.quality * min(cand.rate_per_share_hz, req.demanded_rate_hz)


def _group_max(problem: Problem, slicing: Slicing, g: _Group) -> float:
    return sum(w * max((_cap(slicing, r, c) for c in problem.options(r.name)), default=0.0)
               for r, w in g.members)


@dataclass(frozen=True)
class ObjectiveTerms:
    terms: list[mathopt.LinearExpression]
    scale: float
    offset: float


def objective_terms(model: mathopt.Model, problem: Problem, slicing: Slicing,
                    variables: Mapping[str, Sequence[CandidateVars]],
                    fairness_floor: float, fairness_cuts: int) -> ObjectiveTerms:
    """The slice-level objective as terms to maximise; true value = scale·Σ + offset."""
    groups = [g for g in _groups(problem, slicing) if _group_max(problem, slicing, g) > 0.0]

    def utility(g: _Group, norm: float) -> mathopt.LinearExpression:
        return mathopt.fast_sum(
            (w * r.demanded_rate_hz * c.quality / norm) * v.z
            for r, w in g.members
            for c, v in zip(problem.options(r.name), variables[r.name], strict=True))

    if slicing.objective is SliceObjective.WEIGHTED_SUM:
        scale = max((g.weight * _group_max(problem, slicing, g) for g in groups), default=1.0)
        return ObjectiveTerms([g.weight * utility(g, scale) for g in groups], scale, 0.0)
    cuts = log_tangent_cuts(fairness_floor, 1.0, fairness_cuts)
    terms: list[mathopt.LinearExpression] = []
    offset = 0.0
    for g in groups:
        u_max = _group_max(problem, slicing, g)
        u = utility(g, u_max)
        phi = model.add_variable(lb=math.log(fairness_floor) - 1.0, ub=0.0)
        for slope, intercept in cuts:
            model.add_linear_constraint(phi <= slope * u + intercept)
        offset += g.weight * math.log(u_max)
        terms.append(g.weight * phi)
    return ObjectiveTerms(terms, 1.0, offset)


def plan_value(problem: Problem, slicing: Slicing, plan: Plan, fairness_floor: float) -> float:
    """True slice-level objective of a plan (module docstring)."""
    total = 0.0
    for g in _groups(problem, slicing):
        u_max = _group_max(problem, slicing, g)
        if u_max <= 0.0:
            continue
        served = sum(w * plan.assignments[r.name].utility for r, w in g.members
                     if r.name in plan.assignments)
        if slicing.objective is SliceObjective.WEIGHTED_SUM:
            total += g.weight * served
        else:
            total += g.weight * math.log(u_max * max(served / u_max, fairness_floor / math.e))
    return total


# ----------------------------------------------------------------------------- plan check


def slice_violations(problem: Problem, slicing: Slicing, plan: Plan) -> list[str]:
    """Every slice rule the plan breaks (empty when it keeps them all)."""
    out: list[str] = []
    guaranteed = guarantees(problem, slicing)
    for name, g in guaranteed.items():
        a = plan.assignments.get(name)
        if a is None or not a.admitted:
            out.append(f"{name}: guaranteed member not admitted")
        elif a.rate_hz < g * (1 - TOL):
            out.append(f"{name}: rate {a.rate_hz:.6g} Hz below its guarantee {g:.6g} Hz")
    for a in plan.admitted:
        sl = slicing.slice_of(a.request.name)
        if a.candidate is not None and not eligible(sl, a.candidate):
            out.append(f"{a.request.name}: configuration outside slice {sl.name if sl else ''}"
                       " fidelity/latency objectives")
    for sl in slicing.slices:
        got = [plan.assignments[r.name] for r in _members(problem, sl)
               if r.name in plan.assignments and plan.assignments[r.name].admitted]
        agg = sl.slo.aggregate_rate_hz
        if agg is not None and sum(a.rate_hz for a in got) < agg * (1 - TOL):
            out.append(f"slice {sl.name}: aggregate rate below {agg:.6g} Hz")
        if sl.max_requests is not None and len(got) > sl.max_requests:
            out.append(f"slice {sl.name}: {len(got)} admitted > quota {sl.max_requests}")
        rate = sum(a.request.demanded_rate_hz for a in got)
        if sl.max_rate_hz is not None and rate > sl.max_rate_hz * (1 + TOL):
            out.append(f"slice {sl.name}: admitted demand {rate:.6g} Hz > quota")
    out.extend(_isolation_violations(problem, slicing, plan))
    return out


def sliced_violations(problem: Problem, slicing: Slicing, plan: Plan) -> list[str]:
    """Every rule of a sliced solve the plan breaks: the network's (a guaranteed member is
    exempt from the priority rule, as in the solver) and the slices'."""
    exempt = guarantees(problem, slicing).keys()
    return [*violations(problem, plan, exempt=exempt), *slice_violations(problem, slicing, plan)]


def resource_use(problem: Problem, slicing: Slicing,
                 plan: Plan) -> dict[tuple[str | None, Resource], float]:
    """Use of every resource per slice (None: requests outside any slice)."""
    out: dict[tuple[str | None, Resource], float] = {}
    for a in plan.admitted:
        assert a.candidate is not None
        sl = slicing.slice_of(a.request.name)
        for res, amount, by_share in uses(a.candidate):
            key = (sl.name if sl else None, res)
            out[key] = out.get(key, 0.0) + amount * (a.share if by_share else 1.0)
    return out


def _isolation_violations(problem: Problem, slicing: Slicing, plan: Plan) -> list[str]:
    use = resource_use(problem, slicing, plan)
    blocking: dict[Resource, dict[str, float]] = {}
    for r in reservations(problem, slicing):
        if not r.borrowing:
            blocking.setdefault(r.resource, {})[r.slice] = r.amount
    out = []
    for res, held in blocking.items():
        total = sum(max(use.get((name, res), 0.0), amount) for name, amount in held.items())
        total += sum(u for (name, r), u in use.items() if r == res and name not in held)
        if total > capacity(problem, res) + TOL:
            what, _ = describe(res)
            out.append(f"{what}: reservations plus use {total:.6g} > {capacity(problem, res):g}")
    return out


# ----------------------------------------------------------------------------- feasibility


@dataclass(frozen=True)
class Shortfall:
    """One slice (or set of slices) needing more of a resource than there is."""

    slices: tuple[str, ...]
    resource: str
    need: float
    available: float
    unit: str

    @property
    def short(self) -> float:
        return self.need - self.available

    def __str__(self) -> str:
        who = ("slice " if len(self.slices) == 1 else "slices ") + ", ".join(self.slices)
        return (f"{who} {'needs' if len(self.slices) == 1 else 'need'} {self.need:.6g} "
                f"{self.resource}, {self.available:.6g} available: short by "
                f"{self.short:.6g}{'' if self.unit in self.resource else ' ' + self.unit}")


class SloInfeasible(ValueError):
    """The slices' guarantees cannot all hold on this network; ``shortfalls`` say where.

    ``proven``: the feasibility MILP (or arithmetic) proves no plan meets them all."""

    def __init__(self, shortfalls: Sequence[Shortfall], problems: Sequence[tuple[str, str]] = (),
                 proven: bool = True) -> None:
        """``problems``: (slice, message) for what is wrong without a resource amount."""
        self.shortfalls, self.proven = tuple(shortfalls), proven
        self.problems = tuple(message for _, message in problems)
        self._named = {name for name, _ in problems if name}
        super().__init__("; ".join([*self.problems, *(str(s) for s in shortfalls)]))

    @property
    def slices(self) -> set[str]:
        """Every slice the error names (to drop or alarm on after a failure)."""
        return self._named | {name for s in self.shortfalls for name in s.slices}


#: Request priorities are uint8 (sdqn-services), so slice priority · 256 + request
#: priority orders first by slice, then by request.
_PRIORITY_LEVELS = 256


def ranked_requests(requests: Iterable[Request], slicing: Slicing) -> list[Request]:
    """The requests with the slice priority ranked before their own ("When not every
    slice can be served, lower priorities give way first", sdqn-slices).  A request in no
    slice ranks as a slice of priority 0."""
    ranked = []
    for req in requests:
        sl = slicing.slice_of(req.name)
        level = sl.priority if sl is not None else 0
        ranked.append(replace(req, priority=level * _PRIORITY_LEVELS + req.priority)
                      if level else req)
    return ranked


def without_guarantees(slicing: Slicing, names: Iterable[str]) -> Slicing:
    """The slicing with the named slices' rate guarantees dropped: after a failure makes a
    guarantee physically impossible, the others are still held while an alarm reports it."""
    drop = set(names)
    return replace(slicing, slices=tuple(
        replace(sl, slo=replace(sl.slo, guaranteed_rate_hz=None, aggregate_rate_hz=None))
        if sl.name in drop else sl for sl in slicing.slices))


def check_slos(problem: Problem, slicing: Slicing,
               time_limit_s: float = 10.0) -> Plan | None:
    """Raise :class:`SloInfeasible` when no plan meets every slice guarantee; otherwise
    return the witness plan when the MILP found one (``None`` when no slice has a rate
    objective or the check was undecided).

    First arithmetic that needs no solver (unknown resources, reservations above capacity,
    a guaranteed member without an eligible configuration or too slow even with a whole
    share, quotas).  Then an elastic MILP of the guarantees alone: the members of slices
    with rate objectives, isolation and every capacity row, each capacity/rate row with a
    slack, minimising the slacks relative to their rows' sizes.  A zero optimum proves
    the guarantees feasible together (its solution is a witness plan); a positive dual
    bound proves them infeasible, and the optimum's slacks name which rows are short and
    by how much (one minimum-violation explanation; other explanations may exist).
    Capacity slacks are priced below rate slacks so the explanation names the resource.

    The witness (the rated slices' members placed, everything else rejected) is what the
    solver starts from on a large sliced problem: finding a plan that keeps every
    guarantee is the hard part of such a MILP, and this smaller one already did it.
    """
    static = _static_check(problem, slicing)
    if static is not None:
        raise static
    rated = {sl.name for sl in slicing.slices
             if sl.slo.guaranteed_rate_hz is not None or sl.slo.aggregate_rate_hz is not None}
    if not rated:
        return None
    model = mathopt.Model(name="slo-check")
    variables = _base_variables(model, problem, slicing, rated)
    sub = replace(problem, requests=tuple(r for r in problem.requests if r.name in variables))
    rows = add_constraints(model, sub, slicing, variables, elastic=True)
    penalty = [s / max(capacity(problem, res), 1e-9) for res, s in rows.resource_slack.items()]
    penalty += [100.0 * s / max(req_rate, 1e-9) for s, req_rate in (
        (v, guarantees(sub, slicing)[name]) for name, v in rows.rate_slack.items())]
    aggregates = {sl.name: sl.slo.aggregate_rate_hz or 1.0 for sl in slicing.slices}
    penalty += [100.0 * s / aggregates[name] for name, s in rows.aggregate_slack.items()]
    model.minimize(mathopt.fast_sum(penalty))
    result = mathopt.solve(model, mathopt.SolverType.HIGHS, params=mathopt.SolveParameters(
        time_limit=timedelta(seconds=time_limit_s), absolute_gap_tolerance=1e-9,
        relative_gap_tolerance=1e-9))
    bound = result.termination.objective_bounds.dual_bound
    if not result.has_primal_feasible_solution():
        raise SloInfeasible([], [("", "the slice guarantees admit no plan (feasibility "
                                       f"MILP ended {result.termination.reason.name})")],
                            proven=False)
    values = result.variable_values()
    if result.objective_value() <= 1e-7:
        return _witness(problem, variables, values)
    proven = math.isfinite(bound) and bound > 1e-7
    shortfalls = _explain(sub, slicing, rows, values)
    if not proven:
        log.warning("qnum.slo_check_undecided", shortfalls=[str(s) for s in shortfalls])
        return None
    raise SloInfeasible(shortfalls)


def _witness(problem: Problem, variables: Mapping[str, Sequence[CandidateVars]],
             values: Mapping[mathopt.Variable, float]) -> Plan:
    """The feasibility MILP's solution as a plan: each placed member on its candidate
    with its share (at least the candidate's floor), every other request rejected."""
    assignments = []
    for req in problem.requests:
        chosen = next(((cand, values[v.s]) for cand, v in zip(
            problem.options(req.name), variables.get(req.name, ()), strict=False)
            if values[v.x] > 0.5), None)
        if chosen is None:
            assignments.append(Assignment(req, reason="not placed by the SLO check"))
        else:
            cand, share = chosen   # capacity beyond the demand would sit idle
            need = req.demanded_rate_hz / cand.rate_per_share_hz
            share = max(cand.min_share, min(share, need, 1.0))
            assignments.append(Assignment(req, cand, share))
    return Plan.from_assignments("slo-witness", assignments)


def _base_variables(model: mathopt.Model, problem: Problem, slicing: Slicing,
                    rated: set[str]) -> dict[str, list[CandidateVars]]:
    """x, s, z per candidate of every member of a slice with a rate objective, linked as
    in qnum.solver (module docstring there): share floor, z ≤ x, D·z ≤ r·s."""
    out: dict[str, list[CandidateVars]] = {}
    for req in problem.requests:
        sl = slicing.slice_of(req.name)
        if sl is None or sl.name not in rated or not problem.options(req.name):
            continue
        handles: list[CandidateVars] = []
        for cand in problem.options(req.name):
            v = _Vars(model.add_binary_variable(), model.add_variable(lb=0.0, ub=1.0),
                      model.add_variable(lb=0.0, ub=1.0))
            model.add_linear_constraint(v.s >= cand.min_share * v.x)
            model.add_linear_constraint(v.s <= v.x)
            model.add_linear_constraint(v.z <= v.x)
            model.add_linear_constraint(req.demanded_rate_hz * v.z
                                        <= cand.rate_per_share_hz * v.s)
            handles.append(v)
        model.add_linear_constraint(mathopt.fast_sum(v.x for v in handles) <= 1.0)
        out[req.name] = handles
    return out


@dataclass
class _Vars:
    x: mathopt.Variable
    s: mathopt.Variable
    z: mathopt.Variable


def _explain(problem: Problem, slicing: Slicing, rows: SliceRows,
             values: Mapping[mathopt.Variable, float]) -> list[Shortfall]:
    out: list[Shortfall] = []
    held = {(r.slice, r.resource): r.amount for r in reservations(problem, slicing)
            if not r.borrowing}
    for res, slack in rows.resource_slack.items():
        short = values[slack]
        if short <= 1e-7:
            continue
        need: dict[str, float] = {}
        for sl in slicing.slices:
            expr = rows.slice_use.get((sl.name, res))
            used = mathopt.evaluate_expression(expr, values) if expr is not None else 0.0
            used = max(used, held.get((sl.name, res), 0.0))
            if used > 1e-9:
                need[sl.name] = used
        total = sum(need.values())
        what, unit = describe(res)
        out.append(Shortfall(tuple(need), what, total, total - short, unit))
    guaranteed = guarantees(problem, slicing)
    for name, slack in rows.rate_slack.items():
        if values[slack] > 1e-7:
            owner = slicing.slice_of(name)
            out.append(Shortfall((owner.name if owner else name,), f"Hz of entanglement for {name}",
                                 guaranteed[name], guaranteed[name] - values[slack], "Hz"))
    for name, slack in rows.aggregate_slack.items():
        if values[slack] > 1e-7:
            agg = next(s.slo.aggregate_rate_hz or 0.0 for s in slicing.slices if s.name == name)
            out.append(Shortfall((name,), "Hz of aggregate entanglement rate", agg,
                                 agg - values[slack], "Hz"))
    return out


def _static_check(problem: Problem, slicing: Slicing) -> SloInfeasible | None:
    problems: list[tuple[str, str]] = []
    shortfalls: list[Shortfall] = []
    known = {r.name for r in problem.requests}
    for sl in slicing.slices:
        problems += [(sl.name, f"slice {sl.name}: reserved-memory names unknown node {n}")
                     for n in sl.reserved_memory if n not in problem.network.nodes]
        problems += [(sl.name, f"slice {sl.name}: reserved-share names unknown link {lk}")
                     for lk in sl.reserved_share if lk not in problem.network.links]
        problems += [(sl.name, f"slice {sl.name}: unknown request {r}") for r in sl.requests
                     if r not in known]
    if problems:
        return SloInfeasible([], problems)
    by_res: dict[Resource, dict[str, float]] = {}
    for r in reservations(problem, slicing):
        by_res.setdefault(r.resource, {})[r.slice] = r.amount
    for res, held in sorted(by_res.items()):
        cap = capacity(problem, res)
        if sum(held.values()) > cap + TOL:
            what, unit = describe(res)
            shortfalls.append(Shortfall(tuple(held), f"reserved {what}", sum(held.values()),
                                        cap, unit))
    guaranteed = guarantees(problem, slicing)
    for sl in slicing.slices:
        members = _members(problem, sl)
        for req in members:
            if req.name not in guaranteed:
                continue
            ok = [c for c in problem.options(req.name) if eligible(sl, c)]
            if not ok:
                problems.append((sl.name, f"slice {sl.name}: request {req.name} has no "
                                 "configuration meeting its objectives "
                                 f"({_objectives(sl, problem, req.name)})"))
                continue
            best = max(min(c.rate_per_share_hz, req.demanded_rate_hz) for c in ok)
            if best < guaranteed[req.name] * (1 - TOL):
                shortfalls.append(Shortfall((sl.name,), f"Hz of entanglement for {req.name} "
                                            "(its best configuration with a whole share)",
                                            guaranteed[req.name], best, "Hz"))
        agg = sl.slo.aggregate_rate_hz
        if agg is not None:
            best_total = sum(max((min(c.rate_per_share_hz, r.demanded_rate_hz)
                                  for c in problem.options(r.name) if eligible(sl, c)),
                                 default=0.0) for r in members)
            if best_total < agg * (1 - TOL):
                shortfalls.append(Shortfall((sl.name,), "Hz of aggregate entanglement rate "
                                            "(every member alone at its best)", agg,
                                            best_total, "Hz"))
        forced = [r for r in members if r.name in guaranteed]
        if sl.max_requests is not None and len(forced) > sl.max_requests:
            problems.append((sl.name, f"slice {sl.name}: {len(forced)} guaranteed members "
                             f"exceed the quota of {sl.max_requests} requests"))
    if problems or shortfalls:
        return SloInfeasible(shortfalls, problems)
    return None


def _objectives(sl: Slice, problem: Problem, name: str) -> str:
    parts = []
    if sl.slo.min_fidelity is not None:
        parts.append(f"fidelity ≥ {sl.slo.min_fidelity:g}")
    if sl.slo.max_latency_s is not None:
        parts.append(f"latency ≤ {sl.slo.max_latency_s:g} s")
    if not problem.options(name):
        return problem.candidates[name].reason or "no feasible configuration at all"
    return ", ".join(parts) or "none"
