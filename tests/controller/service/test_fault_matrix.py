"""The fault matrix end to end: faults a reachable device reports in its own state (a
q-ROADM's timing skew, an end node's dead detector, a memory measuring a shorter coherence
time than planned, a fibre drifting faster than its APC tracks), a device rebooting, its
management session lost, and a crash: the right root-cause alarm on the device, the right
states and derived alarms for the services through it (and nothing for the others), and
everything cleared on repair.

Real emulators over real NETCONF (the metro world of conftest.py), simulated time on a
manual clock; telemetry rounds are driven by hand."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.errors import NetconfError
from controller.service.alarms import Alarm, AlarmKey, Severity, service_resource
from controller.service.apc_spec import OUT_OF_SPEC
from controller.service.assurance import read_settings
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
from southbound.model import SyncState
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


def assert_degraded_by(store: NmdaStore, manager: ServiceManager, hit: set[str],
                       root: AlarmKey) -> None:
    """Every service in `hit` is degraded, its service-degraded alarm active and naming
    `root` among its root causes."""
    now = states(store)
    for name in hit:
        assert now[name] == "degraded", now
        derived = manager.alarms.get(AlarmKey(service_resource(name), DEGRADED_ALARM))
        assert derived is not None and not derived.cleared
        assert root.resource in derived.root_causes


def assert_recovered(store: NmdaStore, manager: ServiceManager, hit: set[str]) -> None:
    """Every service in `hit` is up again and its service-degraded alarm cleared."""
    now = states(store)
    for name in hit:
        assert now[name] == "up", now
        derived = manager.alarms.get(AlarmKey(service_resource(name), DEGRADED_ALARM))
        assert derived is not None and derived.cleared


def check_fault_cycle(world: WorldT, node: str, alarm_type: str, fault: FaultRequest,
                      hit_by: Callable[[ServiceManager], set[str]] | None = None,
                      link: str | None = None) -> Alarm:
    """Raise → root alarm → the hit services degraded naming it, the others up → clear →
    all cleared and up. `hit_by`: the services the fault hits (default: those through
    `node`); `link`: the root alarm is on this link rather than on `node`. Returns the
    root alarm as raised."""
    store, manager, net, clock = world
    settled_world(world)
    hit = hit_by(manager) if hit_by is not None else through(manager, node)
    others = {n for n, r in manager.assurance.records().items() if r.admitted} - hit
    assert hit, f"no service crosses {node}"
    resource = (manager.healer.link_resource(link) if link is not None
                else manager.healer.node_resource(node))
    root = AlarmKey(resource, alarm_type)
    assert manager.alarms.get(root) is None

    net.faults.apply(fault)
    rounds(net, clock, manager, 1)
    raised = alarm = manager.alarms.get(root)
    assert alarm is not None and not alarm.cleared
    assert_degraded_by(store, manager, hit, root)
    now = states(store)
    for name in others:
        assert now[name] == "up", now

    net.faults.apply(fault.model_copy(update={"clear": True}))
    rounds(net, clock, manager, 6)
    alarm = manager.alarms.get(root)
    assert alarm is not None and alarm.cleared
    now = states(store)
    for name in others:
        assert now[name] == "up", now
    assert_recovered(store, manager, hit)
    return raised


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


def settled_on_apc_1(world: WorldT) -> str:
    """The world settled, calibrations on the devices' clock: apc-1's fibre."""
    _store, manager, _net, clock = world
    settled_world(world)
    manager.calibration.clock = device_epoch(clock)
    (link,) = compensators(manager.expander.committed.network)["apc-1"]
    return link


def device_epoch(clock: ManualClock) -> Callable[[], float]:
    """The devices' time line as epoch seconds (what their timestamps say)."""
    start = datetime.fromisoformat(clock.iso(0.0).replace("Z", "+00:00")).timestamp()
    return lambda: start + clock.now()


def test_a_polarisation_drift_surge_degrades_the_services_across_the_fibre() -> None:
    with metro_world() as world:
        manager = world[1]
        (link,) = compensators(manager.expander.committed.network)["apc-1"]
        raised = check_fault_cycle(
            world, "apc-1", DRIFT,
            FaultRequest(kind=FaultKind.DRIFT_SURGE, target="apc-1", factor=50.0),
            hit_by=lambda m: across(m, link), link=link)
        assert "apc-1" in raised.text


def test_a_drifting_fibre_is_not_hammered_and_its_calibrations_are_explained() -> None:
    """A surge so strong the APC is out of spec seconds after each calibration: the
    forced calibrations leave the fibre in service at least as long as each one blinds
    it, and calibration-ineffective does not add a second root cause."""
    with metro_world() as world:
        _store, manager, net, clock = world
        link = settled_on_apc_1(world)
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
        link = settled_on_apc_1(world)
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
        link = settled_on_apc_1(world)
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


