"""`sdqn bench qnum`: solve time, gap and utility of Q-NUM against the baselines (not a test).

For every topology group (Waxman graphs of the given sizes, real topologies from topohub)
and every seed: generate the network and a mixed request set (:mod:`qnum.instances`),
generate candidates, run the three baselines, then solve warm-started from them.  Printed
per group: median / p95 solve time (model build included, candidate generation shown
separately), how many solves were proven optimal over the declared space, median / max
gap, median Σ w·U, the ratio of the solver's utility to each baseline's (min / median over
seeds; ∞ when the baseline serves nothing), and whether the solver was ≥ every baseline on
every instance.  A last group of small random instances (4–8 nodes, 2–4 requests) is
solved twice — from its full candidate lists and from one k-shortest route per request, so
that column generation must find the rest — and each solve is compared with an
independent exhaustive enumeration of the whole declared space
(:mod:`controller.bench.exhaustive_space`, which shares no code with candidate generation):
the "vs exhaustive (independent)" column must read 1.0000.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from controller.bench.exhaustive_space import Space, exhaustive_optimum, random_instance
from qnum.baselines import BASELINES, all_baselines
from qnum.candidates import CandidateOptions
from qnum.cli import quiet_logging
from qnum.instances import (
    REAL_TOPOLOGIES,
    random_requests,
    topohub_network,
    waxman_network,
)
from qnum.io import Network, Request
from qnum.plan import Problem, SolveStatus, violations
from qnum.solver import SolverOptions, solve


@dataclass
class Run:
    nodes: int
    links: int
    requests: int
    candidates: int
    candidate_s: float
    solve_s: float
    optimal: bool
    gap: float
    utility: float
    ratios: dict[str, float]
    beats_baselines: bool
    valid: bool
    exhaustive_ratio: float | None


@dataclass
class Group:
    name: str
    runs: list[Run] = field(default_factory=list)


def _ratio(num: float, den: float) -> float:
    if den <= 0.0:
        return math.inf if num > 0.0 else 1.0
    return num / den


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


#: One k-shortest route per request: the small instances' sets are left incomplete on
#: purpose, so column generation has to find the optimum.
NARROW = CandidateOptions(route_limit=1, max_routes=1, fallback_candidates=2,
                          max_link_purification_rounds=Space().max_link_purification_rounds)
#: The small instances' full space: the exhaustive check's, per-link rounds included.
SMALL = CandidateOptions(max_link_purification_rounds=Space().max_link_purification_rounds)


def run_instance(
    network: Network,
    n_requests: int,
    seed: int,
    options: SolverOptions,
    endpoints: Sequence[str] | None = None,
    max_hops: int = 5,
) -> Run:
    reqs = random_requests(network, n_requests, seed, endpoints=endpoints, max_hops=max_hops)
    return _run(network, reqs, CandidateOptions(max_hops=max_hops), options)


def run_small(seed: int, space: CandidateOptions, options: SolverOptions) -> Run:
    """One small random instance against the independent exhaustive optimum."""
    network, reqs = random_instance(seed)
    checked = Space(max_link_purification_rounds=space.max_link_purification_rounds)
    return _run(network, reqs, space, options,
                exhaustive_optimum(network, reqs, checked).objective)


def _run(network: Network, reqs: Sequence[Request], space: CandidateOptions,
         options: SolverOptions, exact: float | None = None) -> Run:
    """Candidates, baselines and a solve warm-started from them; with ``exact`` (the
    independent exhaustive optimum) the solver's ratio to it."""
    start = time.perf_counter()
    problem = Problem.build(network, reqs, space)
    cand_s = time.perf_counter() - start
    baselines = all_baselines(problem)
    plan = solve(problem, options, hints=list(baselines.values()))
    exhaustive = _ratio(plan.objective, exact) if exact is not None else None
    utility = plan.total_utility
    return Run(
        nodes=len(network.nodes),
        links=len(network.links),
        requests=len(reqs),
        candidates=sum(len(problem.options(r.name)) for r in reqs),
        candidate_s=cand_s,
        solve_s=plan.solve_time_s,
        optimal=plan.status is SolveStatus.OPTIMAL,
        gap=plan.gap,
        utility=utility,
        ratios={name: _ratio(utility, b.total_utility) for name, b in baselines.items()},
        beats_baselines=all(utility >= b.total_utility * (1 - 1e-9) for b in baselines.values()),
        valid=not violations(problem, plan),
        exhaustive_ratio=exhaustive,
    )


