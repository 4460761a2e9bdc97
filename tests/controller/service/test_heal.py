"""Self-healing on the emulated metro network: a cut → one root alarm, re-route of what it
hit (and nothing else), repair → alarms cleared; an access cut → service down."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.service.alarms import AlarmKey
from controller.service.apc_spec import OUT_OF_SPEC
from simulators.faults import FaultKind, FaultRequest
from simulators.launcher import Network
from tests.controller.service.conftest import World, advance, cut_fibre, metro_world, started


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with metro_world() as w:
        yield started(w)




def path(store: NmdaStore, name: str) -> list[str]:
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath=f"/sdqn-services:entanglement-services/request"
                                      f"[name='{name}']/state"))
    return list(data["sdqn-services:entanglement-services"]["request"][0]["state"]
                .get("path", []))


def alarm_list(store: NmdaStore) -> list[dict[str, Any]]:
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/ietf-alarms:alarms/alarm-list")
                      or "{}")
    return list(data.get("ietf-alarms:alarms", {}).get("alarm-list", {}).get("alarm", []))


def device_config(net: Network, node: str) -> str:
    return net.devices[node].store.get(Datastore.RUNNING)


def roadm_parts(net: Network, node: str, exclude: str) -> dict[str, Any]:
    """A q-ROADM's cross-connects of every flow but `exclude`, and the add/drop ports
    they use (number, attached node, fibre)."""
    body = json.loads(device_config(net, node))["sdqn-qroadm:q-roadm"]
    connects = [c for c in body.get("circuit", {}).get("cross-connect", [])
                if not str(c["name"]).startswith(exclude)]
    used = {side["add-drop-port"] for c in connects
            for side in (c["source"], c["destination"]) if "add-drop-port" in side}
    ports = [p for p in body.get("add-drop-port", []) if p["port-number"] in used]
    return {"cross-connects": connects, "ports": ports}


def test_qcnoc_metrics_per_link_and_node_are_learned_state(world: World) -> None:
    store, manager, _net, _clock = world
    manager.telemetry.poll_once()
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/ietf-network:networks",
                                with_origin=True))
    net = data["ietf-network:networks"]["network"][0]
    links = {lk["link-id"]: lk["sdqn-topology:quantum-link"].get("state", {})
             for lk in net["ietf-network-topology:link"]}
    r1r2 = links["r1-r2"]
    fidelity = float(r1r2["measured-fidelity"])
    assert 0.9 < fidelity <= 1.0 and float(r1r2["generation-rate"]) > 0
    assert float(r1r2["qber"]) == pytest.approx(2 * (1 - fidelity) / 3, abs=1e-6)
    assert r1r2["oper-status"] == "sdqn-types:up"
    assert "polarisation-drift-rate" in r1r2          # apc-1 compensates r1-r2
    nodes = {n["node-id"]: n["sdqn-topology:quantum-node"].get("state", {})
             for n in net["node"]}
    assert nodes["r1"]["stable"] is True and nodes["r1"]["memory-in-use"] >= 0
    text = json.dumps(data)
    assert "ietf-origin:learned" in text


def test_core_cut_reroutes_only_what_it_hit_with_one_root_alarm(world: World) -> None:
    store, _manager, net, _clock = world
    before = {n: path(store, n) for n in ("qkd-alice-bob", "dqc-charlie-dave",
                                          "teleport-bob-charlie")}
    assert before["qkd-alice-bob"] == ["alice", "r1", "r2", "bob"]
    untouched = {n: device_config(net, n) for n in ("r3", "dave", "charlie")}
    others_on_qr1 = roadm_parts(net, "qr1", exclude="qkd-alice-bob")
    report = cut_fibre(world, "r1-r2")
    assert report.error is None
    assert report.roots.failed_links == frozenset({"r1-r2"})
    assert set(report.roots.reported_by("r1-r2")) == {"r1", "r2"}   # two reports, one root
    assert report.affected == ["qkd-alice-bob"]
    assert report.rerouted == ["qkd-alice-bob"] and report.touched_unaffected == []
    assert report.seconds < 10
    assert "r1-r2" not in "".join(path(store, "qkd-alice-bob"))
    assert path(store, "qkd-alice-bob")[1:-1] == ["r1", "qr1", "r2"]
    for name in ("dqc-charlie-dave", "teleport-bob-charlie"):
        assert path(store, name) == before[name]
    assert {n: device_config(net, n) for n in untouched} == untouched   # not even re-pushed
    # qkd now crosses qr1: the other flows' cross-connects and add/drop ports there are
    # exactly as they were (no renumbering)
    assert roadm_parts(net, "qr1", exclude="qkd-alice-bob") == others_on_qr1
    assert "dave" not in report.pushed
    alarms = {(a["alarm-type-id"].split(":")[-1], a["is-cleared"]): a for a in alarm_list(store)}
    root = alarms[("fibre-cut", False)]
    assert "link-id='r1-r2'" in root["resource"]
    assert sum(1 for a in alarm_list(store) if not a["is-cleared"]) == 2   # root + derived
    derived = alarms[("service-rerouted", False)]
    assert "qkd-alice-bob" in derived["resource"]
    assert derived.get("root-cause-resource") == [root["resource"]]

    report = cut_fibre(world, "r1-r2", clear=True)
    assert report.error is None and report.affected == []
    assert report.touched_unaffected == []                 # a repair moves no live service
    assert all(a["is-cleared"] for a in alarm_list(store))


def test_access_cut_takes_its_service_down_with_a_derived_alarm(world: World) -> None:
    store, _manager, _net, _clock = world
    report = cut_fibre(world, "alice-r1")
    assert report.affected == ["qkd-alice-bob"] and report.dropped == ["qkd-alice-bob"]
    active = {a["alarm-type-id"].split(":")[-1] for a in alarm_list(store)
              if not a["is-cleared"]}
    assert active == {"fibre-cut", "service-down"}
    report = cut_fibre(world, "alice-r1", clear=True)
    assert report.restored == ["qkd-alice-bob"]
    assert all(a["is-cleared"] for a in alarm_list(store))


def test_a_cut_of_a_fibre_no_service_uses_is_seen_by_the_ports_at_its_ends(
        world: World) -> None:
    """No link-generation entry watches r1-qr1: the fibre port of r1 still sees the cut
    (one root alarm, nothing moved) and its repair."""
    store, manager, net, clock = world
    names = ("qkd-alice-bob", "dqc-charlie-dave", "teleport-bob-charlie")
    before = {n: path(store, n) for n in names}
    assert not any({"r1", "qr1"} <= set(p) for p in before.values()), before
    done = len(manager.healer.reports)
    net.faults.apply(FaultRequest(kind=FaultKind.FIBRE_CUT, target="r1-qr1"))
    advance(net, clock, 1.0, step=1.0)
    manager.telemetry.poll_once()                       # no notification: the ports say it
    rounds = manager.healer.wait_rounds(done, 30)
    assert manager.healer.wait_idle(30)
    assert [r.roots.failed_links for r in rounds] == [frozenset({"r1-qr1"})]
    assert set(rounds[0].roots.reported_by("r1-qr1")) == {"r1"}
    assert rounds[0].affected == [] and rounds[0].touched_unaffected == []
    active = [a for a in alarm_list(store) if not a["is-cleared"]]
    assert [(a["alarm-type-id"], a["resource"].rsplit("=", 1)[-1]) for a in active] == [
        ("sdqn-alarms:fibre-cut", "'r1-qr1']")]
    assert {n: path(store, n) for n in names} == before

    done = len(manager.healer.reports)
    net.faults.apply(FaultRequest(kind=FaultKind.FIBRE_CUT, target="r1-qr1", clear=True))
    advance(net, clock, 1.0, step=1.0)
    manager.telemetry.poll_once()
    manager.healer.wait_rounds(done, 30)
    assert manager.healer.wait_idle(30)
    assert all(a["is-cleared"] for a in alarm_list(store))
    assert {n: path(store, n) for n in names} == before


def test_out_of_band_edit_is_reverted_with_an_alarm(world: World) -> None:
    store, manager, net, _clock = world
    intended = device_config(net, "r3")
    net.faults.apply(FaultRequest(kind=FaultKind.OOB_EDIT, target="r3"))
    assert device_config(net, "r3") != intended
    events = manager.oob.run_once()
    assert [(e.node_id, e.action.value, e.success) for e in events] == [("r3", "revert", True)]
    assert device_config(net, "r3") == intended
    oob = [a for a in alarm_list(store)
           if a["alarm-type-id"].endswith("out-of-band-change")]
    assert len(oob) == 1 and oob[0]["is-cleared"] is True
    assert oob[0]["alarm-type-qualifier"] == "revert" and "node-id='r3'" in oob[0]["resource"]
    assert manager.oob.run_once() == []                   # in sync again: nothing to do


def test_a_live_service_moved_off_a_degraded_core_fibre_makes_before_it_breaks(
        world: World) -> None:
    store, manager, net, clock = world
    before = path(store, "dqc-charlie-dave")
    assert before == ["charlie", "qr1", "r2", "r3", "dave"]
    rep = "urn:sdqn:sdqn-repeater"
    low = (f'<repeater xmlns="{rep}"><link-generation><link><link-id>r2-r3</link-id>'
           "<state><oper-status>up</oper-status><fidelity-estimate>0.800000</fidelity-estimate>"
           "</state></link></link-generation></repeater>")
    done = len(manager.healer.reports)
    released = len(manager.releases)
    manager.healer.on_readings({"r2": low})
    assert manager.healer.wait_idle(30)
    report = manager.healer.reports[done]
    assert report.affected == ["dqc-charlie-dave"] and report.rerouted == ["dqc-charlie-dave"]
    after = path(store, "dqc-charlie-dave")
    assert "r2" not in after
    expansion = manager.expander.committed
    assert expansion.moving == ["dqc-charlie-dave"] and "r2" in expansion.bridges
    # Make: r2 still carries the old flow (the old path keeps delivering) ...
    r2 = json.loads(device_config(net, "r2"))["sdqn-repeater:repeater"]
    assert "dqc-charlie-dave" in {f["flow-id"] for f in r2.get("flow", [])}
    # ... break: once the new path is stable, the old pieces go.
    deadline = time.monotonic() + 60
    while len(manager.releases) == released and time.monotonic() < deadline:
        advance(net, clock, 30, step=30)
        time.sleep(0.3)
    assert manager.releases[-1][1] is True
    r2 = json.loads(device_config(net, "r2"))["sdqn-repeater:repeater"]
    assert "dqc-charlie-dave" not in {f["flow-id"] for f in r2.get("flow", [])}
    assert manager.bridging == {}
    manager.healer.on_readings({"r2": low.replace("0.800000", "0.970000")})   # recovered
    assert manager.healer.wait_idle(30)
    assert all(a["is-cleared"] for a in alarm_list(store))


def test_uncompensated_fidelity_crossing_replans_with_the_measured_value(world: World) -> None:
    store, manager, _net, _clock = world
    before = path(store, "dqc-charlie-dave")
    assert "r3" in before
    rep = "urn:sdqn:sdqn-repeater"
    low = (f'<repeater xmlns="{rep}"><link-generation><link><link-id>r3-dave</link-id>'
           "<state><oper-status>up</oper-status><fidelity-estimate>0.700000</fidelity-estimate>"
           "</state></link></link-generation></repeater>")
    fired: list[tuple[str, float, str | None]] = []
    manager.healer.on_threshold.append(lambda *args: fired.append(args))
    done = len(manager.healer.reports)
    manager.healer.on_readings({"r3": low})
    assert manager.healer.wait_idle(30)
    report = manager.healer.reports[done]
    assert fired == [("r3-dave", 0.7, None)]
    assert report.affected == ["dqc-charlie-dave"] and report.touched_unaffected == []
    assert report.dropped == ["dqc-charlie-dave"]   # F 0.7 on its only access fibre: no way
    active = {a["alarm-type-id"].split(":")[-1]: a for a in alarm_list(store)
              if not a["is-cleared"]}
    assert sorted(active) == ["fidelity-threshold", "service-down"]
    assert active["service-down"]["root-cause-resource"] == [
        active["fidelity-threshold"]["resource"]]
    manager.healer.on_readings({"r3": low})          # still low: no new alarm, no new round
    assert manager.healer.wait_idle(30) and len(manager.healer.reports) == done + 1
    manager.healer.on_readings({"r3": low.replace("0.700000", "0.970000")})
    assert manager.healer.wait_idle(30)
    assert manager.healer.reports[-1].restored == ["dqc-charlie-dave"]
    restored = path(store, "dqc-charlie-dave")       # served again (on its best route now)
    assert restored[0] == "charlie" and restored[-2:] == ["r3", "dave"]
    assert all(a["is-cleared"] for a in alarm_list(store))


def test_drift_on_a_compensated_fibre_gets_an_urgent_calibration(world: World) -> None:
    """Drift shows first as the APC going out of spec or QBER rising (the scheduler's
    triggers), at the latest as a fidelity crossing (the healer's, handed to the
    scheduler): either way one forced calibration, and the fibre is good again."""
    store, manager, net, clock = world
    before = len(manager.calibration.events)
    net.faults.apply(FaultRequest(kind=FaultKind.DRIFT_SURGE, target="apc-1"))
    urgent: list[Any] = []
    for _ in range(40):
        advance(net, clock, 30, step=30)
        manager.telemetry.poll_once()
        urgent = [e for e in list(manager.calibration.events)[before:]
                  if e.reason.startswith("urgent") and e.apc == "apc-1"]
        if urgent:
            break
    assert urgent and urgent[0].force and urgent[0].result in ("started", "busy")
    for _ in range(10):                  # 30 simulated s of calibration, then tracking
        advance(net, clock, 10, step=10)
        manager.telemetry.poll_once()
    assert not [a for a in alarm_list(store) if not a["is-cleared"]
                and a["alarm-type-id"].endswith(("fidelity-threshold", "calibration-failed"))]
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/ietf-network:networks"))
    links = {lk["link-id"]: lk["sdqn-topology:quantum-link"].get("state", {})
             for lk in data["ietf-network:networks"]["network"][0]
             ["ietf-network-topology:link"]}
    assert float(links["r1-r2"]["measured-fidelity"]) >= 0.9
    started = [e for e in list(manager.calibration.events)[before:]
               if e.reason.startswith("urgent") and e.result == "started"]
    assert len(started) == 1                   # no hammering while it calibrates


def test_a_threshold_alarm_on_a_fibre_no_longer_measured_clears(world: World) -> None:
    """A fidelity crossing on a fibre nobody measures any more (its traffic moved, its
    repeater went quiet) is not left standing: after stale-after-rounds rounds without a
    measurement it clears as no longer monitored, and its stale value stops steering."""
    store, manager, _net, _clock = world
    rep = "urn:sdqn:sdqn-repeater"
    low = (f'<repeater xmlns="{rep}"><link-generation><link><link-id>r3-dave</link-id>'
           "<state><oper-status>up</oper-status><fidelity-estimate>0.700000</fidelity-estimate>"
           "</state></link></link-generation></repeater>")
    quiet = f'<repeater xmlns="{rep}"><link-generation/></repeater>'
    manager.healer.on_readings({"r3": low})
    assert manager.healer.wait_idle(30)

    def fidelity_alarm() -> dict[str, Any]:
        return next(a for a in alarm_list(store)
                    if a["alarm-type-id"].endswith("fidelity-threshold")
                    and "r3-dave" in a["resource"])

    assert fidelity_alarm()["is-cleared"] is False
    for _ in range(2):
        manager.healer.on_readings({"r3": quiet})
    assert fidelity_alarm()["is-cleared"] is False        # not yet stale (default 3 rounds)
    manager.healer.on_readings({"r3": quiet})
    assert manager.healer.wait_idle(30)
    alarm = fidelity_alarm()
    assert alarm["is-cleared"] is True
    assert "no longer monitored" in alarm["alarm-text"]
    assert manager.expander.health.link_fidelity == {}     # the stale 0.7 steers nothing


def test_an_apc_out_of_spec_notification_raises_its_alarm_before_the_next_round(
        world: World) -> None:
    """The device event stream delivers the APC's out-of-spec notification: its root alarm
    and the impairment of its fibre come at once, not at the next telemetry round."""
    _store, manager, net, _clock = world
    key = AlarmKey(manager.healer.node_resource("apc-2"), OUT_OF_SPEC)
    fault = FaultRequest(kind=FaultKind.APC_OUT_OF_SPEC, target="apc-2")

    def active() -> bool:
        alarm = manager.alarms.get(key)
        return alarm is not None and not alarm.cleared

    net.faults.apply(fault)
    deadline = time.monotonic() + 10
    while not active() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert active() and list(manager.apc_spec.impaired_links()) == ["qr1-r2"]
    net.faults.apply(fault.model_copy(update={"clear": True}))
    deadline = time.monotonic() + 10
    while active() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not active() and manager.apc_spec.impaired_links() == {}
