"""Faults a reachable device reports in its own state (a q-ROADM's timing skew, an end
node's dead detector): a root-cause alarm on the device, the services through it degraded
with a derived alarm pointing at it, and everything cleared on repair.

Real emulators over real NETCONF (the metro world of conftest.py), simulated time on a
manual clock; telemetry rounds are driven by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from itertools import pairwise

from controller.datastore.nmda import Datastore, NmdaStore
from controller.service.alarms import AlarmKey, Severity, service_resource
from controller.service.apc_spec import OUT_OF_SPEC
from controller.service.calibration import compensators
from controller.service.calibration_watch import (
    ALARM as INEFFECTIVE,
)
from controller.service.calibration_watch import (
    INEFFECTIVE_COUNT,
    INEFFECTIVE_WINDOW_S,
)
from controller.service.manager import ServiceManager
from controller.service.polarisation_drift import DRIFT
from simulators.clock import ManualClock
from simulators.devices.apc import CALIBRATION_DURATION
from simulators.faults import FaultKind, FaultRequest
from simulators.launcher import Network
from tests.controller.service.conftest import advance, metro_world

WorldT = tuple[NmdaStore, ServiceManager, Network, ManualClock]
WARM_UP_S = 400.0
DEGRADED_ALARM = "sdqn-alarms:service-degraded"


def states(store: NmdaStore) -> dict[str, str]:
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-services:entanglement-services"))
    return {r["name"]: r.get("state", {}).get("oper-state", "")
            for r in data["sdqn-services:entanglement-services"]["request"]}


def rounds(net: Network, clock: ManualClock, manager: ServiceManager, n: int) -> None:
    for _ in range(n):
        advance(net, clock, 10.0)
        manager.telemetry.poll_once()


def through(manager: ServiceManager, node: str) -> set[str]:
    return {name for name, r in manager.assurance.records().items()
            if r.admitted and node in r.route_nodes}


def settled_world(world: WorldT) -> None:
    store, manager, net, clock = world
    advance(net, clock, WARM_UP_S)
    rounds(net, clock, manager, 8)
    live = {n for n, r in manager.assurance.records().items() if r.admitted}
    assert live and all(states(store)[n] == "up" for n in live), states(store)


def check_fault_cycle(world: WorldT, node: str, alarm_type: str, fault: FaultRequest,
                      hit_by: Callable[[ServiceManager], set[str]] | None = None) -> None:
    """`hit_by`: the services the fault hits (default: those through `node`)."""
    store, manager, net, clock = world
    settled_world(world)
    hit = hit_by(manager) if hit_by is not None else through(manager, node)
    others = {n for n, r in manager.assurance.records().items() if r.admitted} - hit
    assert hit, f"no service crosses {node}"
    root = AlarmKey(manager.healer.node_resource(node), alarm_type)
    assert manager.alarms.get(root) is None

    net.faults.apply(fault)
    rounds(net, clock, manager, 1)
    alarm = manager.alarms.get(root)
    assert alarm is not None and not alarm.cleared
    now = states(store)
    for name in hit:
        assert now[name] == "degraded", now
        derived = manager.alarms.get(AlarmKey(service_resource(name), DEGRADED_ALARM))
        assert derived is not None and not derived.cleared
        assert root.resource in derived.root_causes
    for name in others:
        assert now[name] == "up", now

    net.faults.apply(fault.model_copy(update={"clear": True}))
    rounds(net, clock, manager, 6)
    alarm = manager.alarms.get(root)
    assert alarm is not None and alarm.cleared
    now = states(store)
    for name in hit:
        assert now[name] == "up", now
        derived = manager.alarms.get(AlarmKey(service_resource(name), DEGRADED_ALARM))
        assert derived is not None and derived.cleared


def test_timing_skew_on_a_qroadm_degrades_the_services_through_it() -> None:
    with metro_world() as world:
        check_fault_cycle(world, "qr1", "sdqn-alarms:timing-skew",
                          FaultRequest(kind=FaultKind.TIMING_SKEW, target="qr1"))




def test_a_dead_detector_degrades_the_services_measuring_with_it() -> None:
    with metro_world() as world:
        check_fault_cycle(world, "alice", "sdqn-alarms:detector-failure",
                          FaultRequest(kind=FaultKind.DETECTOR_FAILURE, target="alice",
                                       detector="d1"))


def test_an_apc_forced_to_calibrate_again_and_again_raises_calibration_ineffective(
        ) -> None:
    with metro_world() as (_store, manager, net, clock):
        advance(net, clock, WARM_UP_S)
        now = [1_000_000.0]
        manager.calibration.clock = lambda: now[0]     # the scheduler's clock, by hand
        apc = sorted(manager.calibration.apcs())[0]
        key = AlarmKey(manager.healer.node_resource(apc), INEFFECTIVE)
        started = 0
        for _ in range(INEFFECTIVE_COUNT):
            assert manager.alarms.get(key) is None
            event = manager.calibration.urgent(apc)
            assert event.result == "started", event
            started += 1
            now[0] += 40.0                              # each one completes ...
            advance(net, clock, 40.0)
            manager.telemetry.poll_once()
        alarm = manager.alarms.get(key)                 # ... and is forced again
        assert started == INEFFECTIVE_COUNT and alarm is not None and not alarm.cleared

        now[0] += INEFFECTIVE_WINDOW_S / 2              # still within the window
        manager.telemetry.poll_once()
        alarm = manager.alarms.get(key)
        assert alarm is not None and not alarm.cleared
        now[0] += INEFFECTIVE_WINDOW_S                  # a quiet window: cleared
        manager.telemetry.poll_once()
        alarm = manager.alarms.get(key)
        assert alarm is not None and alarm.cleared


def test_a_degraded_services_alarm_follows_the_root_causes_on_its_path() -> None:
    """A second fault on the path of an already degraded service joins its alarm's
    root-cause-resource; a repaired one leaves it (RFC 8632 §3.6: the complete list)."""
    with metro_world() as world:
        _store, manager, net, clock = world
        settled_world(world)
        assert {"alice", "bob"} <= set(manager.assurance.records()["qkd-alice-bob"].route_nodes)
        derived = AlarmKey(service_resource("qkd-alice-bob"), DEGRADED_ALARM)
        alice = manager.healer.node_resource("alice")
        bob = manager.healer.node_resource("bob")
        dead = {"kind": FaultKind.DETECTOR_FAILURE, "detector": "d1"}

        net.faults.apply(FaultRequest(target="alice", **dead))
        rounds(net, clock, manager, 1)
        alarm = manager.alarms.get(derived)
        assert alarm is not None and not alarm.cleared and alarm.root_causes == (alice,)

        net.faults.apply(FaultRequest(target="bob", **dead))
        rounds(net, clock, manager, 1)
        alarm = manager.alarms.get(derived)
        assert alarm is not None and set(alarm.root_causes) == {alice, bob}

        net.faults.apply(FaultRequest(target="alice", clear=True, **dead))
        rounds(net, clock, manager, 1)
        alarm = manager.alarms.get(derived)
        assert alarm is not None and not alarm.cleared and alarm.root_causes == (bob,)


def across(manager: ServiceManager, link: str) -> set[str]:
    return {name for name, r in manager.assurance.records().items()
            if r.admitted and link in r.route_links}


def device_epoch(clock: ManualClock) -> Callable[[], float]:
    """The devices' time line as epoch seconds (what their timestamps say)."""
    start = datetime.fromisoformat(clock.iso(0.0).replace("Z", "+00:00")).timestamp()
    return lambda: start + clock.now()


