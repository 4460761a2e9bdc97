"""APC calibration scheduling on the emulated metro network (real NETCONF, simulated time)
and against the Polarix vendor APC; the attribution rules on recorded readings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from adapters.vendor_apc import PolarixApcAdapter
from controller.datastore.nmda import NmdaStore
from controller.service.calibration import (
    ApcReading,
    CalibrationEvent,
    CalibrationScheduler,
    calibrate_action,
    calibrate_result,
    compensators,
    read_apc,
)
from controller.service.faults import endpoint_qbers
from controller.service.manager import ServiceManager
from simulators.clock import ManualClock
from simulators.devices.apc import CALIBRATION_DURATION, Apc
from simulators.devices.endnode import ESTIMATE_WINDOW_S
from simulators.faults import FaultKind, FaultRequest
from simulators.launcher import Network
from simulators.vendor_apc import PolarixApc, PolarixApcEmulator
from southbound.adapter import AdapterError
from southbound.pool import SessionPool
from tests.adapters.conftest import PASSWORD, apc_xml, endpoint, wait_for
from tests.controller.service.conftest import advance, metro_world

pytestmark = pytest.mark.timeout(120)

APC = "urn:sdqn:sdqn-apc"
THRESHOLD = 0.11


@dataclass
class World:
    store: NmdaStore
    manager: ServiceManager
    net: Network
    clock: ManualClock
    calls: dict[str, list[bool]]        # APC → force flag of every calibrate it received

    def now(self) -> float:
        """The devices' time line as epoch seconds (what their timestamps say)."""
        start = datetime.fromisoformat(self.clock.iso(0.0).replace("Z", "+00:00"))
        return start.timestamp() + self.clock.now()

    def scheduler(self, **kwargs: Any) -> CalibrationScheduler:
        return CalibrationScheduler(
            self.manager.pool, lambda: self.manager.expander.committed.plan,
            lambda: compensators(self.manager.expander.committed.network),
            clock=self.now, **kwargs)

    def advance(self, seconds: float, step: float = 5.0) -> None:
        advance(self.net, self.clock, seconds, step)

    def state(self, node: str) -> str:
        with self.manager.pool.session(node) as adapter:
            return adapter.get_state()

    def apc(self, node: str) -> ApcReading:
        reading = read_apc(self.state(node))
        assert reading is not None
        return reading

    def qber(self, service: str, node: str = "alice") -> float:
        return endpoint_qbers(self.state(node))[service]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The metro network configured by the controller with one service, qkd-alice-bob
    (alice–r1–r2–bob): apc-1's fibre r1-r2 is busy, apc-2's and apc-3's are idle."""
    calls: dict[str, list[bool]] = {}

    def spy_on_apcs(net: Network) -> None:
        for node, device in net.devices.items():
            if isinstance(device.model, Apc):
                real = device.model.calibrate

                def spy(now: float, force: bool = False, *, _node: str = node,
                        _real: Callable[..., tuple[str, float]] = real) -> tuple[str, float]:
                    calls.setdefault(_node, []).append(force)
                    return _real(now, force)

                monkeypatch.setattr(device.model, "calibrate", spy)

    with metro_world(prepare=spy_on_apcs, services=lambda requests: [
            r for r in requests if r["name"] == "qkd-alice-bob"]) as (store, manager, net, clock):
        w = World(store, manager, net, clock, calls)
        w.advance(CALIBRATION_DURATION + 10)      # the power-up calibrations finish
        yield w


def by_apc(events: list[CalibrationEvent]) -> dict[str, CalibrationEvent]:
    out = {e.apc: e for e in events}
    assert len(out) == len(events), f"one event per APC and round: {events}"
    return out