# -- the management plane and the device itself: session loss, restart, crash ----------

UNREACHABLE = "sdqn-alarms:device-unreachable"
FAILURE = "sdqn-alarms:device-failure"
RESTARTED = "sdqn-alarms:device-restarted"
DATA_PLANE = ("sdqn-alarms:device-failure", "sdqn-alarms:fibre-cut", "sdqn-alarms:link-down",
              "sdqn-alarms:service-degraded", "sdqn-alarms:service-down")


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for something the controller's own threads (the notification streams) do."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


def active(manager: ServiceManager, key: AlarmKey) -> bool:
    alarm = manager.alarms.get(key)
    return alarm is not None and not alarm.cleared


def service_state(store: NmdaStore, name: str) -> dict[str, Any]:
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath=(
        f"/sdqn-services:entanglement-services/request[name='{name}']/state")))
    state: dict[str, Any] = data["sdqn-services:entanglement-services"]["request"][0]["state"]
    return state


def test_a_lost_management_session_raises_only_device_unreachable() -> None:
    """r2 carries every admitted service but measures none: its data plane keeps running,
    so the services stay up on their end nodes' fresh measurements; a commit that must
    touch r2 fails naming it; on repair the session comes back and r2 is checked in sync
    (a craft-terminal edit made meanwhile is found and reverted before the alarm clears)."""
    with metro_world() as world:
        store, manager, net, clock = world
        settled_world(world)
        live = {n for n, r in manager.assurance.records().items() if r.admitted}
        assert live == through(manager, "r2")
        manager.events.start()
        wait_until(lambda: "r2" in manager.events.subscribed, "r2 subscribed")
        root = AlarmKey(manager.healer.node_resource("r2"), UNREACHABLE)

        net.faults.apply(FaultRequest(kind=FaultKind.SESSION_LOSS, target="r2"))
        wait_until(lambda: active(manager, root), "device-unreachable raised")
        rounds(net, clock, manager, 4)
        assert {a.key.type_id for a in manager.alarms.active()} == {UNREACHABLE}
        assert not set(DATA_PLANE) & {a.key.type_id for a in manager.alarms.alarms()}
        for name in live:
            state = service_state(store, name)
            assert state["oper-state"] == "up" and state["stale"] is False, (name, state)
        # Disabling a service whose flow r2 carries must remove that flow from r2, whatever
        # the physics model predicts (a tighter min-fidelity may already be met by the plan).
        with pytest.raises(NetconfError, match="r2"):
            store.edit_json(Datastore.RUNNING, {"sdqn-services:entanglement-services": {
                "request": [{"name": "teleport-bob-charlie", "admin-state": "disabled"}]}})
        intended = device_running(net, "r2")
        net.faults.apply(FaultRequest(kind=FaultKind.OOB_EDIT, target="r2"))
        assert device_running(net, "r2") != intended

        net.faults.apply(FaultRequest(kind=FaultKind.SESSION_LOSS, target="r2", clear=True))
        wait_until(lambda: not active(manager, root), "device-unreachable cleared")
        assert manager.pool.state("r2")[1] is SyncState.IN_SYNC
        assert device_running(net, "r2") == intended
        oob = manager.alarms.get(AlarmKey(root.resource, "sdqn-alarms:out-of-band-change",
                                          "revert"))
        assert oob is not None and oob.cleared
        rounds(net, clock, manager, 2)
        assert not manager.alarms.active()
        assert all(states(store)[name] == "up" for name in live)


def test_a_lost_session_to_a_measuring_end_node_keeps_the_state_and_says_why() -> None:
    """alice measures qkd-alice-bob: while she cannot be read the service keeps its last
    state, the reason names her, and the measured values turn stale; nothing else moves."""
    with metro_world() as world:
        store, manager, net, clock = world
        settled_world(world)
        others = {n for n, r in manager.assurance.records().items() if r.admitted} - \
            through(manager, "alice")
        manager.events.start()
        wait_until(lambda: "alice" in manager.events.subscribed, "alice subscribed")
        root = AlarmKey(manager.healer.node_resource("alice"), UNREACHABLE)
        before = service_state(store, "qkd-alice-bob")

        net.faults.apply(FaultRequest(kind=FaultKind.SESSION_LOSS, target="alice"))
        wait_until(lambda: active(manager, root), "device-unreachable raised")
        rounds(net, clock, manager, 1)
        qkd = service_state(store, "qkd-alice-bob")
        assert qkd["oper-state"] == "up" and "alice" in qkd["oper-state-reason"]
        assert qkd["last-change"] == before["last-change"] and qkd["stale"] is False
        rounds(net, clock, manager, read_settings(store).stale_after_rounds)
        qkd = service_state(store, "qkd-alice-bob")
        assert qkd["oper-state"] == "up" and qkd["stale"] is True
        assert qkd["last-updated"] == before["last-updated"] or \
            qkd["last-updated"] < service_state(store, sorted(others)[0])["last-updated"]
        assert {a.key.type_id for a in manager.alarms.active()} == {UNREACHABLE}
        assert all(states(store)[name] == "up" for name in others)

        net.faults.apply(FaultRequest(kind=FaultKind.SESSION_LOSS, target="alice",
                                      clear=True))
        wait_until(lambda: not active(manager, root), "device-unreachable cleared")
        rounds(net, clock, manager, 1)
        qkd = service_state(store, "qkd-alice-bob")
        assert qkd["oper-state"] == "up" and qkd["stale"] is False
        assert "alice" not in qkd["oper-state-reason"]


