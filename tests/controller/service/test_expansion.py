"""Q-NUM expansion inside the datastore transaction (renderer replaced by a recorder;
tests/controller/service/test_render.py covers the real renderer and the devices)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from controller.datastore.nmda import Datastore, NmdaStore
from controller.datastore.schema import Schema
from controller.errors import NetconfError
from controller.paths import CONFIG_DIR
from controller.service.manager import ServiceManager
from qnum.io import Network
from qnum.plan import Plan

TOPOLOGY = json.loads((CONFIG_DIR / "topologies" / "metro.json").read_text())
SERVICES = json.loads((CONFIG_DIR / "services" / "demo.json").read_text())
for _node in TOPOLOGY["ietf-network:networks"]["network"][0]["node"]:
    _node["sdqn-topology:quantum-node"].pop("management", None)   # no devices to push to


class Recorder:
    """Renders a document listing which admitted requests use each node."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self, network: Network, plan: Plan, *, kinds: Mapping[str, str],
                 previous: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
        self.calls += 1
        if self.fail:
            raise ValueError("cannot express this plan")
        users: dict[str, list[str]] = {n: [] for n in kinds}
        for a in plan.admitted:
            assert a.candidate is not None
            for node in a.candidate.route.nodes:
                users[node].append(a.request.name)
        return {n: {"t:dev": {"node-id": n, "serves": " ".join(sorted(u))}}
                for n, u in users.items()}


@pytest.fixture
def service(schema: Schema) -> Iterator[tuple[NmdaStore, ServiceManager, Recorder]]:
    store = NmdaStore(schema)
    manager = ServiceManager(store, time_limit_s=5, adapters={})
    recorder = Recorder()
    manager.expander._render = recorder
    manager.expander._to_xml = lambda doc: json.dumps(doc)
    yield store, manager, recorder
    manager.close()


def devices(store: NmdaStore) -> dict[str, list[str]]:
    data = json.loads(store.get(Datastore.INTENDED))
    return {d["node-id"]: d["configuration"]["t:dev"]["serves"].split()
            for d in data["sdqn-controller:controller"]["devices"]["device"]}


def request_state(store: NmdaStore) -> dict[str, dict[str, Any]]:
    data = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-services:entanglement-services"))
    return {r["name"]: r.get("state", {})
            for r in data["sdqn-services:entanglement-services"]["request"]}


def test_commit_expands_intent_into_device_configuration(service: tuple[NmdaStore,
                                                                        ServiceManager,
                                                                        Recorder]) -> None:
    store, _, _ = service
    store.edit_json(Datastore.RUNNING, TOPOLOGY)
    store.edit_json(Datastore.RUNNING, SERVICES)
    states = request_state(store)
    assert states["qkd-alice-bob"]["admission"] == "admitted"
    assert states["dqs-alice-dave"]["admission"] == "rejected"
    assert states["dqs-alice-dave"]["rejection-reason"]
    path = states["qkd-alice-bob"]["path"]
    serving = devices(store)
    assert all("qkd-alice-bob" in serving[n] for n in path)
    assert "dqs-alice-dave" not in {r for users in serving.values() for r in users}
    last = json.loads(store.get(Datastore.OPERATIONAL,
                                xpath="/sdqn-controller:controller/optimiser/last-solve"))
    assert last["sdqn-controller:controller"]["optimiser"]["last-solve"]["status"] in (
        "optimal", "feasible")
    # running is untouched by the expansion: operators' intent only
    assert "devices" not in json.loads(store.get(Datastore.RUNNING)).get(
        "sdqn-controller:controller", {})


def test_withdrawing_a_request_keeps_the_others_in_place(service: tuple[NmdaStore,
                                                                        ServiceManager,
                                                                        Recorder]) -> None:
    store, _, _ = service
    store.edit_json(Datastore.RUNNING, TOPOLOGY)
    store.edit_json(Datastore.RUNNING, SERVICES)
    before = request_state(store)
    store.edit_json(Datastore.RUNNING, {"sdqn-services:entanglement-services": {"request": [
        {"@": {"ietf-netconf:operation": "delete"}, "name": "teleport-bob-charlie"}]}})
    after = request_state(store)
    assert "teleport-bob-charlie" not in after
    assert after["qkd-alice-bob"]["path"] == before["qkd-alice-bob"]["path"]
    assert "teleport-bob-charlie" not in {r for u in devices(store).values() for r in u}


