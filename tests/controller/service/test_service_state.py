"""The service state machine decides each state exactly as sdqn-types defines it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from controller.service.service_state import (
    DEGRADED,
    DOWN,
    NOT_ADMITTED,
    PRE_EMPTED,
    PROVISIONING,
    REJECTED,
    STABILISING,
    UP,
    Assurance,
    Observation,
    ServiceStates,
)
from qnum.plan import Plan

QKD = ("alice", "r1", "r2", "bob")
QKD_LINKS = ("alice-r1", "r1-r2", "r2-bob")
DQC = ("charlie", "r2", "dave")
DQC_LINKS = ("charlie-r2", "r2-dave")
SETTINGS = Assurance(stabilisation_timeout_s=100.0, rate_tolerance=0.1, stale_after_rounds=3)


@dataclass(frozen=True)
class Route:
    nodes: tuple[str, ...]
    links: tuple[str, ...]


@dataclass(frozen=True)
class Candidate:
    route: Route

    @property
    def key(self) -> tuple[str, ...]:
        return self.route.links


@dataclass(frozen=True)
class Request:
    name: str
    min_fidelity: float = 0.9


@dataclass(frozen=True)
class Assignment:
    request: Request
    candidate: Candidate | None = None
    share: float = 0.0
    rate_hz: float = 0.0
    reason: str | None = None

    @property
    def admitted(self) -> bool:
        return self.candidate is not None and self.share > 0


@dataclass
class FakePlan:
    assignments: dict[str, Assignment] = field(default_factory=dict)


def plan(**routes: tuple[tuple[str, ...], tuple[str, ...]] | None) -> Plan:
    out = FakePlan()
    for name, route in routes.items():
        out.assignments[name] = (
            Assignment(Request(name), Candidate(Route(*route)), share=0.5, rate_hz=100.0)
            if route is not None else Assignment(Request(name), reason="memory of r2 full"))
    return cast(Plan, out)


def ok(*ends: str, rate: float = 100.0, fid: float = 0.95, stable: bool = True,
       names: tuple[str, ...] = ("qkd", "dqc")) -> dict[str, Observation]:
    """Every device of both routes reachable and stable; `ends` deliver to `names`."""
    nodes = {*QKD, *DQC, "qr1"}
    return {n: Observation(True, stable, False,
                           {s: (rate, fid, 0.03) for s in names} if n in ends else {})
            for n in nodes}


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def machine() -> tuple[ServiceStates, Clock]:
    clock = Clock()
    counter = iter(range(10_000))
    return ServiceStates(clock=clock, stamp=lambda: f"T{next(counter):04d}"), clock


ENDS = ("alice", "bob", "charlie", "dave")


def up_and_running() -> tuple[ServiceStates, Clock, Plan]:
    states, clock = machine()
    first = plan(qkd=(QKD, QKD_LINKS), dqc=(DQC, DQC_LINKS))
    changed = {*QKD, *DQC}
    states.on_plan(first, None, changed=changed, pushed=changed, inline={})
    states.on_round(ok(*ENDS), settings=SETTINGS)
    return states, clock, first


def test_a_new_service_stabilises_then_comes_up() -> None:
    states, _clock = machine()
    first = plan(qkd=(QKD, QKD_LINKS))
    out = states.on_plan(first, None, changed=set(QKD), pushed=set(QKD), inline={})
    assert [(t.name, t.new) for t in out] == [("qkd", STABILISING)]
    warming = {**ok(*ENDS), "r1": Observation(True, False, False)}
    states.on_round(warming, settings=SETTINGS)
    assert states.records["qkd"].state == STABILISING
    assert "r1" in states.records["qkd"].reason
    states.on_round(ok(*ENDS), settings=SETTINGS)
    assert states.records["qkd"].state == UP


def test_a_device_that_could_not_take_its_configuration_keeps_it_provisioning() -> None:
    states, _ = machine()
    out = states.on_plan(plan(qkd=(QKD, QKD_LINKS)), None, changed=set(QKD),
                         pushed=set(QKD) - {"r2"}, inline={})
    assert out[0].new == PROVISIONING and "r2" in out[0].reason


def test_a_commit_that_does_not_touch_a_service_leaves_it_alone() -> None:
    states, _clock, first = up_and_running()
    before = states.records["dqc"].last_change, states.records["dqc"].reason
    moved = plan(qkd=(("alice", "r1", "qr1", "r2", "bob"), ("alice-r1", "r1-qr1", "qr1-r2",
                                                            "r2-bob")), dqc=(DQC, DQC_LINKS))
    out = states.on_plan(moved, first, changed={"r1", "qr1", "r2"},
                         pushed={"r1", "qr1", "r2"}, inline={})
    assert [(t.name, t.new) for t in out] == [("qkd", STABILISING)]
    assert states.records["dqc"].state == UP
    assert (states.records["dqc"].last_change, states.records["dqc"].reason) == before
    # r2 settles for the moved service; dqc, whose configuration did not change, stays up
    settling = {**ok(*ENDS), "r2": Observation(True, False, False)}
    states.on_round(settling, settings=SETTINGS)
    assert states.records["dqc"].state == UP
    assert states.records["qkd"].state == STABILISING


def test_stabilisation_is_bounded_by_the_timeout() -> None:
    states, clock = machine()
    states.on_plan(plan(qkd=(QKD, QKD_LINKS)), None, changed=set(QKD), pushed=set(QKD),
                   inline={})
    stuck = {**ok(*ENDS), "r2": Observation(True, False, False)}
    clock.t = 99.0
    states.on_round(stuck, settings=SETTINGS)
    assert states.records["qkd"].state == STABILISING
    clock.t = 101.0
    out = states.on_round(stuck, settings=SETTINGS)
    assert [(t.old, t.new) for t in out] == [(STABILISING, DEGRADED)]
    assert "overran" in out[0].reason and "r2" in out[0].reason
    assert states.records["qkd"].overran == ("r2",)
    states.on_round(ok(*ENDS), settings=SETTINGS)           # r2 settles at last
    assert states.records["qkd"].state == UP


def test_a_broken_path_is_down_within_one_round_and_others_are_not() -> None:
    states, _clock, _ = up_and_running()
    out = states.on_round(ok(*ENDS), settings=SETTINGS, failed_links={"r1-r2"})
    assert [(t.name, t.new) for t in out] == [("qkd", DOWN)]
    assert "r1-r2" in states.records["qkd"].reason
    gone = ok(*ENDS)
    del gone["dave"]                    # dave crashed: its neighbour reports it dead
    out = states.on_round(gone, settings=SETTINGS, failed_nodes={"dave"})
    assert ("dqc", DOWN) in [(t.name, t.new) for t in out]
    assert "dave" in states.records["dqc"].reason


def test_an_unreadable_device_is_no_evidence_about_the_data_plane() -> None:
    """r2 (on both paths, measuring neither) cannot be read: nothing changes."""
    states, _clock, _ = up_and_running()
    before = {n: (r.state, r.reason, r.last_change) for n, r in states.records.items()}
    blind = ok(*ENDS)
    del blind["r2"]
    for _ in range(SETTINGS.stale_after_rounds + 1):
        assert states.on_round(blind, settings=SETTINGS) == []
    assert {n: (r.state, r.reason, r.last_change)
            for n, r in states.records.items()} == before
    assert not any(r.stale for r in states.records.values())


def test_an_unreadable_measuring_end_keeps_the_state_says_why_and_goes_stale() -> None:
    states, _clock, _ = up_and_running()
    dqc = states.records["dqc"]
    last_change, measured = dqc.last_change, dqc.last_updated
    blind = ok(*ENDS)
    del blind["dave"]
    assert states.on_round(blind, settings=SETTINGS) == []     # no transition
    assert dqc.state == UP and "dave" in dqc.reason and measured in dqc.reason
    assert dqc.last_change == last_change and not dqc.stale
    for _ in range(SETTINGS.stale_after_rounds - 1):
        states.on_round(blind, settings=SETTINGS)
    assert dqc.state == UP and dqc.stale and dqc.last_updated == measured
    assert states.records["qkd"].state == UP and not states.records["qkd"].stale
    states.on_round(ok(*ENDS), settings=SETTINGS)             # read again: judged again
    assert dqc.state == UP and not dqc.stale and "dave" not in dqc.reason


def test_measurements_decide_up_or_degraded() -> None:
    states, _clock, _ = up_and_running()
    assert states.on_round(ok(*ENDS, fid=0.85), settings=SETTINGS) == []   # one round is
    states.on_round(ok(*ENDS, fid=0.85), settings=SETTINGS)                 # not a fault
    out = states.on_round(ok(*ENDS, fid=0.85), settings=SETTINGS)
    assert {t.name for t in out if t.new == DEGRADED} == {"qkd", "dqc"}
    assert "fidelity" in states.records["qkd"].reason
    for _ in range(2):                  # recovery must last as long as the fault had to
        states.on_round(ok(*ENDS), settings=SETTINGS)
        assert states.records["qkd"].state == DEGRADED
    states.on_round(ok(*ENDS), settings=SETTINGS)
    assert states.records["qkd"].state == UP
    for _ in range(5):   # the averaged rate falls a third below the plan
        states.on_round(ok(*ENDS, rate=60.0), settings=SETTINGS)
    assert states.records["qkd"].state == DEGRADED and "rate" in states.records["qkd"].reason


def test_stale_measurements_decide_nothing() -> None:
    states, _clock, _ = up_and_running()
    silent = ok()       # devices answer, but no end node reports the services any more
    for _ in range(2):
        states.on_round(silent, settings=SETTINGS)
    assert not states.records["qkd"].stale
    states.on_round(silent, settings=SETTINGS)
    record = states.records["qkd"]
    assert record.stale and record.state == UP and record.last_updated is not None
    for _ in range(3):
        states.on_round(ok(*ENDS, fid=0.85, names=("dqc",)), settings=SETTINGS)
    assert states.records["qkd"].state == UP          # stale: its fidelity decides nothing
    assert states.records["dqc"].state == DEGRADED


def test_what_the_plan_does_not_place_says_why() -> None:
    states, _clock, first = up_and_running()
    dropped = plan(qkd=None, dqc=(DQC, DQC_LINKS), dqs=None)
    out = {t.name: t for t in states.on_plan(
        dropped, first, changed=set(), pushed=set(), inline={},
        failed_links={"r1-r2"}, rejected={"dqs"})}
    assert out["qkd"].new == DOWN and "r1-r2" in out["qkd"].reason
    assert out["dqs"].new == REJECTED and "memory" in out["dqs"].reason
    states2, _, first2 = up_and_running()
    out2 = {t.name: t.new for t in states2.on_plan(
        plan(qkd=None, dqc=(DQC, DQC_LINKS)), first2, changed=set(), pushed=set(),
        inline={}, preempted={"qkd"})}
    assert out2 == {"qkd": PRE_EMPTED}
    states3, _, first3 = up_and_running()
    out3 = {t.name: t.new for t in states3.on_plan(
        plan(qkd=None, dqc=(DQC, DQC_LINKS)), first3, changed=set(), pushed=set(),
        inline={})}
    assert out3 == {"qkd": NOT_ADMITTED}


def test_a_reconfigured_device_holds_its_services_in_stabilising() -> None:
    states, _clock, _ = up_and_running()
    out = states.on_repushed("r2")
    assert {(t.name, t.new) for t in out} == {("qkd", STABILISING), ("dqc", STABILISING)}
    states.on_round(ok(*ENDS), settings=SETTINGS)
    assert {r.state for r in states.records.values()} == {UP}




def test_a_commit_that_changes_the_configuration_serving_a_service_stabilises_it() -> None:
    """Same plan, but a shared part of a device changed for it (a source re-tuned, a
    cross-connect renumbered): it waits for that device; others are left alone."""
    states, _clock, first = up_and_running()
    out = states.on_plan(first, first, changed={"charlie"}, pushed={"charlie"}, inline={},
                         touched={"dqc": {"charlie"}, "qkd": set()})
    assert [(t.name, t.new) for t in out] == [("dqc", STABILISING)]
    assert "charlie" in out[0].reason and states.records["qkd"].state == UP
    warming = {**ok(*ENDS), "charlie": Observation(True, False, False)}
    states.on_round(warming, settings=SETTINGS)
    assert states.records["dqc"].state == STABILISING
    states.on_round(ok(*ENDS), settings=SETTINGS)
    assert states.records["dqc"].state == UP


def test_a_rate_still_converging_after_the_devices_settle_is_stabilising() -> None:
    states, clock = machine()
    states.on_plan(plan(qkd=(QKD, QKD_LINKS)), None, changed=set(QKD), pushed=set(QKD),
                   inline={})
    for _ in range(4):
        states.on_round(ok(*ENDS, rate=60.0), settings=SETTINGS)
    record = states.records["qkd"]
    assert record.state == STABILISING and "converging" in record.reason
    states.on_round(ok(*ENDS, rate=150.0), settings=SETTINGS)     # window mean 78 ...
    states.on_round(ok(*ENDS, rate=200.0), settings=SETTINGS)     # ... 98: converged
    assert record.state == UP
    clock.t = 1000.0
    states2, clock2 = machine()
    states2.on_plan(plan(qkd=(QKD, QKD_LINKS)), None, changed=set(QKD), pushed=set(QKD),
                    inline={})
    clock2.t = 101.0          # never converges: bounded by the stabilisation timeout
    out = states2.on_round(ok(*ENDS, rate=10.0), settings=SETTINGS)
    assert [t.new for t in out] == [DEGRADED] and "overran" in out[0].reason
