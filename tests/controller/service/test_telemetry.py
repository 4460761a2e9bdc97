"""Operational sync on the emulated metro network: stabilising → up, measured values, down."""

from __future__ import annotations

import json
from typing import Any

from controller.datastore.nmda import Datastore, NmdaStore
from controller.service.manager import ServiceManager
from simulators.clock import ManualClock
from simulators.launcher import Network
from tests.controller.service.conftest import advance


def states(store: NmdaStore) -> dict[str, dict[str, Any]]:
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-services:entanglement-services"))
    return {r["name"]: r.get("state", {})
            for r in data["sdqn-services:entanglement-services"]["request"]}


def test_services_come_up_only_when_their_path_is_stable(
        world: tuple[NmdaStore, ServiceManager, Network, ManualClock]) -> None:
    store, manager, net, clock = world
    admitted = [n for n, s in states(store).items() if s["admission"] == "admitted"]
    assert len(admitted) == 3
    early = manager.telemetry.poll_once()
    assert {early[n]["oper-state"] for n in admitted} == {"stabilising"}  # lasers warming
    advance(net, clock, 400)
    late = manager.telemetry.poll_once()
    current = states(store)
    for name in admitted:
        assert float(current[name]["measured-rate"]) > 0
        assert 0.5 < float(current[name]["measured-fidelity"]) <= 1
        assert current[name]["oper-state"] == late[name]["oper-state"]
    assert late["qkd-alice-bob"]["oper-state"] == "up"
    assert late["teleport-bob-charlie"]["oper-state"] == "up"
    # The plan purifies DQC end to end (2 rounds) and the end nodes run them: it arrives
    # above its 0.95 minimum.
    assert late["dqc-charlie-dave"]["oper-state"] == "up"
    assert float(current["dqc-charlie-dave"]["measured-fidelity"]) >= 0.95
    assert current["dqs-alice-dave"]["admission"] == "rejected"
    assert "measured-rate" not in current["dqs-alice-dave"]


def test_a_crashed_device_takes_its_services_down(
        world: tuple[NmdaStore, ServiceManager, Network, ManualClock]) -> None:
    _, manager, net, clock = world
    advance(net, clock, 400)
    manager.telemetry.poll_once()
    net.devices["r3"].crash()          # only dqc-charlie-dave goes through r3
    advance(net, clock, 5)             # its neighbour r2 sees the span die (the data
    after = manager.telemetry.poll_once()   # plane; an unreadable device alone is not)
    assert after["dqc-charlie-dave"]["oper-state"] == "down"
    assert after["qkd-alice-bob"]["oper-state"] == "up"
    assert after["teleport-bob-charlie"]["oper-state"] == "up"


def link_state(store: NmdaStore, link: str) -> dict[str, Any]:
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath=(
        "/ietf-network:networks/network/ietf-network-topology:link"
        f"[link-id='{link}']/sdqn-topology:quantum-link/state")))
    links = data["ietf-network:networks"]["network"][0]["ietf-network-topology:link"]
    state: dict[str, Any] = links[0]["sdqn-topology:quantum-link"]["state"]
    return state


def test_measured_values_carry_their_time_and_go_stale(
        world: tuple[NmdaStore, ServiceManager, Network, ManualClock]) -> None:
    store, manager, net, clock = world
    advance(net, clock, 400)
    manager.telemetry.poll_once()
    qkd = states(store)["qkd-alice-bob"]
    assert qkd["last-updated"] and qkd["stale"] is False and "measured-qber" in qkd
    assert link_state(store, "r1-r2")["stale"] is False
    net.devices["alice"].crash()       # alice's endpoint and r1's report go quiet ...
    net.devices["r1"].crash()
    advance(net, clock, 5)             # ... and r2 reports r1 down
    for _ in range(3):
        manager.telemetry.poll_once()
    qkd = states(store)["qkd-alice-bob"]
    assert qkd["stale"] is True and qkd["oper-state"] == "down"
    assert link_state(store, "alice-r1")["stale"] is True
    assert link_state(store, "r2-bob")["stale"] is False      # r2 still measures it


def test_a_commit_that_does_not_touch_a_service_leaves_its_state_alone(
        world: tuple[NmdaStore, ServiceManager, Network, ManualClock]) -> None:
    store, manager, net, clock = world
    advance(net, clock, 400)
    manager.telemetry.poll_once()
    before = states(store)["qkd-alice-bob"]
    assert before["oper-state"] == "up"
    store.edit_json(Datastore.RUNNING, {"sdqn-controller:controller": {
        "optimiser": {"fidelity-alarm-threshold": "0.85"}}})         # a policy-only commit
    after = states(store)["qkd-alice-bob"]
    assert (after["oper-state"], after["last-change"], after["oper-state-reason"]) == (
        before["oper-state"], before["last-change"], before["oper-state-reason"])


class SlowObserver:
    """An observer that takes `seconds` (an observer stalled on a lock, say)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, _readings: dict[str, str], _at: float) -> None:
        import time

        time.sleep(self.seconds)


def test_a_round_that_overruns_its_interval_says_where_the_time_went(
        world: tuple[NmdaStore, ServiceManager, Network, ManualClock]) -> None:
    from structlog.testing import capture_logs

    from controller.service.telemetry import observer_name

    _, manager, _, _ = world
    loop = manager.telemetry
    loop.observers.append(SlowObserver(0.3))
    loop._loop.interval_s = 0.2
    with capture_logs() as logs:
        loop.poll_once()
    overran = [e for e in logs if e["event"] == "telemetry round overran its interval"]
    assert len(overran) == 1 and overran[0]["log_level"] == "warning", logs
    entry = overran[0]
    assert entry["SlowObserver"] >= 0.3 and entry["took_s"] >= entry["SlowObserver"]
    assert entry["slowest_device"] in manager.pool.node_ids and "read" in entry
    assert entry["overruns"] == 1
    with capture_logs() as logs:                 # again within the minute: counted only
        loop.poll_once()
    assert not [e for e in logs if e["log_level"] == "warning"], logs
    loop._warned_at -= 60.0                      # a minute later: warned, with the count
    with capture_logs() as logs:
        loop.poll_once()
    assert [e["overruns"] for e in logs if e["log_level"] == "warning"] == [2]
    loop._loop.interval_s = 60.0                 # within its interval: not an overrun
    loop._warned_at -= 60.0
    with capture_logs() as logs:
        loop.poll_once()
    assert not [e for e in logs if e["log_level"] == "warning"] and loop._overruns == 0
    assert observer_name(manager.healer.on_readings) == f"{type(manager.healer).__name__}" \
        ".on_readings"
    assert observer_name(lambda _r, _t: None).startswith("lambda@test_telemetry.py:")