def test_expansion_failure_leaves_running_and_intended(service: tuple[NmdaStore,
                                                                      ServiceManager,
                                                                      Recorder]) -> None:
    store, _, recorder = service
    store.edit_json(Datastore.RUNNING, TOPOLOGY)
    store.edit_json(Datastore.RUNNING, SERVICES)
    running, intended = store.get(Datastore.RUNNING), store.get(Datastore.INTENDED)
    recorder.fail = True
    with pytest.raises(NetconfError) as info:
        store.edit_json(Datastore.RUNNING, {"sdqn-services:entanglement-services": {
            "request": [{"name": "qkd-alice-bob", "demanded-rate": "50.0"}]}})
    assert "cannot express this plan" in info.value.first.message
    assert store.get(Datastore.RUNNING) == running
    assert store.get(Datastore.INTENDED) == intended


def test_reexpand_without_running_change(service: tuple[NmdaStore, ServiceManager, Recorder]
                                         ) -> None:
    store, _, recorder = service
    store.edit_json(Datastore.RUNNING, TOPOLOGY)
    calls = recorder.calls
    store.reexpand()
    assert recorder.calls == calls + 1


def test_non_quantum_networks_are_not_optimised(service: tuple[NmdaStore, ServiceManager,
                                                               Recorder]) -> None:
    store, _, recorder = service
    store.edit_json(Datastore.RUNNING, {"ietf-network:networks": {"network": [
        {"network-id": "lab", "node": [{"node-id": "n1"}]}]}})
    assert recorder.calls == 0
    assert "sdqn-controller:controller" not in json.loads(store.get(Datastore.INTENDED))


def test_entries_on_a_failed_fibre_stay_configured_even_before_they_report(
        world: tuple[NmdaStore, ServiceManager, Any, Any]) -> None:
    """A report of the cut may still be on its way when the re-route is computed: every
    generation entry starting on the failed fibre keeps watching it, so its clearing
    report can announce the repair."""
    from controller.service.health import NetworkHealth

    store, manager, net, _clock = world

    def entries(node: str) -> set[str]:
        body = json.loads(net.devices[node].store.get(Datastore.RUNNING))
        return {e["link-id"] for e in body["sdqn-repeater:repeater"]
                .get("link-generation", {}).get("link", [])}

    assert "r1-r2" in entries("r1") and "r1-r2" in entries("r2")
    manager.expander.health = NetworkHealth(failed_links=frozenset({"r1-r2"}))
    store.reexpand()
    plan = manager.expander.committed.plan
    assert plan is not None
    assert all("r1-r2" not in a.candidate.route.links for a in plan.admitted if a.candidate)
    assert "r1-r2" in entries("r1") and "r1-r2" in entries("r2")   # nobody had reported


def test_a_request_beyond_the_declared_route_length_is_refused(
        service: tuple[NmdaStore, ServiceManager, Recorder]) -> None:
    """The optimiser's space holds routes of at most max-route-hops fibres: lowering it
    below what a configured request needs is refused with the request named, and nothing
    changes."""
    store, _, _ = service
    store.edit_json(Datastore.RUNNING, TOPOLOGY)
    store.edit_json(Datastore.RUNNING, SERVICES)
    running, intended = store.get(Datastore.RUNNING), store.get(Datastore.INTENDED)
    with pytest.raises(NetconfError) as info:
        store.edit_json(Datastore.RUNNING, {"sdqn-controller:controller": {
            "optimiser": {"max-route-hops": 1}}})
    message = info.value.first.message
    assert "max-route-hops (1)" in message and "request[name='" in message
    assert store.get(Datastore.RUNNING) == running
    assert store.get(Datastore.INTENDED) == intended