# -- the emulated metro network ----------------------------------------------------------------
def test_periodic_calibration_runs_at_once_on_an_idle_fibre(world: World) -> None:
    sched = world.scheduler(interval_s=300.0, max_deferral_s=120.0)
    assert compensators(world.manager.expander.committed.network) == {
        "apc-1": ("r1-r2",), "apc-2": ("qr1-r2",), "apc-3": ("qr1-r3",)}
    first = world.apc("apc-2").last_calibration
    assert first is not None and not world.apc("apc-2").in_progress
    assert sched.run_once() == []                      # nothing due yet
    world.advance(300.0)
    events = by_apc(sched.run_once())
    for idle in ("apc-2", "apc-3"):
        assert (events[idle].reason, events[idle].result, events[idle].force) == (
            "periodic", "started", False)
        assert events[idle].expected_duration == CALIBRATION_DURATION
        assert world.apc(idle).in_progress
    # apc-1's fibre carries the service: the controller waits without asking the device
    assert (events["apc-1"].reason, events["apc-1"].result) == ("periodic", "deferred")
    assert "r1-r2" in events["apc-1"].detail and "apc-1" not in world.calls
    assert world.calls["apc-2"] == [False]
    world.advance(CALIBRATION_DURATION + 1)
    after = world.apc("apc-2")
    assert not after.in_progress and after.last_calibration is not None
    assert after.last_calibration > first + 300.0
    assert sched.run_once() == []
    view = {s.apc: s for s in sched.schedule()}
    assert view["apc-2"].state == "scheduled" and view["apc-2"].window == "idle"
    assert view["apc-2"].next_due == pytest.approx(after.last_calibration + 300.0)
    assert view["apc-2"].planned_at == view["apc-2"].next_due
    busy = view["apc-1"]
    assert busy.state == "deferred" and busy.busy_share == 1.0 and busy.next_due is not None
    assert busy.planned_at == pytest.approx(busy.next_due + 120.0)
    assert busy.device_next is not None                # the device's own (hourly) timer


def test_busy_fibre_is_deferred_then_forced_at_max_deferral(world: World) -> None:
    sched = world.scheduler(interval_s=300.0, max_deferral_s=120.0)
    due = world.apc("apc-1").last_calibration
    assert due is not None
    due += 300.0
    world.advance(due - world.now() + 1.0)
    assert by_apc(sched.run_once())["apc-1"].result == "deferred"
    world.advance(100.0)                               # still inside max-deferral
    assert "apc-1" not in by_apc(sched.run_once())
    assert "apc-1" not in world.calls and not world.apc("apc-1").in_progress
    world.advance(25.0)                                # past due + 120 s
    forced = by_apc(sched.run_once())["apc-1"]
    assert (forced.reason, forced.result, forced.force) == ("deferred-deadline", "started",
                                                            True)
    assert world.calls["apc-1"] == [True] and world.apc("apc-1").in_progress
    world.advance(CALIBRATION_DURATION + 1)
    last = world.apc("apc-1").last_calibration
    assert last is not None and last >= due + 120.0
    assert "apc-1" not in by_apc(sched.run_once())    # a new cycle began


def test_drift_surge_over_the_qber_threshold_calibrates_urgently(world: World) -> None:
    world.advance(400.0)                               # lasers warm: the service runs
    sched = world.scheduler()
    assert world.qber("qkd-alice-bob") < THRESHOLD
    assert sched.run_once() == []
    world.net.faults.apply(FaultRequest(kind=FaultKind.DRIFT_SURGE, target="apc-1"))
    for _ in range(40):                                # the controller is not looking
        world.advance(60.0, step=20.0)
        if world.qber("qkd-alice-bob") > THRESHOLD:
            break
    assert world.qber("qkd-alice-bob") > THRESHOLD
    assert world.apc("apc-1").out_of_spec
    events = sched.run_once()
    assert [(e.apc, e.reason, e.result, e.force) for e in events] == [
        ("apc-1", "urgent-qber", "started", True)]  # one calibration for both causes
    # The end nodes purify the service's pairs, so the raw link r1-r2 crossed first.
    assert "of link:r1-r2 over" in events[0].detail
    # The end nodes measure the QBER over their last estimation window.
    world.advance(CALIBRATION_DURATION + 5 + ESTIMATE_WINDOW_S)
    assert world.qber("qkd-alice-bob") < THRESHOLD - 0.01
    assert not world.apc("apc-1").out_of_spec
    assert sched.run_once() == [] and world.calls["apc-1"] == [True]
    world.net.faults.apply(FaultRequest(kind=FaultKind.DRIFT_SURGE, target="apc-1",
                                        clear=True))


def test_no_hammering_while_a_calibration_runs(world: World) -> None:
    published: list[CalibrationEvent] = []
    sched = CalibrationScheduler(
        world.manager.pool, lambda: world.manager.expander.committed.plan,
        lambda: compensators(world.manager.expander.committed.network), clock=world.now,
        on_event=published.append)
    world.net.faults.apply(FaultRequest(kind=FaultKind.DRIFT_SURGE, target="apc-1"))
    events: list[CalibrationEvent] = []
    for _ in range(30):                                # polled: out-of-spec comes first
        world.advance(20.0, step=20.0)
        events = sched.run_once()
        if events:
            break
    assert [(e.apc, e.reason, e.result) for e in events] == [
        ("apc-1", "urgent-out-of-spec", "started")]
    assert world.calls["apc-1"] == [True]
    for _ in range(5):
        world.advance(5.0)
        assert world.apc("apc-1").in_progress
        assert sched.run_once() == []
        refused = sched.urgent("apc-1", "urgent-qber")
        assert refused.result == "busy" and refused not in sched.events
    assert world.calls["apc-1"] == [True] and published == events
    world.advance(10.0)                                # the calibration completes
    assert not world.apc("apc-1").out_of_spec and sched.run_once() == []
    assert world.calls["apc-1"] == [True]
    world.net.faults.apply(FaultRequest(kind=FaultKind.DRIFT_SURGE, target="apc-1",
                                        clear=True))