def test_a_polarisation_drift_surge_degrades_the_services_across_the_fibre() -> None:
    with metro_world() as world:
        store, manager, net, clock = world
        settled_world(world)
        (link,) = compensators(manager.expander.committed.network)["apc-1"]
        hit = across(manager, link)
        others = {n for n, r in manager.assurance.records().items() if r.admitted} - hit
        assert hit and others
        root = AlarmKey(manager.healer.link_resource(link), DRIFT)
        assert manager.alarms.get(root) is None

        surge = FaultRequest(kind=FaultKind.DRIFT_SURGE, target="apc-1", factor=50.0)
        net.faults.apply(surge)
        rounds(net, clock, manager, 1)
        alarm = manager.alarms.get(root)
        assert alarm is not None and not alarm.cleared and "apc-1" in alarm.text
        now = states(store)
        for name in hit:
            assert now[name] == "degraded", now
            derived = manager.alarms.get(AlarmKey(service_resource(name), DEGRADED_ALARM))
            assert derived is not None and not derived.cleared
            assert root.resource in derived.root_causes
        for name in others:
            assert now[name] == "up", now

        net.faults.apply(surge.model_copy(update={"clear": True}))
        rounds(net, clock, manager, 6)
        alarm = manager.alarms.get(root)
        assert alarm is not None and alarm.cleared
        now = states(store)
        for name in hit | others:
            assert now[name] == "up", now
        for name in hit:
            derived = manager.alarms.get(AlarmKey(service_resource(name), DEGRADED_ALARM))
            assert derived is not None and derived.cleared


