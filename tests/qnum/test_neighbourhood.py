"""The restricted first MILP (qnum.neighbourhood): it proposes plans only, so the full
solve's plan stays valid, at least as good as the proposal, and proven optimal exactly when
it would be without it."""

from __future__ import annotations

import pytest

from controller.bench.exhaustive_space import exhaustive_optimum, random_instance
from controller.bench.qnum import SMALL
from qnum import neighbourhood as nbh
from qnum.baselines import all_baselines
from qnum.candidates import CandidateOptions
from qnum.colgen import Relaxation
from qnum.instances import random_requests, waxman_network
from qnum.plan import Problem, SolveStatus, violations
from qnum.pricing import Prices
from qnum.solver import SolverOptions, solve
from tests.qnum.test_exhaustive import SEEDS


@pytest.fixture
def always_guide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nbh, "MIN_CANDIDATES", 0)


@pytest.mark.usefixtures("always_guide")
@pytest.mark.parametrize("seed", SEEDS[:8])
def test_guided_solve_still_reaches_the_independent_optimum(seed: int) -> None:
    net, reqs = random_instance(seed)
    best = exhaustive_optimum(net, reqs).objective
    problem = Problem.build(net, reqs, SMALL)     # the exhaustive check's space
    plan = solve(problem, SolverOptions(time_limit_s=30.0))
    assert not violations(problem, plan)
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.objective == pytest.approx(best, rel=1e-6, abs=1e-9)


@pytest.mark.usefixtures("always_guide")
def test_guided_plan_is_valid_and_beats_every_baseline() -> None:
    net = waxman_network(50, 1)
    problem = Problem.build(net, random_requests(net, 20, 1), CandidateOptions())
    baselines = all_baselines(problem)
    plan = solve(problem, SolverOptions(time_limit_s=20.0), hints=list(baselines.values()))
    assert not violations(problem, plan)
    assert all(plan.total_utility >= b.total_utility * (1 - 1e-9) for b in baselines.values())
    assert plan.bound >= plan.objective


def test_neighbourhood_keeps_the_lp_support_the_best_priced_and_the_hints() -> None:
    net = waxman_network(50, 2)
    problem = Problem.build(net, random_requests(net, 10, 2), CandidateOptions())
    name = next(r.name for r in problem.requests if len(problem.options(r.name)) > 6)
    options = problem.options(name)
    last = len(options) - 1
    hint = solve(problem, SolverOptions(time_limit_s=10.0))
    chosen = hint.assignments[name].candidate
    relaxation = Relaxation(0.0, Prices(), {}, support={name: frozenset({last})})
    allowed = nbh.neighbourhood(problem, relaxation, [hint], best_priced=2)
    assert last in allowed[name]
    assert len(allowed[name]) <= 4
    if chosen is not None:
        assert options.index(chosen) in allowed[name]
    assert all(len(allowed[r.name]) >= min(2, len(problem.options(r.name)))
               for r in problem.requests)


def test_restricted_problem_keeps_the_full_priority_rule() -> None:
    net, reqs = random_instance(next(s for s in SEEDS if _has_priorities(s)))
    problem = Problem.build(net, reqs, CandidateOptions())
    assert problem.priority_pairs
    # One candidate per request: the restricted lists may no longer compete, yet the
    # full problem's rule (lower priority only if the higher one is admitted) stays.
    sub = nbh.restricted(problem, {r.name: frozenset({0}) for r in reqs})
    assert sub.priority_pairs == problem.priority_pairs
    assert all(len(sub.options(r.name)) <= 1 for r in reqs)
    plan = solve(sub, SolverOptions(time_limit_s=10.0))
    assert not violations(problem, plan)


def _has_priorities(seed: int) -> bool:
    net, reqs = random_instance(seed)
    return bool(Problem.build(net, reqs, CandidateOptions()).priority_pairs)