def test_run_once_uses_given_readings_and_skips_missing_apcs(world: World) -> None:
    sched = world.scheduler(interval_s=60.0, max_deferral_s=0.0)
    world.advance(70.0)
    readings = {"apc-3": world.state("apc-3")}
    assert [(e.apc, e.reason) for e in sched.run_once(readings)] == [("apc-3", "periodic")]
    assert "apc-2" not in world.calls and world.calls["apc-3"] == [False]
    view = {s.apc: s.state for s in sched.schedule()}
    assert view == {"apc-1": "unavailable", "apc-2": "unavailable", "apc-3": "calibrating"}


# -- the vendor APC (JSON over HTTP) -----------------------------------------------------------
@pytest.fixture
def polarix() -> Iterator[tuple[PolarixApcEmulator, SessionPool]]:
    emu = PolarixApcEmulator(users={"admin": PASSWORD},
                             device=PolarixApc(calibration_s=0.3)).start()
    pool = SessionPool([endpoint(emu.port)], adapters={"polarix-apc": PolarixApcAdapter},
                       timeout=5)
    try:
        with pool.session("apc-v") as adapter:
            adapter.replace_running(apc_xml("600", deferral="60"))
        yield emu, pool
    finally:
        pool.close()
        emu.stop()


def test_vendor_apc_is_calibrated_through_its_adapter(
        polarix: tuple[PolarixApcEmulator, SessionPool]) -> None:
    emu, pool = polarix
    offset = [0.0]
    sched = CalibrationScheduler(pool, lambda: None, lambda: {"apc-v": ("l-apc-v",)},
                                 interval_s=600.0, max_deferral_s=60.0,
                                 clock=lambda: time.time() + offset[0])
    # power-up: uncalibrated (500 mrad > 100 mrad tolerance) → urgent, once
    events = sched.run_once()
    assert [(e.reason, e.result, e.force) for e in events] == [
        ("urgent-out-of-spec", "started", True)]
    assert events[0].expected_duration == pytest.approx(0.3)
    assert sched.run_once() == []                      # calibrating: nothing more
    assert wait_for(lambda: emu.device.last_calibration is not None)
    last = emu.device.last_calibration
    assert sched.run_once() == []
    assert sched.schedule()[0].state == "scheduled"
    offset[0] = 601.0                                  # an interval later: no plan = idle
    events = sched.run_once()
    assert [(e.reason, e.result, e.force) for e in events] == [("periodic", "started", False)]
    assert wait_for(lambda: emu.device.last_calibration != last)


def test_background_rounds_read_over_the_pool_until_stopped(
        polarix: tuple[PolarixApcEmulator, SessionPool]) -> None:
    emu, pool = polarix
    seen: list[CalibrationEvent] = []
    sched = CalibrationScheduler(pool, lambda: None, lambda: {"apc-v": ("l-apc-v",)},
                                 on_event=seen.append)
    sched.start(0.05)
    try:
        assert wait_for(lambda: emu.device.last_calibration is not None)
    finally:
        sched.stop()
    assert [(e.reason, e.result) for e in seen] == [("urgent-out-of-spec", "started")]
    assert sched._loop.thread is None


def test_vendor_refusal_is_a_failed_event_retried_after_back_off(
        polarix: tuple[PolarixApcEmulator, SessionPool]) -> None:
    emu, pool = polarix
    offset = [0.0]
    failed: list[CalibrationEvent] = []
    sched = CalibrationScheduler(pool, lambda: None, lambda: {"apc-v": ("l-apc-v",)},
                                 clock=lambda: time.time() + offset[0], retry_s=30.0,
                                 on_event=lambda e: failed.append(e) if e.error else None)
    emu.stop()                                         # the device is gone
    event = sched.urgent("apc-v", "urgent-out-of-spec")
    assert event.result == "failed" and event.error and failed == [event]
    assert sched.urgent("apc-v").result == "busy"     # back-off: not sent again
    offset[0] = 31.0
    assert sched.urgent("apc-v").result == "failed" and len(failed) == 2


