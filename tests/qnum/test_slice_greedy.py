"""The slice-aware starting plan: valid whenever it claims to be, and it places guarantees
a plain greedy would not."""

from __future__ import annotations

import pytest

from qnum.baselines import sequential_greedy
from qnum.plan import violations
from qnum.slice_greedy import guarantee_first
from qnum.slices import Isolation, Slice, SliceSlo, Slicing
from qnum.slicing import SloInfeasible, check_slos, slice_violations, sliced_violations
from tests.qnum.test_slicing import _cand, _independent_check, _net, _problem, _random_instance


def test_places_the_guarantee_a_plain_greedy_gives_away() -> None:
    """r2 (earlier in admission order) takes the whole fibre in a plain greedy, so r1's
    0.3 floor no longer fits; the gold member r1 gets exactly its guarantee's share and
    r2 its floor (the MILP grows shares later)."""
    pb = _problem(_net(), [("r2", 1000.0, [_cand("r2", "AB", 100.0, fidelity=0.99)]),
                           ("r1", 1000.0, [_cand("r1", "AB", 100.0, floor=0.3,
                                                 fidelity=0.7)])])
    assert not sequential_greedy(pb).assignments["r1"].admitted
    gold = Slicing((Slice("gold", "qkd", slo=SliceSlo(guaranteed_rate_hz=30.0),
                          requests=("r1",)),))
    plan = guarantee_first(pb, gold)
    assert plan.assignments["r1"].rate_hz == pytest.approx(30.0)
    assert plan.assignments["r2"].share == pytest.approx(0.1)     # its floor
    assert sliced_violations(pb, gold, plan) == []


def test_keeps_outsiders_off_a_blocking_reservation() -> None:
    pb = _problem(_net(), [("g1", 10.0, [_cand("g1", "AB", 100.0)]),
                           ("x", 1000.0, [_cand("x", "AB", 100.0, floor=0.6)])])
    gold = Slicing((Slice("gold", "qkd", isolation=Isolation.DEDICATED,
                          reserved_share={"A-B": 0.5}, requests=("g1",),
                          slo=SliceSlo(guaranteed_rate_hz=10.0)),))
    plan = guarantee_first(pb, gold)
    assert plan.assignments["g1"].admitted
    assert not plan.assignments["x"].admitted     # 0.6 > the 0.5 left outside the reservation
    assert sliced_violations(pb, gold, plan) == []


def test_every_plan_it_calls_valid_is_valid() -> None:
    """On random tiny instances, a plan with no violations by qnum's checks also passes
    the test's own restatement of the slice rules; it is valid on most feasible ones."""
    valid = feasible = 0
    for seed in range(40):
        pb, slicing = _random_instance(seed)
        try:
            check_slos(pb, slicing)
        except SloInfeasible:
            continue
        feasible += 1
        plan = guarantee_first(pb, slicing)
        if violations(pb, plan) or slice_violations(pb, slicing, plan):
            continue
        valid += 1
        _independent_check(pb, slicing, plan)
    assert feasible and valid >= 0.8 * feasible, (valid, feasible)
