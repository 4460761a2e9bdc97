"""Column generation: when candidate lists cover only part of the declared space, the
reported bound stays valid for the whole space and "optimal" is claimed only when the
independent exhaustive optimum is reached."""

from __future__ import annotations

import pytest

from controller.bench.exhaustive_space import exhaustive_optimum, random_instance
from controller.bench.qnum import NARROW
from qnum.plan import Problem, SolveStatus, violations
from qnum.solver import SolverOptions, solve
from tests.qnum.test_exhaustive import SEEDS


@pytest.mark.parametrize("seed", SEEDS)
def test_bound_is_valid_and_optimal_means_the_exhaustive_optimum(seed: int) -> None:
    net, reqs = random_instance(seed)
    best = exhaustive_optimum(net, reqs).objective
    problem = Problem.build(net, reqs, NARROW)
    plan = solve(problem, SolverOptions(time_limit_s=30.0))
    assert not violations(problem, plan)
    assert plan.bound >= best * (1 - 1e-6) - 1e-9
    assert plan.objective <= best * (1 + 1e-6) + 1e-9
    if plan.status is SolveStatus.OPTIMAL:
        assert plan.objective == pytest.approx(best, rel=1e-6, abs=1e-9)


def test_pricing_closes_the_narrow_lists_on_most_instances() -> None:
    """Not a bound check but the point of pricing: from one route per request it finds
    the configurations that matter and proves the optimum on most instances."""
    proven = 0
    for seed in SEEDS:
        net, reqs = random_instance(seed)
        plan = solve(Problem.build(net, reqs, NARROW), SolverOptions(time_limit_s=30.0))
        proven += plan.status is SolveStatus.OPTIMAL
    assert proven >= len(SEEDS) * 3 // 4


def test_without_pricing_the_bound_is_the_utility_cap() -> None:
    net, reqs = random_instance(3)
    problem = Problem.build(net, reqs, NARROW)
    plan = solve(problem, SolverOptions(column_generation=False))
    assert plan.status is SolveStatus.FEASIBLE
    assert any("per-request utility cap" in note for note in plan.notes)
    assert plan.bound >= exhaustive_optimum(net, reqs).objective * (1 - 1e-6)
