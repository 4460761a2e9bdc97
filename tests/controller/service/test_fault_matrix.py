"""Faults a reachable device reports in its own state (a q-ROADM's timing skew, an end
node's dead detector, a memory measuring a shorter coherence time than planned): a
root-cause alarm on the device, the services through it degraded with a derived alarm
pointing at it, and everything cleared on repair.

Real emulators over real NETCONF (the metro world of conftest.py), simulated time on a
manual clock; telemetry rounds are driven by hand."""

from __future__ import annotations

import json

from controller.datastore.nmda import Datastore, NmdaStore
from controller.service.alarms import AlarmKey, service_resource
from controller.service.calibration_watch import (
    ALARM as INEFFECTIVE,
)
from controller.service.calibration_watch import (
    INEFFECTIVE_COUNT,
    INEFFECTIVE_WINDOW_S,
)
from controller.service.manager import ServiceManager
from simulators.clock import ManualClock
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


def check_fault_cycle(world: WorldT, node: str, alarm_type: str,
                      fault: FaultRequest) -> None:
    store, manager, net, clock = world
    settled_world(world)
    hit = through(manager, node)
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


def test_a_degraded_memory_on_a_repeater_degrades_the_services_through_it() -> None:
    with metro_world() as world:
        check_fault_cycle(world, "r1", "sdqn-alarms:memory-degraded",
                          FaultRequest(kind=FaultKind.MEMORY_DEGRADATION, target="r1"))


def measured_fidelity(store: NmdaStore, name: str) -> float:
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-services:entanglement-services"))
    request = next(r for r in data["sdqn-services:entanglement-services"]["request"]
                   if r["name"] == name)
    return float(request["state"]["measured-fidelity"])


def test_what_a_service_through_a_degraded_memory_measures_falls() -> None:
    """Not only an alarm: pairs wait at r1 for milliseconds, so at T2 = 5 ms (5 s / 1000)
    the fidelity the end nodes measure on qkd-alice-bob drops by a few hundredths."""
    with metro_world() as world:
        store, manager, net, clock = world
        settled_world(world)
        before = measured_fidelity(store, "qkd-alice-bob")
        net.faults.apply(FaultRequest(kind=FaultKind.MEMORY_DEGRADATION, target="r1",
                                      factor=1000))
        rounds(net, clock, manager, 8)      # the end nodes' QBER window is 60 s
        assert measured_fidelity(store, "qkd-alice-bob") < before - 0.01
        assert states(store)["qkd-alice-bob"] == "degraded"


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