def _fmt_ratio(values: Sequence[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "∞"
    lo, med = min(values), statistics.median(values)
    return f"{lo:.2f}/{med:.2f}" if math.isfinite(med) else f"{lo:.2f}/∞"


def _table(groups: Sequence[Group]) -> Table:
    table = Table(title="Q-NUM benchmark (Σ w·U; ratios = solver / baseline, min/median)")
    cols = ["topology", "nodes", "links", "reqs", "seeds", "cands", "cand s", "solve s med",
            "solve s p95", "optimal", "gap med", "gap max", "utility med",
            *[f"vs {n}" for n in BASELINES], "≥ all", "valid",
            "vs exhaustive (independent)"]  # fmt: skip
    for col in cols:
        table.add_column(col, justify="left" if col == "topology" else "right")
    for g in groups:
        r = g.runs
        if not r:
            continue
        gaps = [x.gap for x in r if not math.isnan(x.gap)]
        exh = [x.exhaustive_ratio for x in r if x.exhaustive_ratio is not None]
        table.add_row(
            g.name,
            f"{statistics.median(x.nodes for x in r):.0f}",
            f"{statistics.median(x.links for x in r):.0f}",
            f"{statistics.median(x.requests for x in r):.0f}",
            str(len(r)),
            f"{statistics.median(x.candidates for x in r):.0f}",
            f"{statistics.median(x.candidate_s for x in r):.1f}",
            f"{statistics.median(x.solve_s for x in r):.2f}",
            f"{_p95([x.solve_s for x in r]):.2f}",
            f"{sum(x.optimal for x in r)}/{len(r)}",
            f"{statistics.median(gaps):.2%}" if gaps else "–",
            f"{max(gaps):.2%}" if gaps else "–",
            f"{statistics.median(x.utility for x in r):.4g}",
            *[_fmt_ratio([x.ratios[n] for x in r]) for n in BASELINES],
            f"{sum(x.beats_baselines for x in r)}/{len(r)}",
            f"{sum(x.valid for x in r)}/{len(r)}",
            f"{min(exh):.4f}–{max(exh):.4f}" if exh else "–",
        )
    return table


def _log(console: Console, name: str, seed: int, run: Run) -> None:
    console.log(
        f"{name} seed {seed}: {run.requests} requests, {run.candidates} candidates "
        f"({run.candidate_s:.1f} s), solve {run.solve_s:.2f} s, gap {run.gap:.2%}, "
        f"Σ w·U {run.utility:.4g}, ≥ baselines {run.beats_baselines}, valid {run.valid}, "
        f"exhaustive ratio {run.exhaustive_ratio}",
        highlight=False,
    )


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(
    sizes: Annotated[str, typer.Option(help="Waxman node counts, comma-separated")] = (
        "50,100,200,800"
    ),
    requests: Annotated[str, typer.Option(help="requests per Waxman size (same order)")] = (
        "10,30,100,500"
    ),
    real: Annotated[str, typer.Option(help="topohub keys, comma-separated ('' = none)")] = (
        ",".join(REAL_TOPOLOGIES)
    ),
    real_requests: Annotated[int, typer.Option(help="requests per real topology")] = 20,
    seeds: Annotated[int, typer.Option(help="seeds per topology group")] = 10,
    time_limit: Annotated[float, typer.Option(help="solver time limit per instance, s")] = 50.0,
    relative_gap: Annotated[float, typer.Option(help="solver relative gap tolerance")] = 1e-4,
    small: Annotated[
        int, typer.Option(help="small random instances checked against the independent "
                               "exhaustive optimum (0 = skip)")
    ] = 20,
    real_hops: Annotated[
        int, typer.Option(help="declared route length limit (fibres) on real topologies, "
                               "whose long links are split by inline repeaters")
    ] = 20,
) -> None:
    """Benchmark Q-NUM against the baselines on random and real topologies."""
    quiet_logging()
    console = Console(width=max(Console().width, 200))
    options = SolverOptions(time_limit_s=time_limit, relative_gap=relative_gap)
    waxman = list(zip(_ints(sizes), _ints(requests), strict=True))
    groups: list[Group] = []
    for n, k in waxman:
        group = Group(f"waxman-{n}")
        for seed in range(seeds):
            group.runs.append(run_instance(waxman_network(n, seed), k, seed, options))
            _log(console, group.name, seed, group.runs[-1])
        groups.append(group)
    for key in [x for x in real.split(",") if x.strip()]:
        group = Group(key)
        for seed in range(seeds):
            net = topohub_network(key, seed)
            pops = [n for n in net.nodes if "~" not in n]  # PoPs, not inline repeaters
            run = run_instance(
                net, real_requests, seed, options, endpoints=pops, max_hops=real_hops
            )
            group.runs.append(run)
            _log(console, group.name, seed, run)
        groups.append(group)
    for name, space in (("small (full lists)", SMALL),
                        ("small (1 route, priced)", NARROW)):
        group = Group(name)
        for seed in range(small):
            group.runs.append(run_small(seed, space, options))
            _log(console, group.name, seed, group.runs[-1])
        if group.runs:
            groups.append(group)
    console.print(_table(groups))