def test_a_drifting_fibre_is_not_hammered_and_its_calibrations_are_explained() -> None:
    """A surge so strong the APC is out of spec seconds after each calibration: the
    forced calibrations leave the fibre in service at least as long as each one blinds
    it, and calibration-ineffective does not add a second root cause."""
    with metro_world() as world:
        _store, manager, net, clock = world
        settled_world(world)
        manager.calibration.clock = device_epoch(clock)
        (link,) = compensators(manager.expander.committed.network)["apc-1"]
        seen = len(manager.calibration.events)
        net.faults.apply(FaultRequest(kind=FaultKind.DRIFT_SURGE, target="apc-1",
                                      factor=1000.0))
        rounds(net, clock, manager, 40)                  # 400 s of surge
        started = [e.at for e in list(manager.calibration.events)[seen:]
                   if e.apc == "apc-1" and e.force and e.result == "started"]
        assert len(started) >= INEFFECTIVE_COUNT          # calibrating still helps ...
        assert all(b - a >= 2 * CALIBRATION_DURATION for a, b in pairwise(started))
        assert started[-1] - started[0] < INEFFECTIVE_WINDOW_S
        assert manager.alarms.get(AlarmKey(manager.healer.node_resource("apc-1"),
                                           INEFFECTIVE)) is None
        root = manager.alarms.get(AlarmKey(manager.healer.link_resource(link), DRIFT))
        assert root is not None and not root.cleared
        net.faults.apply(FaultRequest(kind=FaultKind.DRIFT_SURGE, target="apc-1",
                                      clear=True))
        rounds(net, clock, manager, 1)
        root = manager.alarms.get(AlarmKey(manager.healer.link_resource(link), DRIFT))
        assert root is not None and root.cleared


THRESHOLD_ALARMS = ("sdqn-alarms:fidelity-threshold", "sdqn-alarms:qber-threshold")


def ever_raised(manager: ServiceManager, *types: str) -> list[str]:
    """Alarms of these types in the list, active or cleared (RFC 8632 keeps both)."""
    return [f"{a.key.type_id}@{a.key.resource}" for a in manager.alarms.alarms()
            if a.key.type_id in types]