# -- attribution of QBER (recorded readings, a stand-in pool) ---------------------------------
class FakeAdapter:
    def __init__(self, node: str, log: list[tuple[str, str]], answers: dict[str, str]) -> None:
        self.node, self.log, self.answers = node, log, answers

    def action(self, xml: str) -> str:
        self.log.append((self.node, xml))
        if self.node not in self.answers:
            raise AdapterError("unreachable", tag="resource-denied", node_id=self.node)
        return self.answers[self.node]

    def get_state(self) -> str:
        raise AdapterError("no state here", node_id=self.node)


class FakePool:
    def __init__(self, answers: dict[str, str]) -> None:
        self.log: list[tuple[str, str]] = []
        self.answers = answers

    @contextmanager
    def session(self, node: str, *, wait_s: float | None = None) -> Iterator[FakeAdapter]:
        yield FakeAdapter(node, self.log, self.answers)


STARTED = f'<result xmlns="{APC}">started</result><expected-duration xmlns="{APC}">30' \
          "</expected-duration>"


def apc_state(error: float, *, last: str = "2027-01-15T08:00:00Z", running: bool = False,
              spec: str = "in-spec", oper: str = "up") -> str:
    return (f'<apc xmlns="{APC}"><state><misalignment-error>{error}</misalignment-error>'
            f"<last-calibration>{last}</last-calibration>"
            f"<calibration-in-progress>{str(running).lower()}</calibration-in-progress>"
            f"<spec-status>{spec}</spec-status></state>"
            f'<status><oper-status xmlns:t="urn:sdqn:sdqn-types">t:{oper}</oper-status>'
            "</status></apc>")


def endpoint_state(service: str, qber: float) -> str:
    ns = "urn:sdqn:sdqn-end-node"
    return (f'<end-node xmlns="{ns}"><application-endpoint><name>{service}</name>'
            f"<state><qber>{qber}</qber></state></application-endpoint></end-node>")


def two_apc_plan() -> Any:
    """A plan whose one service crosses two compensated fibres (duck-typed Plan)."""
    route = SimpleNamespace(links=("a-r", "r-b"), memory_nodes=("a", "r", "b"), segments=())
    a = SimpleNamespace(request=SimpleNamespace(name="svc"),
                        candidate=SimpleNamespace(route=route), share=0.5)
    return SimpleNamespace(admitted=[a], link_load=lambda: {"a-r": 0.5, "r-b": 0.5})


def test_qber_crossing_calibrates_the_worst_apc_first_once_per_crossing() -> None:
    pool = FakePool({"apc-a": STARTED, "apc-b": STARTED})
    now = [1_800_000_000.0 + 60.0]
    sched = CalibrationScheduler(cast(SessionPool, pool), two_apc_plan,
                                 lambda: {"apc-a": ("a-r",), "apc-b": ("r-b",)},
                                 clock=lambda: now[0])
    readings = {"apc-a": apc_state(0.01), "apc-b": apc_state(0.07),
                "a": endpoint_state("svc", 0.12)}
    assert [(e.apc, e.reason) for e in sched.run_once(readings)] == [("apc-b", "urgent-qber")]
    now[0] += 31
    readings["apc-b"] = apc_state(0.0001, last="2027-01-15T08:01:30Z")
    # still over: the other APC on the route is next; then nobody (both tried)
    assert [e.apc for e in sched.run_once(readings)] == ["apc-a"]
    now[0] += 31
    readings["apc-a"] = apc_state(0.0001, last="2027-01-15T08:02:01Z")
    assert sched.run_once(readings) == []
    # under threshold − hysteresis ends the crossing; a new crossing starts over
    readings["a"] = endpoint_state("svc", 0.05)
    assert sched.run_once(readings) == []
    readings["a"] = endpoint_state("svc", 0.105)      # inside the hysteresis band: nothing
    assert sched.run_once(readings) == []
    readings["apc-a"] = apc_state(0.03, last="2027-01-15T08:02:01Z")  # drifted again
    readings["a"] = endpoint_state("svc", 0.2)
    assert [e.apc for e in sched.run_once(readings)] == ["apc-a"]
    assert [n for n, _ in pool.log] == ["apc-b", "apc-a", "apc-a"]
    assert all("<force>true</force>" in xml for _, xml in pool.log)


