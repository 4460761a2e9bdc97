"""`sdqn bench slices`: SLO compliance, utility and fragmentation of network slices.

Figures are measured in-process on the Q-NUM solver (qnum.solver with
``SolverOptions.slicing``), not through the controller's datastore path.

Instance (deterministic from ``--seed``): the 100-device Waxman network of
``sdqn bench qnum`` (qnum.instances) and a mixed request set.  The same requests are
first solved without slicing, twice: for Σ w·U (the "no slicing" baseline) and for
proportional fairness.  The fair plan is the *witness* the tenants' slices are cut to, so
every reservation and guarantee is feasible by construction (the bench measures slicing,
not an infeasibility message; the witness row keeps every SLO by construction, the Σ w·U
row shows what the same network does to those SLOs without slicing):

* dedicated slices with per-connection guarantees: members are requests the witness
  admits; each guarantee is half the smallest rate a member gets in the witness; the
  slice reserves the memory qubits and fibre time shares its members use in the witness,
  plus a quarter more where the witness leaves capacity free (RFC 9543 §4 resource
  reservation, sized by the operator's headroom);
* dedicated slices with borrowing: the same, but idle reserved capacity may be lent out;
* shared slices: an aggregate rate SLO (half of what their eligible members get in the
  witness) and a minimum fidelity, competing for the unreserved capacity.

Every slice reservation fits beside the others because each only takes from what the
witness leaves free.  The sliced problem is then solved with the weighted-sum and the
proportional-fairness slice objectives (warm-started from the witness), and once more
as a controller's first commit would: no start, the default 10 s limit.

Printed per row: SLO compliance, counted per SLO (each member's per-connection
guarantee, each slice's aggregate, each admitted member's fidelity floor) and checked
here from the plan's predicted rates and fidelities independently of the solver's rows
(``qnum.slicing.slice_violations`` is reported beside it as a cross-check); Σ w·U and its
ratio to the unsliced plan; fragmentation = reserved-but-idle memory qubits and time
shares as a share of what is reserved (blocking and borrowing reservations apart); solve
time; status and gap ("optimal" only when the solver proved it).

Σ w·U with slicing may exceed the unsliced optimum: the request-priority rule (a
lower-priority request only if every higher-priority competitor is admitted) does not
pre-empt a guaranteed member (qnum.slicing), so the sliced model is not a restriction of
the unsliced one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from qnum.candidates import CandidateOptions
from qnum.cli import quiet_logging
from qnum.instances import random_requests, waxman_network
from qnum.io import Network, Objective, Request
from qnum.plan import Plan, Problem
from qnum.slices import Isolation, Slice, SliceObjective, SliceSlo, Slicing
from qnum.slicing import resource_use, slice_violations
from qnum.solver import SolverOptions, solve

#: Time limit of the "no start" row: the controller's default optimiser limit.
COLD_LIMIT_S = 10.0
#: Share of the witness rate a guarantee or aggregate promises (headroom for re-planning).
PROMISE = 0.5
#: Extra reservation beyond the witness use, taken only from capacity the witness leaves free.
HEADROOM = 0.25
#: Relative gap tolerance of every solve ("optimal" = proven within it).
GAP = 1e-4
#: Minimum fidelities of the shared slices (cycled).
SHARED_FIDELITY = (0.85, 0.9)

Resource = tuple[str, str]


class Kind(StrEnum):
    DEDICATED = "dedicated"
    BORROWING = "dedicated+borrowing"
    SHARED = "shared"


#: Kinds of ten slices; other slice counts sample this pattern evenly.
PATTERN = (Kind.DEDICATED,) * 3 + (Kind.BORROWING,) * 3 + (Kind.SHARED,) * 4
WEIGHT = {Kind.DEDICATED: 2.0, Kind.BORROWING: 1.5, Kind.SHARED: 1.0}


def slice_kinds(count: int) -> list[Kind]:
    return [PATTERN[i * len(PATTERN) // count] for i in range(count)]


@dataclass
class Row:
    name: str
    plan: Plan
    slos_met: int
    slos_total: int
    solver_violations: int | None
    idle: dict[str, Idle] = field(default_factory=dict)


# ----------------------------------------------------------------------------- instance


def _witness_use(problem: Problem, witness: Plan,
                 owner: dict[str, str]) -> dict[tuple[str | None, Resource], float]:
    groups = Slicing(tuple(Slice(name, "t", requests=tuple(r for r, o in owner.items()
                                                           if o == name))
                           for name in sorted(set(owner.values()))))
    return resource_use(problem, groups, witness)


def build_slicing(problem: Problem, witness: Plan, n_slices: int, n_tenants: int,
                  seed: int) -> Slicing:
    """Slices cut to the witness plan (module docstring), so all are feasible together."""
    rng = random.Random(seed)
    kinds = slice_kinds(n_slices)
    names = [f"{kind.value.split('+')[0][:3]}{'b' if kind is Kind.BORROWING else ''}-{i}"
             for i, kind in enumerate(kinds)]
    guaranteed = [n for n, k in zip(names, kinds, strict=True) if k is not Kind.SHARED]
    shared = [n for n, k in zip(names, kinds, strict=True) if k is Kind.SHARED]
    admitted = [a.request.name for a in witness.admitted]
    others = [r.name for r in problem.requests if r.name not in set(admitted)]
    rng.shuffle(admitted)
    owner: dict[str, str] = {}
    # Half the admitted requests go to the guaranteed slices, the rest to the shared ones.
    cut = len(admitted) // 2 if shared else len(admitted)
    for i, name in enumerate(admitted[:cut]):
        if guaranteed:
            owner[name] = guaranteed[i % len(guaranteed)]
    floors = {name: SHARED_FIDELITY[i % len(SHARED_FIDELITY)] for i, name in enumerate(shared)}
    for i, name in enumerate(admitted[cut:]):
        # A member goes where its witness configuration meets the fidelity floor, so the
        # witness stays a feasible plan of the sliced problem.
        fidelity = witness.assignments[name].fidelity
        fits = [sl for sl in shared if floors[sl] <= fidelity] or shared
        owner[name] = fits[i % len(fits)]
    for i, name in enumerate(others):
        if shared:
            owner[name] = shared[i % len(shared)]
    use = _witness_use(problem, witness, owner)
    total: dict[Resource, float] = {}
    for (_, res), amount in use.items():
        total[res] = total.get(res, 0.0) + amount
    free = {res: _capacity(problem, res) - amount for res, amount in total.items()}
    slices = []
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        members = tuple(r.name for r in problem.requests if owner.get(r.name) == name)
        tenant = f"tenant-{i % n_tenants}"
        got = [witness.assignments[m] for m in members]
        if kind is Kind.SHARED:
            # Lowered to the witness's worst admitted member where none fits it better.
            floor = min([floors[name], *(math.floor(a.fidelity * 1e4) / 1e4
                                         for a in got if a.admitted)])
            eligible = sum(a.rate_hz for a in got if a.admitted)
            slo = SliceSlo(aggregate_rate_hz=PROMISE * eligible if eligible > 0 else None,
                           min_fidelity=floor)
            slices.append(Slice(name, tenant, weight=WEIGHT[kind], slo=slo, requests=members))
            continue
        slo = SliceSlo(guaranteed_rate_hz=PROMISE * min((a.rate_hz for a in got),
                                                        default=0.0) or None)
        memory: dict[str, int] = {}
        share: dict[str, float] = {}
        for (owner_name, (what, key)), amount in sorted(use.items(), key=str):
            if owner_name != name or amount <= 0:
                continue
            res = (what, key)
            extra = min(HEADROOM * amount, max(free.get(res, 0.0), 0.0))
            if what == "memory":
                qubits = math.ceil(amount - 1e-9) + math.floor(extra)
                memory[key] = qubits
                free[res] = free.get(res, 0.0) - (qubits - amount)
            elif what == "frame" and key in problem.network.links:
                # A fibre's own frame; a transparent island's frame is left unreserved.
                share[key] = round(amount + extra, 9)
                free[res] = free.get(res, 0.0) - extra
        slices.append(Slice(
            name, tenant, priority=1 if kind is Kind.DEDICATED else 0, weight=WEIGHT[kind],
            slo=slo, isolation=Isolation.DEDICATED, reserved_memory=memory,
            reserved_share=share, borrowing=kind is Kind.BORROWING, requests=members))
    slicing = Slicing(tuple(slices))
    broken = slice_violations(problem, slicing, witness)
    if broken:  # a bug of this bench, not a finding
        raise RuntimeError(f"the witness breaks the slices cut to it: {broken}")
    return slicing


def _capacity(problem: Problem, res: Resource) -> float:
    kind, key = res
    return problem.frame_capacity(key) if kind == "frame" else problem.capacity(kind, key)


# ----------------------------------------------------------------------------- measures


def slo_compliance(slicing: Slicing, plan: Plan) -> tuple[int, int]:
    """(met, total) SLOs, checked from the plan's predicted figures, written without the
    solver's rows: per-connection rate min(g, demand) ≤ r·s capped at demand; aggregate
    Σ rates; fidelity of each admitted member."""
    met = total = 0
    for sl in slicing.slices:
        rates = []
        for name in sl.requests:
            a = plan.assignments.get(name)
            cand = a.candidate if a is not None else None
            admitted = a is not None and cand is not None and a.share > 0.0
            rate = (min(cand.rate_per_share_hz * a.share, a.request.demanded_rate_hz)
                    if admitted and a is not None and cand is not None else 0.0)
            rates.append(rate)
            g = sl.slo.guaranteed_rate_hz
            if g is not None and a is not None:
                total += 1
                met += admitted and rate >= min(g, a.request.demanded_rate_hz) * (1 - 1e-6)
            if sl.slo.min_fidelity is not None and admitted and cand is not None:
                total += 1
                met += cand.fidelity >= sl.slo.min_fidelity - 1e-12
        if sl.slo.aggregate_rate_hz is not None:
            total += 1
            met += math.fsum(rates) >= sl.slo.aggregate_rate_hz * (1 - 1e-6)
    return met, total


@dataclass
class Idle:
    """Reserved capacity of one kind: how much, how much its owners left idle, and how
    much of that idle part other requests used (borrowed; only borrowing reservations)."""

    reserved: float = 0.0
    idle: float = 0.0
    lent: float = 0.0


def fragmentation(problem: Problem, slicing: Slicing, plan: Plan) -> dict[str, Idle]:
    """Reserved-but-idle capacity per resource kind, blocking and borrowing apart.

    A borrowing reservation's idle part is lent as far as the resource is occupied beyond
    what is left outside it: occupied = Σ blocking max(use, reservation) + all other use."""
    use = resource_use(problem, slicing, plan)
    held: dict[Resource, list[tuple[Slice, float]]] = {}
    for sl in slicing.slices:
        if sl.isolation is Isolation.DEDICATED:
            items = [(("memory", n), float(q)) for n, q in sl.reserved_memory.items()]
            items += [(("frame", lk), sh) for lk, sh in sl.reserved_share.items()]
            for res, amount in items:
                held.setdefault(res, []).append((sl, amount))
    out: dict[str, Idle] = {}
    for res, owners in held.items():
        blocking = {sl.name: amount for sl, amount in owners if not sl.borrowing}
        occupied = math.fsum(max(u, blocking.get(name or "", 0.0))
                             for (name, r), u in use.items() if r == res)
        occupied += math.fsum(amount for name, amount in blocking.items()
                              if (name, res) not in use)
        spare = max(0.0, _capacity(problem, res) - occupied)
        for sl, amount in owners:
            mode = "borrowing" if sl.borrowing else "blocking"
            entry = out.setdefault(f"{'qubits' if res[0] == 'memory' else 'share'} {mode}",
                                   Idle())
            idle = max(0.0, amount - use.get((sl.name, res), 0.0))
            entry.reserved += amount
            entry.idle += idle
            if sl.borrowing:
                lent = min(idle, max(0.0, idle - spare))
                spare = max(0.0, spare - (idle - lent))
                entry.lent += lent
    return out


def _gap(plan: Plan) -> str:
    return "no bound" if math.isnan(plan.gap) else f"{plan.gap:.2%}"


# ----------------------------------------------------------------------------- run


@dataclass
class Result:
    network: Network
    requests: Sequence[Request]
    slicing: Slicing
    rows: list[Row]


def run(seed: int, n_requests: int, n_slices: int, n_tenants: int, time_limit: float,
        nodes: int = 100) -> Result:
    network = waxman_network(nodes, seed)
    reqs = random_requests(network, n_requests, seed)
    problem = Problem.build(network, reqs, CandidateOptions())
    base = SolverOptions(time_limit_s=time_limit, relative_gap=GAP)
    unsliced = solve(problem, base)
    witness = solve(problem, replace(base, objective=Objective.PROPORTIONAL_FAIR))
    slicing = build_slicing(problem, witness, n_slices, n_tenants, seed)
    rows = [_row("no slicing, Σ w·U", slicing, problem, unsliced, None),
            _row("no slicing, prop.-fair (witness)", slicing, problem, witness, None)]
    for objective in SliceObjective:
        sliced = replace(slicing, objective=objective)
        plan = solve(problem, replace(base, slicing=sliced), hints=[witness])
        rows.append(_row(f"slicing, {objective.value}", sliced, problem, plan,
                         len(slice_violations(problem, sliced, plan))))
    # What a first commit of this slicing gets from the controller: no witness to start
    # from, the optimiser's default 10 s limit (the solver's own starting plans only).
    cold_limit = min(COLD_LIMIT_S, time_limit)
    cold = solve(problem, replace(base, time_limit_s=cold_limit, slicing=slicing))
    rows.append(_row(f"slicing, {slicing.objective.value}, no start, {cold_limit:g} s",
                     slicing, problem, cold, len(slice_violations(problem, slicing, cold))))
    return Result(network, reqs, slicing, rows)


def _row(name: str, slicing: Slicing, problem: Problem, plan: Plan,
         solver_violations: int | None) -> Row:
    met, total = slo_compliance(slicing, plan)
    idle = fragmentation(problem, slicing, plan) if solver_violations is not None else {}
    return Row(name, plan, met, total, solver_violations, idle)


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole > 0 else "–"


def _fmt_idle(entry: Idle | None) -> str:
    if entry is None:
        return "–"
    text = f"{_pct(entry.idle, entry.reserved)} of {entry.reserved:.3g}"
    return text + (f", {_pct(entry.lent, entry.reserved)} lent" if entry.lent > 1e-9 else "")


def table(result: Result) -> Table:
    kinds: dict[str, int] = {}
    for sl in result.slicing.slices:
        kind = ("shared" if sl.isolation is Isolation.SHARED
                else "dedicated+borrowing" if sl.borrowing else "dedicated")
        kinds[kind] = kinds.get(kind, 0) + 1
    tenants = len({sl.tenant for sl in result.slicing.slices})
    title = (f"Slices, in-process on the Q-NUM solver (not the controller path): "
             f"{len(result.network.nodes)} devices, {len(result.requests)} requests, "
             f"{tenants} tenants, {len(result.slicing.slices)} slices "
             f"({', '.join(f'{v} {k}' for k, v in kinds.items())}). status optimal = "
             f"proven by the solver within its tolerance ({GAP:g}, on its scaled objective); "
             f"gap = |bound − objective| / |objective| of the plan's own objective")
    out = Table(title=title)
    labels = ("qubits blocking", "qubits borrowing", "share blocking", "share borrowing")
    cols = ["plan", "admitted", "SLOs met", "compliance", "slice_violations", "Σ w·U",
            "vs no slicing", *[f"idle {x}" for x in labels], "solve s", "status", "gap"]
    for col in cols:
        out.add_column(col, justify="left" if col == "plan" else "right")
    unsliced = result.rows[0].plan.total_utility
    for row in result.rows:
        idle = [row.idle.get(x) for x in labels]
        out.add_row(
            row.name, f"{len(row.plan.admitted)}/{len(row.plan.assignments)}",
            f"{row.slos_met}/{row.slos_total}", _pct(row.slos_met, row.slos_total),
            "–" if row.solver_violations is None else str(row.solver_violations),
            f"{row.plan.total_utility:.4g}",
            f"{row.plan.total_utility / unsliced:.3f}" if unsliced > 0 else "–",
            *[_fmt_idle(v) for v in idle],
            f"{row.plan.solve_time_s:.2f}", row.plan.status.value, _gap(row.plan))
    return out


def main(
    seed: Annotated[int, typer.Option(help="instance seed (network, requests, slices)")] = 0,
    time_limit: Annotated[float, typer.Option(help="solver time limit per solve, s")] = 60.0,
    requests: Annotated[int, typer.Option(help="requests")] = 100,
    slices: Annotated[int, typer.Option(help="slices (dedicated, borrowing, shared mix)")] = 10,
    tenants: Annotated[int, typer.Option(help="tenants the slices belong to")] = 3,
    nodes: Annotated[int, typer.Option(help="devices of the Waxman network")] = 100,
) -> None:
    """SLO compliance, Σ w·U vs the same requests unsliced, fragmentation and solve time
    of slices (in-process, on the solver).

    Defaults: 3 tenants, 10 slices, 100 requests on the 100-device network."""
    quiet_logging()
    console = Console(width=max(Console().width, 200))
    result = run(seed, requests, slices, tenants, time_limit, nodes)
    console.print(table(result))