def test_an_apc_out_of_spec_degrades_the_services_across_its_fibres() -> None:
    """A failed polarisation actuator: apc-out-of-spec on the APC, the services over the
    fibre it compensates degraded naming it, cleared when the APC is within spec again."""
    with metro_world() as world:
        _store, manager, _net, _clock = world

        def across_apc(manager: ServiceManager) -> set[str]:
            (link,) = compensators(manager.expander.committed.network)["apc-1"]
            return across(manager, link)

        check_fault_cycle(world, "apc-1", OUT_OF_SPEC,
                          FaultRequest(kind=FaultKind.APC_OUT_OF_SPEC, target="apc-1"),
                          hit_by=across_apc)
        raised = [a for a in manager.alarms.alarms() if a.key.type_id == OUT_OF_SPEC]
        assert len(raised) == 1 and raised[0].cleared      # one raise, one clear
        assert sorted(c.severity for c in raised[0].history) == ["cleared",
                                                                 Severity.MAJOR.value]
        assert ever_raised(manager, INEFFECTIVE, "sdqn-alarms:calibration-failed",
                           DRIFT) == []


def test_a_failing_apc_is_the_one_root_cause_of_what_its_fibre_measures() -> None:
    """Misaligned far enough that the fibre's fidelity and the service's QBER cross their
    thresholds: no second root alarm for them, and the APC is not hammered with forced
    calibrations that cannot help."""
    with metro_world() as world:
        _store, manager, net, clock = world
        settled_world(world)
        manager.calibration.clock = device_epoch(clock)
        (link,) = compensators(manager.expander.committed.network)["apc-1"]
        (service,) = across(manager, link)
        seen = len(manager.calibration.events)
        fault = FaultRequest(kind=FaultKind.APC_OUT_OF_SPEC, target="apc-1", offset=0.8)
        net.faults.apply(fault)
        rounds(net, clock, manager, 40)                 # 400 s of a broken actuator
        record = manager.assurance.records()[service]
        assert record.qber is not None and record.qber > manager.healer.thresholds()[1]
        root = manager.alarms.get(AlarmKey(manager.healer.node_resource("apc-1"),
                                           OUT_OF_SPEC))
        assert root is not None and not root.cleared
        assert ever_raised(manager, *THRESHOLD_ALARMS, INEFFECTIVE) == []
        started = [e.at for e in list(manager.calibration.events)[seen:]
                   if e.apc == "apc-1" and e.force and e.result == "started"]
        assert started and all(b - a >= 2 * CALIBRATION_DURATION * 2 ** i
                               for i, (a, b) in enumerate(pairwise(started)))
        net.faults.apply(fault.model_copy(update={"clear": True}))
        rounds(net, clock, manager, 10)
        assert manager.alarms.active() == []
        assert ever_raised(manager, *THRESHOLD_ALARMS) == []


def test_a_drift_too_fast_to_track_has_one_root_alarm() -> None:
    """A surge the calibrations cannot keep up with: the fibre's fidelity and the
    service's QBER cross their thresholds, the APC is out of spec again and again; the
    polarisation-drift alarm stays the one root cause, before and after the repair."""
    with metro_world() as world:
        _store, manager, net, clock = world
        settled_world(world)
        manager.calibration.clock = device_epoch(clock)
        (link,) = compensators(manager.expander.committed.network)["apc-1"]
        (service,) = across(manager, link)
        surge = FaultRequest(kind=FaultKind.DRIFT_SURGE, target="apc-1", factor=5000.0)
        net.faults.apply(surge)
        rounds(net, clock, manager, 10)
        record = manager.assurance.records()[service]
        assert record.qber is not None and record.qber > manager.healer.thresholds()[1]
        root = manager.alarms.get(AlarmKey(manager.healer.link_resource(link), DRIFT))
        assert root is not None and not root.cleared
        net.faults.apply(surge.model_copy(update={"clear": True}))
        rounds(net, clock, manager, 12)
        assert manager.alarms.active() == []
        assert ever_raised(manager, *THRESHOLD_ALARMS, OUT_OF_SPEC, INEFFECTIVE) == []
