"""Pre-provisioning on the emulated metro network: a device can be in running before it
answers, or locked (sdqn-topology management/admin-state). Out of service, it carries no
service and gets no push, yet its configuration is in <intended>; once it answers (or is
unlocked) the controller pushes it that configuration without any commit, and later plans
may use it. A locked device's emulator never sees a session."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.errors import NetconfError
from controller.netconf.server import NetconfServer
from controller.service.admin_state import exclusions
from controller.service.manager import ServiceManager
from simulators.launcher import Network
from southbound.model import DeviceEndpoint, Exclusion
from tests.controller.service.conftest import World, metro_world

NODE = "r3"          # the only way to dave: dqc-charlie-dave needs it
DQC = "dqc-charlie-dave"


def set_admin_state(node: str, state: str) -> Callable[[dict[str, Any]], None]:
    def edit(topology: dict[str, Any]) -> None:
        for entry in topology["ietf-network:networks"]["network"][0]["node"]:
            if entry["node-id"] == node:
                entry["sdqn-topology:quantum-node"]["management"]["admin-state"] = state
    return edit


def commit_admin_state(store: NmdaStore, node: str, state: str) -> None:
    result = store.edit_json(Datastore.RUNNING, {"ietf-network:networks": {"network": [{
        "network-id": "metro", "node": [{"node-id": node, "sdqn-topology:quantum-node": {
            "management": {"admin-state": state}}}]}]}})
    assert not result.errors, result.errors


def route_nodes(manager: ServiceManager) -> dict[str, list[str]]:
    plan = manager.expander.committed.plan
    assert plan is not None
    return {a.request.name: list(a.candidate.route.nodes) for a in plan.admitted
            if a.candidate is not None}


def unconfigured(manager: ServiceManager, net: Network, node: str) -> list[dict[str, Any]]:
    """What the device's running configuration lacks of its intended one (libyang diff
    with the device's schema; empty when it runs exactly its intended configuration)."""
    want = manager.oob.intended_xml(node)
    assert want is not None, f"{node} has no intended configuration"
    have = net.devices[node].store.get(Datastore.RUNNING, fmt="xml")
    return manager.oob.schemas.diff(have, want, manager.pool.endpoint(node).modules)


def southbound_entry(store: NmdaStore, node: str) -> dict[str, Any]:
    data = json.loads(store.get(
        Datastore.OPERATIONAL,
        xpath=f"/sdqn-controller:controller/southbound/device[node-id='{node}']") or "{}")
    entries = data.get("sdqn-controller:controller", {}).get("southbound", {}).get("device", [])
    assert len(entries) == 1, data
    return dict(entries[0])


def alarms_on(store: NmdaStore, node: str) -> dict[str, bool]:
    """type → is-cleared, for the alarms on the node."""
    data = json.loads(store.get(Datastore.OPERATIONAL, xpath="/ietf-alarms:alarms/alarm-list")
                      or "{}")
    return {a["alarm-type-id"].split(":")[-1]: a["is-cleared"]
            for a in data.get("ietf-alarms:alarms", {}).get("alarm-list", {}).get("alarm", [])
            if a["resource"].endswith(f"node[node-id='{node}']")}


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def server(net: Network, node: str) -> NetconfServer:
    running = net.devices[node].server
    assert isinstance(running, NetconfServer)
    return running


def sessions_opened(net: Network, node: str) -> int:
    """NETCONF sessions the device's server ever accepted (RFC 6022 in-sessions)."""
    return server(net, node).core.stats.in_sessions


def leftover(net: Network) -> None:
    """r3 as it arrives: a setting left over from staging, so that whether it got its
    intended configuration shows."""
    net.devices[NODE].edit_out_of_band(
        {"sdqn-repeater:repeater": {"swap-success-probability": "0.5"}})


def staged(net: Network) -> None:
    """r3 arriving, its NETCONF server not answering yet (its management plane is down
    from the start; it answers on the same port later)."""
    leftover(net)
    net.devices[NODE].lose_sessions()


@pytest.fixture
def not_answering() -> Iterator[World]:
    """The metro network committed while r3 does not answer."""
    with metro_world(prepare=staged) as world:
        yield world


def test_a_device_that_does_not_answer_is_committed_and_configured_once_it_answers(
        not_answering: World) -> None:
    store, manager, net, _clock = not_answering
    committed = manager.expander.committed
    assert committed.excluded == {NODE: Exclusion.UNREACHABLE}
    assert all(NODE not in nodes for nodes in route_nodes(manager).values())
    assert DQC not in route_nodes(manager)                  # dave is only reached via r3
    assert NODE not in manager.last_pushed and NODE not in manager.pool.node_ids
    assert unconfigured(manager, net, NODE)         # intended holds it; the device not yet
    assert southbound_entry(store, NODE)["plan-exclusion"] == "unreachable"

    manager.start()
    wait_for(lambda: alarms_on(store, NODE).get("device-unreachable") is False)
    assert "device-failure" not in alarms_on(store, NODE)    # not a failure
    commits = len(manager.healer.reports)
    live = route_nodes(manager)

    net.devices[NODE].restore_sessions()
    wait_for(lambda: NODE in manager.provisioning.joined)
    assert unconfigured(manager, net, NODE) == []           # pushed, without a commit
    assert manager.expander.committed.excluded == {}
    assert NODE in manager.pool.node_ids
    assert manager.oob.sync.compare_config(NODE).diff == []  # over its NETCONF session too
    assert alarms_on(store, NODE) == {"device-unreachable": True}
    wait_for(lambda: "plan-exclusion" not in southbound_entry(store, NODE), timeout=10)
    assert len(manager.healer.reports) == commits            # no self-healing involved
    assert NODE in route_nodes(manager).get(DQC, [])         # the plan may use it now
    assert {name: route_nodes(manager)[name] for name in live} == live   # nothing moved


