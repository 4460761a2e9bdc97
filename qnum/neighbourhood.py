"""A first plan for large instances: the MILP restricted to the LP relaxation's neighbourhood.

Why: on a 200-node network with 500 requests (some 30,000 candidate configurations) the
MILP solver's own heuristics need minutes to find a good plan, while the LP relaxation,
solved anyway to price columns, already says which few configurations matter.  Limiting
every request to

* the configurations its LP solution uses (x > 0),
* the few with the best value at the LP's resource prices (the smallest reduced cost),
* and the ones the warm-start plans use,

leaves a tenth of the binaries; that MILP solves in seconds and its plan is handed to the
full MILP as a hint.  This is the relaxation-induced neighbourhood of RINS and RENS
(Danna, Rothberg & Le Pape 2005; Berthold 2014).

The neighbourhood only ever proposes a plan.  The full MILP decides, and every bound and
status comes from the full model and column generation: nothing claimed as optimal rests
on the restriction.  The restricted problem keeps the full problem's priority pairs, so
its plan obeys the priority rule of the full problem, not just of the restricted lists.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from qnum.candidates import RequestCandidates
from qnum.colgen import Relaxation
from qnum.plan import Plan, Problem
from qnum.pricing import column_value

#: Requests' configurations with the best value at the LP prices kept beside the LP's own.
BEST_PRICED = 5
#: Below this many listed configurations the full MILP finds good plans by itself.
MIN_CANDIDATES = 2000


def worth_guiding(problem: Problem) -> bool:
    """Whether the instance is large enough for a restricted first solve to pay off."""
    return sum(len(problem.options(r.name)) for r in problem.requests) >= MIN_CANDIDATES


def neighbourhood(problem: Problem, relaxation: Relaxation, plans: Iterable[Plan] = (),
                  best_priced: int = BEST_PRICED) -> dict[str, frozenset[int]]:
    """Per request, the candidate indices the restricted MILP may choose from."""
    chosen: dict[str, set[int]] = {}
    for req in problem.requests:
        options = problem.options(req.name)
        keep = set(relaxation.support.get(req.name, ()))
        keep.update(heapq.nlargest(
            best_priced, range(len(options)),
            key=lambda i: column_value(req, options[i], relaxation.prices)))
        chosen[req.name] = keep
    for plan in plans:
        for name, assignment in plan.assignments.items():
            if assignment.candidate is None or name not in chosen:
                continue
            options = problem.options(name)
            chosen[name].update(i for i, c in enumerate(options) if c == assignment.candidate)
    return {name: frozenset(indices) for name, indices in chosen.items()}


def restricted(problem: Problem, allowed: Mapping[str, frozenset[int]]) -> Problem:
    """``problem`` with each request's candidates cut down to ``allowed`` (same objects, so
    a plan on it is a plan on ``problem``), keeping the full problem's priority pairs."""
    candidates: dict[str, RequestCandidates] = {}
    for req in problem.requests:
        rc = problem.candidates[req.name]
        keep = allowed.get(req.name, frozenset())
        subset = tuple(c for i, c in enumerate(rc.candidates) if i in keep)
        candidates[req.name] = RequestCandidates(rc.request, subset, rc.reason, complete=False)
    return Problem(problem.network, problem.requests, candidates, problem.space,
                   pairs=tuple(problem.priority_pairs))
