"""`sdqn solve`: run Q-NUM on a topology and a request file and print the plan.

Input files are RFC 7951 instance data (the naming contract); bad input exits with status 2
and the exact instance path of the offending leaf.  The solver is warm-started from the best
baseline, so the printed plan is never worse than any of them (their utilities are shown).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console
from rich.table import Table

from qnum.baselines import all_baselines
from qnum.io import InputError, Objective, load_requests, load_topology, parse_settings
from qnum.plan import Plan, Problem
from qnum.schedule import ScheduleError, build_schedule
from qnum.solver import SolverOptions, solve

EXIT_BAD_INPUT = 2


def quiet_logging() -> None:
    """Send library logs to stderr, warnings only, unless the entry point configured them.

    stdout carries the plan (possibly JSON for scripts), so no log line may land there.
    """
    if not structlog.is_configured():
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        )


def solve_command(
    topology: Annotated[Path, typer.Option("--topology", help="ietf-network topology (JSON)")],
    requests: Annotated[Path, typer.Option("--requests", help="sdqn-services requests (JSON)")],
    json_output: Annotated[
        bool, typer.Option("--json", help="RFC 7951-style JSON instead of a table")
    ] = False,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="solver time limit, seconds")
    ] = None,
    objective: Annotated[
        Objective | None, typer.Option("--objective", help="sum or proportional-fair")
    ] = None,
    settings: Annotated[
        Path | None,
        typer.Option("--settings", help="sdqn-controller config supplying optimiser defaults"),
    ] = None,
    schedule: Annotated[
        bool, typer.Option("--schedule", help="add per-device schedules to the JSON output")
    ] = False,
) -> None:
    """Solve Q-NUM for the given topology and requests and print the plan."""
    quiet_logging()
    try:
        network = load_topology(topology)
        reqs = load_requests(requests, network)
        defaults = parse_settings(json.loads(settings.read_text())) if settings else None
    except (InputError, OSError, json.JSONDecodeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if time_limit is not None and not (time_limit > 0 and math.isfinite(time_limit)):
        typer.echo("error: --time-limit must be a positive number of seconds", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    options = SolverOptions(
        time_limit_s=time_limit or (defaults.time_limit_s if defaults else 10.0),
        objective=objective or (defaults.objective if defaults else Objective.SUM),
    )
    problem = Problem.build(network, reqs)
    baselines = all_baselines(problem)
    plan = solve(problem, options, hints=list(baselines.values()))
    if json_output:
        body: dict[str, Any] = plan.to_json()
        body["sdqn-qnum:plan"]["baseline"] = [
            {"method": name, "total-utility": f"{b.total_utility:.6g}"}
            for name, b in baselines.items()
        ]
        if schedule:
            try:
                body["sdqn-qnum:schedule"] = build_schedule(network, plan)
            except ScheduleError as exc:
                body["sdqn-qnum:schedule-error"] = str(exc)
        json.dump(body, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    _print_table(plan, baselines)


def _print_table(plan: Plan, baselines: dict[str, Plan]) -> None:
    console = Console()
    table = Table(title=f"Q-NUM plan ({plan.objective_kind})")
    columns = ("request", "admitted", "path", "rounds", "link rounds", "share", "rate /s",
               "fidelity", "utility")
    for col in columns:
        numeric = col not in ("request", "admitted", "path")
        table.add_column(col, justify="right" if numeric else "left", no_wrap=not numeric)
    rejected = []
    for a in plan.assignments.values():
        c = a.candidate
        if a.admitted and c is not None:
            table.add_row(
                a.request.name,
                "yes",
                "–".join(c.route.nodes),
                str(c.purification_rounds),
                str(c.link_purification_rounds),
                f"{a.share:.3f}",
                f"{a.rate_hz:.4g}",
                f"{c.fidelity:.4f}",
                f"{a.utility:.4g}",
            )
        else:
            table.add_row(a.request.name, "no", "–", "", "", "", "", "", "0")
            rejected.append(f"  {a.request.name}: {a.reason or 'not admitted'}")
    console.print(table)
    if rejected:
        console.print("rejected:\n" + "\n".join(rejected), highlight=False)
    console.print(
        f"status {plan.status.value}  objective {plan.objective:.6g}  bound {plan.bound:.6g}  "
        f"gap {plan.gap:.3%}  time {plan.solve_time_s:.2f} s",
        highlight=False,
    )
    console.print(
        "baselines (Σ w·U): "
        + ", ".join(f"{name} {b.total_utility:.6g}" for name, b in baselines.items()),
        highlight=False,
    )