@pytest.fixture
def locked() -> Iterator[World]:
    """The metro network committed with r3 locked, its emulator running."""
    with metro_world(prepare=leftover, topology=set_admin_state(NODE, "locked")) as world:
        yield world


def test_a_locked_device_is_never_contacted_and_unlocking_pushes_it(locked: World) -> None:
    store, manager, net, _clock = locked
    assert manager.expander.committed.excluded == {NODE: Exclusion.LOCKED}
    assert all(NODE not in nodes for nodes in route_nodes(manager).values())
    assert unconfigured(manager, net, NODE)
    manager.start()
    manager.telemetry.poll_once()            # every loop that talks to devices, once
    manager.oob.run_once()
    manager.provisioning.run_once()
    manager.pool.connect_all()
    wait_for(lambda: len(manager.events.subscribed) == len(net.devices) - 1)
    assert sessions_opened(net, NODE) == 0
    entry = southbound_entry(store, NODE)
    assert (entry["plan-exclusion"], entry["connection-state"]) == ("locked", "disconnected")
    assert "device-unreachable" not in alarms_on(store, NODE)

    commit_admin_state(store, NODE, "unlocked")
    wait_for(lambda: NODE in manager.provisioning.joined)
    assert sessions_opened(net, NODE) > 0
    assert unconfigured(manager, net, NODE) == []
    assert manager.expander.committed.excluded == {}
    assert NODE in route_nodes(manager).get(DQC, [])


def test_locking_a_device_on_a_service_path_replans_without_contacting_it() -> None:
    with metro_world() as (store, manager, net, _clock):
        assert NODE in route_nodes(manager)[DQC]
        manager.start()
        wait_for(lambda: len(manager.events.subscribed) == len(net.devices))
        device_before = net.devices[NODE].store.get(Datastore.RUNNING)

        # make-before-break-only (the default): it would lose its path, so the lock is
        # refused, naming the service and the device; nothing changes.
        with pytest.raises(NetconfError) as refused:
            commit_admin_state(store, NODE, "locked")
        assert f"service {DQC} would lose its path (node {NODE} is locked)" \
            in str(refused.value)
        assert NODE in route_nodes(manager)[DQC]
        store.edit_json(Datastore.RUNNING, {"sdqn-services:entanglement-services": {
            "request": [{"name": DQC, "live-move": "free"}]}})
        commit_admin_state(store, NODE, "locked")
        running = json.loads(store.get(Datastore.RUNNING))
        assert manager.expander.excluded_nodes(running) == {NODE: Exclusion.LOCKED}
        assert DQC not in route_nodes(manager)           # re-planned: no path avoids r3
        assert NODE not in manager.last_pushed
        wait_for(lambda: not server(net, NODE).session_ids())   # its streams closed
        opened = sessions_opened(net, NODE)
        manager.telemetry.poll_once()
        manager.oob.run_once()
        assert sessions_opened(net, NODE) == opened
        assert net.devices[NODE].store.get(Datastore.RUNNING) == device_before
        assert "device-unreachable" not in alarms_on(store, NODE)


# -- the rules, without a network ----------------------------------------------------------

def endpoint(node: str, port: int = 830) -> DeviceEndpoint:
    return DeviceEndpoint.model_validate({"node-id": node, "port": port})


def test_only_devices_not_in_service_are_tried_and_a_just_unlocked_one_is_not() -> None:
    asked: list[str] = []

    def reachability(eps: Any) -> dict[str, str | None]:
        asked.extend(ep.node_id for ep in eps)
        return {ep.node_id: None if ep.node_id == "new-up" else "refused" for ep in eps}

    got = exclusions(
        [endpoint(n) for n in ("in", "lost", "new-up", "new-down", "unlocked", "locked",
                               "waiting")],
        {"locked"}, in_service={"in", "lost"},
        before={"unlocked": Exclusion.LOCKED, "waiting": Exclusion.UNREACHABLE},
        reachability=reachability)
    assert got == {"locked": Exclusion.LOCKED, "unlocked": Exclusion.UNREACHABLE,
                   "new-down": Exclusion.UNREACHABLE, "waiting": Exclusion.UNREACHABLE}
    assert sorted(asked) == ["new-down", "new-up", "waiting"]