def test_an_apc_out_of_spec_after_a_dark_spell_is_calibrated_again() -> None:
    """An urgent calibration started, the fibre went dark (the calibration failed without
    light, the last calibration time did not move), light came back: still out of spec,
    so it is calibrated again rather than left to an alarm."""
    pool = FakePool({"apc-a": STARTED, "apc-b": STARTED})
    now = [1_800_000_000.0 + 60.0]
    sched = CalibrationScheduler(cast(SessionPool, pool), two_apc_plan,
                                 lambda: {"apc-a": ("a-r",), "apc-b": ("r-b",)},
                                 clock=lambda: now[0])
    out = apc_state(0.2, spec="out-of-spec")
    readings = {"apc-a": out, "apc-b": apc_state(0.001)}
    assert [(e.apc, e.reason) for e in sched.run_once(readings)] == [
        ("apc-a", "urgent-out-of-spec")]
    now[0] += 31
    assert sched.run_once(readings) == []                   # same episode: once
    readings["apc-a"] = apc_state(0.3, spec="out-of-spec", oper="down")
    now[0] += 31
    assert sched.run_once(readings) == []                   # dark: nothing to calibrate
    readings["apc-a"] = out
    now[0] += 31
    assert [(e.apc, e.reason) for e in sched.run_once(readings)] == [
        ("apc-a", "urgent-out-of-spec")]


def test_no_urgent_while_an_apc_on_the_route_is_calibrating() -> None:
    pool = FakePool({"apc-a": STARTED, "apc-b": STARTED})
    sched = CalibrationScheduler(cast(SessionPool, pool), two_apc_plan,
                                 lambda: {"apc-a": ("a-r",), "apc-b": ("r-b",)},
                                 clock=lambda: 1_800_000_060.0)
    readings = {"apc-a": apc_state(0.01, running=True), "apc-b": apc_state(0.07),
                "a": endpoint_state("svc", 0.3)}
    assert sched.run_once(readings) == [] and pool.log == []


def test_readings_and_action_payloads() -> None:
    reading = read_apc(apc_state(0.25, spec="out-of-spec"))
    assert reading == ApcReading(1_800_000_000.0, None, False, 0.25, True, False)
    assert read_apc('<end-node xmlns="urn:sdqn:sdqn-end-node"/>') is None
    assert calibrate_action(True) == (f'<apc xmlns="{APC}"><calibrate><force>true</force>'
                                      "</calibrate></apc>")
    assert calibrate_result(STARTED) == ("started", 30.0)
    assert calibrate_result(f'<result xmlns="{APC}">busy</result>') == ("busy", None)
    with pytest.raises(ValueError, match="nothing"):
        calibrate_result("")
    with pytest.raises(ValueError):
        CalibrationScheduler(cast(SessionPool, FakePool({})), lambda: None, dict,
                             interval_s=0)


def test_a_device_deferring_an_idle_window_request_is_forced_at_the_deadline() -> None:
    """The plan says idle but the device still sees traffic (e.g. an old path kept by
    make-before-break): it holds the request; the controller forces at max-deferral."""
    deferred = f'<result xmlns="{APC}">deferred</result>'
    pool = FakePool({"apc-a": deferred})
    now = [1_800_000_000.0 + 3600.0]                   # due now (last 08:00:00 + 1 h)
    sched = CalibrationScheduler(cast(SessionPool, pool), lambda: None,
                                 lambda: {"apc-a": ("a-r",)}, max_deferral_s=600.0,
                                 clock=lambda: now[0])
    readings = {"apc-a": apc_state(0.001)}
    assert [(e.reason, e.result, e.force) for e in sched.run_once(readings)] == [
        ("periodic", "deferred", False)]
    assert sched.schedule()[0].state == "requested"
    now[0] += 599.0
    assert sched.run_once(readings) == [] and len(pool.log) == 1
    now[0] += 1.0
    pool.answers["apc-a"] = STARTED
    assert [(e.reason, e.result, e.force) for e in sched.run_once(readings)] == [
        ("deferred-deadline", "started", True)]
    assert sched.schedule()[0].state == "calibrating"


def test_an_unreadable_reading_skips_only_its_device() -> None:
    pool = FakePool({"apc-b": STARTED})
    sched = CalibrationScheduler(cast(SessionPool, pool), lambda: None,
                                 lambda: {"apc-a": ("a-r",), "apc-b": ("r-b",)},
                                 clock=lambda: 1_800_000_060.0)
    events = sched.run_once({"apc-a": "<apc", "apc-b": apc_state(0.3, spec="out-of-spec")})
    assert [(e.apc, e.reason) for e in events] == [("apc-b", "urgent-out-of-spec")]
    assert [s.state for s in sched.schedule()] == ["unavailable", "calibrating"]