@pytest.mark.parametrize(("node", "guard_first"), [("r3", True), ("dave", False)])
def test_a_device_restart_is_its_own_root_alarm_until_the_device_is_back(
        node: str, guard_first: bool) -> None:
    """The device reboots (crash and immediate power-up) and comes back with its factory
    configuration (nothing saved in startup): device-restarted, the services through it
    degraded pointing at it, the device configured again (not an out-of-band change, even
    when check-sync finds it first), and everything cleared once it is warm and stable."""
    with metro_world() as world:
        store, manager, net, clock = world
        settled_world(world)
        hit = through(manager, node)
        others = {n for n, r in manager.assurance.records().items() if r.admitted} - hit
        assert hit and others
        root = AlarmKey(manager.healer.node_resource(node), RESTARTED)
        intended = device_running(net, node)

        net.faults.apply(FaultRequest(kind=FaultKind.RESTART, target=node))
        assert device_running(net, node) != intended                    # the boot lost it
        if guard_first:
            manager.oob.run_once()      # check-sync finds the difference first
        for _ in range(2):              # the first read may find the pooled session dead
            manager.telemetry.poll_once()
        alarm = manager.alarms.get(root)
        assert alarm is not None and not alarm.cleared and alarm.severity == "major"
        assert device_running(net, node) == intended                    # pushed back
        assert_degraded_by(store, manager, hit, root)
        now = states(store)
        for name in hit:
            assert node in service_state(store, name)["oper-state-reason"]
        for name in others:
            assert now[name] == "up", now
        types = {a.key.type_id for a in manager.alarms.alarms()}
        assert not types & {FAILURE, "sdqn-alarms:out-of-band-change"}, types

        advance(net, clock, WARM_UP_S)                  # an end node's source warms up
        rounds(net, clock, manager, 6)
        alarm = manager.alarms.get(root)
        assert alarm is not None and alarm.cleared
        assert manager.pool.state(node)[1] is SyncState.IN_SYNC
        assert_recovered(store, manager, hit)
        assert not manager.alarms.active()


def test_a_crash_is_device_failure_from_the_neighbours_and_device_unreachable() -> None:
    """Unlike a lost session, a crash takes the data plane down: its neighbours report r3
    dead (device-failure, from the data plane) besides the lost session; the service
    through r3 is down. Powered up again, r3 is a rebooted device until it is back."""
    with metro_world() as world:
        store, manager, net, clock = world
        settled_world(world)
        hit = through(manager, "r3")
        manager.events.start()
        wait_until(lambda: "r3" in manager.events.subscribed, "r3 subscribed")
        failure = AlarmKey(manager.healer.node_resource("r3"), FAILURE)
        unreachable = AlarmKey(manager.healer.node_resource("r3"), UNREACHABLE)

        net.faults.apply(FaultRequest(kind=FaultKind.CRASH, target="r3"))
        wait_until(lambda: active(manager, unreachable), "device-unreachable raised")
        rounds(net, clock, manager, 1)
        manager.healer.heal_now()
        assert active(manager, failure)
        # its neighbours: r2 (its span and its fibre port) and dave (its fibre port)
        assert manager.healer.correlator.roots().reported_by("r3") == ("dave", "r2")
        assert all(states(store)[name] == "down" for name in hit), states(store)

        net.faults.apply(FaultRequest(kind=FaultKind.CRASH, target="r3", clear=True))
        wait_until(lambda: not active(manager, unreachable), "device-unreachable cleared")
        rounds(net, clock, manager, 1)
        manager.healer.heal_now()       # repaired: dqc is placed again
        assert not active(manager, failure)
        rounds(net, clock, manager, 4)
        restarted = manager.alarms.get(AlarmKey(manager.healer.node_resource("r3"),
                                                RESTARTED))
        assert restarted is not None and restarted.cleared
        advance(net, clock, WARM_UP_S)  # dave's source was switched off with dqc: warm-up
        rounds(net, clock, manager, 8)
        assert all(states(store)[name] == "up" for name in hit), states(store)


def device_running(net: Network, node: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(net.devices[node].store.get(Datastore.RUNNING))
    return next(iter(body.values()))
