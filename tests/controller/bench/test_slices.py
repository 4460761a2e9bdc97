"""`sdqn bench slices` on a tiny instance: the slices cut to the witness plan are feasible,
every sliced plan keeps every SLO (by the bench's own check and by the solver's), and the
bench's check catches a broken guarantee."""

from __future__ import annotations

from dataclasses import replace

from typer.testing import CliRunner

from controller.bench.slices import Kind, Result, run, slice_kinds, slo_compliance
from controller.cli import app
from qnum.plan import Assignment, SolveStatus
from qnum.slices import Isolation


def _tiny() -> Result:
    return run(seed=1, n_requests=10, n_slices=3, n_tenants=2, time_limit=10.0, nodes=20)


def test_ten_slices_mix_every_kind() -> None:
    assert slice_kinds(10) == [Kind.DEDICATED] * 3 + [Kind.BORROWING] * 3 + [Kind.SHARED] * 4
    assert set(slice_kinds(3)) == set(Kind)


def test_sliced_plans_keep_every_slo() -> None:
    result = _tiny()
    assert {sl.tenant for sl in result.slicing.slices} == {"tenant-0", "tenant-1"}
    dedicated = [sl for sl in result.slicing.slices if sl.isolation is Isolation.DEDICATED]
    assert any(sl.reserved_memory for sl in dedicated)
    assert any(sl.slo.guaranteed_rate_hz for sl in dedicated)
    unsliced, witness, *sliced = result.rows
    assert unsliced.solver_violations is None is witness.solver_violations
    assert witness.slos_met == witness.slos_total > 0
    assert len(sliced) == 3        # both objectives warm, then a cold first commit
    for row in sliced:
        assert row.plan.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE,
                                   SolveStatus.TIME_LIMIT)
        assert row.solver_violations == 0
        assert row.slos_total > 0
        assert row.slos_met == row.slos_total
        for entry in row.idle.values():
            assert 0.0 <= entry.lent <= entry.idle <= entry.reserved
    # Deterministic from the seed.
    assert _tiny().slicing == result.slicing


def test_compliance_counts_a_broken_guarantee() -> None:
    result = _tiny()
    plan = result.rows[2].plan
    member = next(name for sl in result.slicing.slices if sl.slo.guaranteed_rate_hz
                  for name in sl.requests)
    broken = replace(plan, assignments={
        **plan.assignments,
        member: Assignment(plan.assignments[member].request, reason="dropped by the test")})
    met, total = slo_compliance(result.slicing, broken)
    assert (met, total) != slo_compliance(result.slicing, plan)
    assert met < total


def test_command_prints_the_table() -> None:
    out = CliRunner().invoke(app, ["bench", "slices", "--seed", "1", "--requests", "10",
                                   "--slices", "3", "--tenants", "2", "--nodes", "20",
                                   "--time-limit", "10"], env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    assert "in-process on the Q-NUM solver" in out.output
    assert "compliance" in out.output
    assert "weighted-sum" in out.output
